"""Topic against moto (in-process): encrypted topic, subscriptions to a Function and a Queue with exactly
the permission each needs (limited to this topic, other statements kept), a published message reaching
the queue, drift (a subscription removed by hand) put back, a subscriber removed with its permission,
and a delete that leaves nothing of the topic behind."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from controller.adapters.queue import QueueAdapter
from controller.adapters.topic import TopicAdapter, sid
from controller.api.queue import QueueSpec
from controller.api.topic import TopicSpec
from controller.core.adapter import ObjectRef, Request
from controller.core.parts import Context

from .helpers import Driven, converge
from .test_timer import make_function

REF = ObjectRef("StackeryTopic", "ops", "orders", "uid-topic-0123456789ab")


class Topic(Driven):
    adapter, model, ref = TopicAdapter(), TopicSpec, REF


def make_queue(name: str = "audit") -> dict[str, Any]:
    qa = QueueAdapter()
    ref = ObjectRef("StackeryQueue", "ops", name, f"uid-{name}")
    spec = QueueSpec.model_validate({})
    return dict(
        converge(qa, Request(ref=ref, spec=spec, region="us-east-1", external_name=qa.external_name(ref, spec))).identifiers
    )


def test_subscriptions_permissions_delivery_drift_and_delete(aws: None) -> None:
    fn, q = make_function(), make_queue()
    sqs, sns, lam = (boto3.client(s, region_name="us-east-1") for s in ("sqs", "sns", "lambda"))
    # someone else's statement in the queue policy is kept
    other = {
        "Sid": "Theirs",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sqs:GetQueueAttributes",
        "Resource": q["arn"],
    }
    sqs.set_queue_attributes(
        QueueUrl=q["queueUrl"], Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [other]})}
    )
    t = Topic(
        {
            "subscriptions": [
                {"function": "checker"},
                {"queue": "audit", "rawMessageDelivery": True, "filterPolicy": {"type": ["order"]}},
            ]
        },
        {("StackeryFunction", "checker"): fn, ("StackeryQueue", "audit"): q},
    )
    obs = t.sync()
    assert obs.diffs == (), obs.diffs
    arn = obs.identifiers["arn"]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"] == "alias/aws/sns"
    subs = {s["Endpoint"]: s for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]}
    assert set(subs) == {fn["arn"], q["arn"]}
    assert all(s["subscriptionArn"] for s in obs.identifiers["subscriptions"])
    fn_policy = json.loads(lam.get_policy(FunctionName=fn["externalName"])["Policy"])["Statement"]
    mine = next(st for st in fn_policy if st["Sid"] == sid(Context(t.req())))
    assert mine["Condition"]["ArnLike"]["AWS:SourceArn"] == arn
    q_policy = json.loads(sqs.get_queue_attributes(QueueUrl=q["queueUrl"], AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert [st["Sid"] for st in q_policy["Statement"]] == ["Theirs", sid(Context(t.req()))]
    # a published message reaches the queue, raw (no SNS envelope)
    sns.publish(TopicArn=arn, Message="hello", MessageAttributes={"type": {"DataType": "String", "StringValue": "order"}})
    got = sqs.receive_message(QueueUrl=q["queueUrl"], WaitTimeSeconds=0).get("Messages", [])
    assert [m["Body"] for m in got] == ["hello"]
    # a subscription removed by hand: put back
    sns.unsubscribe(SubscriptionArn=subs[q["arn"]]["SubscriptionArn"])
    assert {d.field for d in t.adapter.observe(t.req()).diffs} == {"subscriptions"}
    assert t.sync().diffs == ()
    # the function unsubscribed in the spec: its subscription and permission go
    t.spec["subscriptions"] = t.spec["subscriptions"][1:]
    assert t.sync().diffs == ()
    assert [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]] == [q["arn"]]
    with pytest.raises(Exception, match="ResourceNotFound"):
        lam.get_policy(FunctionName=fn["externalName"])
    # delete: subscriptions, the queue-policy statement (theirs kept), the topic
    r = t.req()
    assert t.adapter.delete(r, t.adapter.observe(r)).done
    assert not t.adapter.observe(r).exists
    q_policy = json.loads(sqs.get_queue_attributes(QueueUrl=q["queueUrl"], AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert [st["Sid"] for st in q_policy["Statement"]] == ["Theirs"]
    assert sns.list_topics()["Topics"] == []


def test_topic_rules() -> None:
    with pytest.raises(ValidationError, match="exactly one of function or queue"):
        TopicSpec.model_validate({"subscriptions": [{"function": "a", "queue": "b"}]})
    with pytest.raises(ValidationError, match="FIFO queues only"):
        TopicSpec.model_validate({"fifo": True, "subscriptions": [{"function": "a"}]})
    with pytest.raises(ValidationError, match="subscribes once"):
        TopicSpec.model_validate({"subscriptions": [{"queue": "a"}, {"queue": "a"}]})


def test_delete_when_the_queue_is_no_longer_handed_over(aws: None) -> None:
    """A whole namespace deleted at once: the subscribed queue's status may be gone from the request; the
    topic still takes its statement back (found through status.grantedQueues) and deletes."""
    q = make_queue()
    t = Topic({"subscriptions": [{"queue": "audit"}]}, {("StackeryQueue", "audit"): q})
    assert t.sync().diffs == ()
    t.nodes.clear()  # the queue is not handed over any more
    r = t.req()
    assert t.adapter.delete(r, t.adapter.observe(r)).done
    sqs = boto3.client("sqs", region_name="us-east-1")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=q["queueUrl"], AttributeNames=["All"])["Attributes"]
    assert not t.adapter.observe(r).exists
