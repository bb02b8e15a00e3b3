"""StackeryTopic: an SNS topic (Stackery's PubSub Topic node), always encrypted, with subscriptions.

Stackery: Topic → Function (`Events: SNS`) and Topic → Queue (an SNS subscription plus the queue's
policy). Here `subscriptions` name the StackeryFunctions and StackeryQueues of this namespace; the topic
adds exactly the permission each needs (an invoke statement on the function, a send statement in the
queue's policy, both limited to this topic) and removes them when the subscription goes. A node
connected to the topic gets TOPIC_NAME, TOPIC_ARN and sns:Publish on it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model
from .queue import DEDUP_NEEDS_FIFO, FIFO_IMMUTABLE


class Subscription(Model):
    """One subscriber: a StackeryFunction or a StackeryQueue of this namespace."""

    function: str | None = Field(
        default=None, pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryFunction invoked per message."
    )
    queue: str | None = Field(
        default=None, pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryQueue the messages are sent to."
    )
    raw_message_delivery: bool = Field(
        default=False, description="Queue only: deliver the message body without the SNS envelope."
    )
    filter_policy: dict[str, Any] | None = Field(
        default=None,
        description="SNS filter policy on message attributes (only matching messages are delivered).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {"rule": "has(self.function) != has(self.queue)", "message": "a subscription names exactly one of function or queue"},
        {"rule": "!has(self.function) || !self.rawMessageDelivery", "message": "rawMessageDelivery is for queue subscriptions"},
    ]

    @model_validator(mode="after")
    def _one(self) -> Subscription:
        if (self.function is None) == (self.queue is None):
            raise ValueError("a subscription names exactly one of function or queue")
        if self.function is not None and self.raw_message_delivery:
            raise ValueError("rawMessageDelivery is for queue subscriptions")
        return self

    @field_validator("filter_policy")
    @classmethod
    def _size(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and len(json.dumps(v)) > 256 * 1024:
            raise ValueError("filterPolicy is limited to 256 KiB")
        return v

    @property
    def target(self) -> tuple[str, str]:
        return ("StackeryFunction", str(self.function)) if self.function else ("StackeryQueue", str(self.queue))


class TopicSpec(CommonSpec):
    """Desired topic."""

    fifo: bool = Field(default=False, description="FIFO topic (ordered; only FIFO queues can subscribe); immutable.")
    content_based_deduplication: bool = Field(default=False, description="FIFO only: deduplicate by a hash of the body.")
    kms_key_id: str = Field(
        default="alias/aws/sns", min_length=1, max_length=2048, description="KMS key for encryption at rest (always on)."
    )
    subscriptions: list[Subscription] = Field(
        default_factory=list, max_length=50, description="Functions and queues that receive the messages."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {"rule": FIFO_IMMUTABLE, "message": "fifo is immutable: create a new StackeryTopic"},
        {"rule": DEDUP_NEEDS_FIFO, "message": "contentBasedDeduplication needs fifo: true"},
        {
            "rule": "!(has(self.fifo) && self.fifo) || !has(self.subscriptions) || self.subscriptions.all(s, has(s.queue))",
            "message": "a FIFO topic delivers to FIFO queues only (SNS does not invoke functions from FIFO topics)",
        },
    ]

    @model_validator(mode="after")
    def _rules(self) -> TopicSpec:
        if self.content_based_deduplication and not self.fifo:
            raise ValueError("contentBasedDeduplication needs fifo: true")
        if self.fifo and any(s.function for s in self.subscriptions):
            raise ValueError("a FIFO topic delivers to FIFO queues only (SNS does not invoke functions from FIFO topics)")
        seen = [s.target for s in self.subscriptions]
        if len(seen) != len(set(seen)):
            raise ValueError("each function or queue subscribes once")
        return self


class SubscriptionStatus(Model):
    """One subscription as it is in AWS."""

    target: str = Field(description="Kind/name of the subscriber.")
    subscription_arn: str | None = Field(default=None, description="SNS subscription.")


class TopicStatus(CommonStatus):
    """Observed topic."""

    fifo: bool | None = Field(default=None, description="FIFO topic.")
    subscriptions: list[SubscriptionStatus] | None = Field(default=None, description="Subscriptions in AWS.")
    granted_functions: list[str] | None = Field(default=None, description="Functions holding this topic's invoke statement.")
    granted_queues: list[str] | None = Field(
        default=None, description="Queues (URLs) whose policy holds this topic's send statement."
    )
