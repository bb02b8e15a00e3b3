"""StackeryQueue: an SQS queue (Stackery's Job Queue node), encrypted, with an optional dead-letter queue.

Stackery: "Fifo (false → FifoQueue + ContentBasedDeduplication); MessageRetentionPeriod 345600"; a
Queue → Queue wire set the redrive policy (the dead-letter queue). A Function connected to the queue
gets QUEUE_NAME, QUEUE_ARN, QUEUE_URL and send rights; a Function triggered by it (its spec.triggers)
gets the event source mapping and exactly the receive rights on this queue.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model

# (written with has(): the rules are also checked against the spec's default object, where no field is set)
FIFO_IMMUTABLE = "(has(self.fifo) && self.fifo) == (has(oldSelf.fifo) && oldSelf.fifo)"
DEDUP_NEEDS_FIFO = "!has(self.contentBasedDeduplication) || !self.contentBasedDeduplication || (has(self.fifo) && self.fifo)"


class DeadLetter(Model):
    """Where messages go after maxReceiveCount failed receives: another StackeryQueue of this namespace."""

    queue: str = Field(
        pattern=K8S_NAME_PATTERN, max_length=253, description="The StackeryQueue that receives them (same FIFO-ness)."
    )
    max_receive_count: int = Field(default=5, ge=1, le=1000, description="Receives before a message moves there.")


class QueueSpec(CommonSpec):
    """Desired queue."""

    fifo: bool = Field(default=False, description="FIFO queue (ordered, exactly-once); immutable.")
    content_based_deduplication: bool = Field(default=False, description="FIFO only: deduplicate by a hash of the body.")
    message_retention_seconds: int = Field(
        default=345600, ge=60, le=1209600, description="How long a message is kept (Stackery: 4 days)."
    )
    visibility_timeout_seconds: int = Field(
        default=30, ge=0, le=43200, description="How long a received message is hidden (at least a triggered function's timeout)."
    )
    delay_seconds: int = Field(default=0, ge=0, le=900, description="Delay before a new message can be received.")
    receive_wait_seconds: int = Field(default=0, ge=0, le=20, description="Long polling wait.")
    kms_key_id: str | None = Field(
        default=None,
        max_length=2048,
        description="KMS key (id, ARN or alias) for SSE-KMS; default SSE-SQS (SQS-managed keys). Always encrypted.",
    )
    dead_letter: DeadLetter | None = Field(default=None, description="Optional dead-letter queue.")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {"rule": FIFO_IMMUTABLE, "message": "fifo is immutable: create a new StackeryQueue"},
        {"rule": DEDUP_NEEDS_FIFO, "message": "contentBasedDeduplication needs fifo: true"},
    ]

    @model_validator(mode="after")
    def _rules(self) -> QueueSpec:
        if self.content_based_deduplication and not self.fifo:
            raise ValueError("contentBasedDeduplication needs fifo: true")
        return self


class QueueStatus(CommonStatus):
    """Observed queue."""

    queue_url: str | None = Field(default=None, description="Queue URL (QUEUE_URL).")
    fifo: bool | None = Field(default=None, description="FIFO queue.")
    dead_letter_arn: str | None = Field(default=None, description="Dead-letter queue in the redrive policy.")
    approximate_messages: int | None = Field(default=None, description="Messages available, as of the last check.")
    approximate_messages_in_flight: int | None = Field(default=None, description="Messages received and not yet deleted.")
