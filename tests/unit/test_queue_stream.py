"""Queue and Stream against moto (in-process): created encrypted with the spec's settings, read with the
documented budget, drift put back, a dead-letter queue of the other FIFO-ness refused before any write,
Kinesis' one-change-at-a-time updates, and the wiring (env names, least-privilege grants) they give."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from controller.adapters.queue import QueueAdapter
from controller.adapters.queue import grants as queue_grants
from controller.adapters.stream import StreamAdapter
from controller.adapters.stream import grants as stream_grants
from controller.api.queue import QueueSpec
from controller.api.stream import StreamSpec
from controller.core.adapter import ObjectRef
from controller.core.wiring import GrantContext
from controller.errors import InvalidSpecError

from .helpers import Driven, api_calls, delta, writes

NS = "jobs"


class Queue(Driven):
    adapter, model = QueueAdapter(), QueueSpec

    def __init__(self, name: str, spec: dict[str, Any], nodes: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        super().__init__(spec, nodes or {})
        self.ref = ObjectRef("StackeryQueue", NS, name, f"uid-{name}")


class Stream(Driven):
    adapter, model, ref = StreamAdapter(), StreamSpec, ObjectRef("StackeryStream", NS, "clicks", "uid-clicks")


def sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def test_queue_with_dead_letter_encrypted_and_drift(aws: None) -> None:
    dlq = Queue("failed", {})
    d = dlq.sync()
    q = Queue(
        "work",
        {"visibilityTimeoutSeconds": 120, "deadLetter": {"queue": "failed", "maxReceiveCount": 3}},
        {("StackeryQueue", "failed"): dict(dlq.status)},
    )
    obs = q.sync()
    assert obs.diffs == ()
    attrs = sqs().get_queue_attributes(QueueUrl=obs.identifiers["queueUrl"], AttributeNames=["All"])["Attributes"]
    assert attrs["SqsManagedSseEnabled"] == "true" and attrs["VisibilityTimeout"] == "120"
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": d.identifiers["arn"], "maxReceiveCount": 3}
    assert obs.outputs == {
        "QUEUE_NAME": obs.identifiers["externalName"],
        "QUEUE_ARN": obs.identifiers["arn"],
        "QUEUE_URL": obs.identifiers["queueUrl"],
    }
    before = api_calls()
    assert q.adapter.observe(q.req()).diffs == ()
    assert sum(delta(before, api_calls()).values()) == 2  # GetQueueAttributes + ListQueueTags (the URL is in status)
    # changed behind the operator's back: put back
    sqs().set_queue_attributes(QueueUrl=obs.identifiers["queueUrl"], Attributes={"VisibilityTimeout": "5", "RedrivePolicy": ""})
    assert {d.field for d in q.adapter.observe(q.req()).diffs} == {"VisibilityTimeout", "RedrivePolicy"}
    assert q.sync().diffs == ()
    # a tag added by hand and the spec's tags changed: the tags become exactly the spec's (+ ownership)
    sqs().tag_queue(QueueUrl=obs.identifiers["queueUrl"], Tags={"by-hand": "x"})
    q.spec["tags"] = {"team": "b"}
    assert q.sync().diffs == ()
    tags = sqs().list_queue_tags(QueueUrl=obs.identifiers["queueUrl"])["Tags"]
    assert tags["team"] == "b" and "by-hand" not in tags and tags["stackery.io/uid"] == "uid-work"
    # the dead letter removed from the spec: the redrive policy goes
    q.spec.pop("deadLetter")
    assert q.sync().diffs == ()
    assert (
        "RedrivePolicy"
        not in sqs().get_queue_attributes(QueueUrl=obs.identifiers["queueUrl"], AttributeNames=["All"])["Attributes"]
    )
    # delete: gone (the DLQ after the queue)
    for o in (q, dlq):
        r = o.req()
        assert o.adapter.delete(r, o.adapter.observe(r)).done
        assert not o.adapter.observe(r).exists
    assert sqs().list_queues().get("QueueUrls", []) == []


def test_fifo_queue_and_a_dead_letter_of_the_other_kind_refused(aws: None) -> None:
    std = Queue("std", {})
    std.sync()
    fifo = Queue(
        "ordered",
        {"fifo": True, "contentBasedDeduplication": True, "deadLetter": {"queue": "std"}},
        {("StackeryQueue", "std"): dict(std.status)},
    )
    before = api_calls()
    with pytest.raises(InvalidSpecError, match="must be a FIFO queue"):
        fifo.sync()
    assert writes(delta(before, api_calls())) == {}
    fifo.spec.pop("deadLetter")
    obs = fifo.sync()
    assert obs.identifiers["externalName"].endswith(".fifo") and obs.identifiers["fifo"] is True
    with pytest.raises(ValueError, match="needs fifo"):
        QueueSpec.model_validate({"contentBasedDeduplication": True})


def test_stream_encrypted_then_changed_one_thing_at_a_time(aws: None) -> None:
    s = Stream({"shardCount": 1, "retentionHours": 48}, {})
    obs = s.sync()
    assert obs.diffs == () and obs.waiting is None
    k = boto3.client("kinesis", region_name="us-east-1")
    got = k.describe_stream_summary(StreamName=obs.identifiers["externalName"])["StreamDescriptionSummary"]
    assert (got["EncryptionType"], got["KeyId"], got["RetentionPeriodHours"]) == ("KMS", "alias/aws/kinesis", 48)
    assert {t["Key"] for t in k.list_tags_for_stream(StreamName=obs.identifiers["externalName"])["Tags"]} >= {"stackery.io/uid"}
    assert obs.outputs == {"STREAM_NAME": obs.identifiers["externalName"], "STREAM_ARN": obs.identifiers["arn"]}
    before = api_calls()
    s.adapter.observe(s.req())
    assert sum(delta(before, api_calls()).values()) == 2
    s.spec.update(shardCount=2, retentionHours=24)
    obs = s.sync()
    assert obs.diffs == () and obs.identifiers["openShards"] == 2
    s.spec.update(mode="OnDemand", shardCount=1)
    assert s.sync().identifiers["mode"] == "ON_DEMAND"
    r = s.req()
    assert s.adapter.delete(r, s.adapter.observe(r)).done
    assert not s.adapter.observe(r).exists


def test_wiring_grants_exactly_the_resource() -> None:
    ctx = GrantContext(region="us-east-1", account="123456789012")
    q = queue_grants({"arn": "arn:aws:sqs:us-east-1:123456789012:q"}, ctx, "ReadWrite")
    assert q[0]["Resource"] == ["arn:aws:sqs:us-east-1:123456789012:q"] and "sqs:SendMessage" in q[0]["Action"]
    assert "sqs:SendMessage" not in queue_grants({"arn": "a"}, ctx, "ReadOnly")[0]["Action"]
    st = stream_grants({"arn": "arn:aws:kinesis:us-east-1:123456789012:stream/s"}, ctx, "ReadOnly")
    assert st[0]["Resource"] == ["arn:aws:kinesis:us-east-1:123456789012:stream/s"] and "kinesis:PutRecord" not in st[0]["Action"]


def test_function_triggered_by_a_queue_and_a_stream(aws: None) -> None:
    from controller.adapters.function import FunctionAdapter
    from controller.api.function import FunctionSpec
    from controller.registry import WIRING

    from .test_contract import _zip

    q = Queue("work", {"visibilityTimeoutSeconds": 60})
    qs = q.sync().identifiers
    st = Stream({}, {})
    ss = st.sync().identifiers

    class Worker(Driven):
        adapter, model, ref = FunctionAdapter(), FunctionSpec, ObjectRef("StackeryFunction", NS, "worker", "uid-worker")

        def req(self) -> Any:
            from dataclasses import replace

            return replace(super().req(), wiring=WIRING)

    w = Worker(
        {
            "code": {"zipBase64": _zip()},
            "triggers": [
                {"queue": "work", "batchSize": 10, "batchingWindowSeconds": 5, "reportBatchItemFailures": True},
                {"stream": "clicks", "startingPosition": "LATEST", "batchSize": 100},
            ],
        },
        {("StackeryQueue", "work"): dict(qs), ("StackeryStream", "clicks"): dict(ss)},
    )
    obs = w.sync()
    assert obs.diffs == (), obs.diffs
    lam = boto3.client("lambda", region_name="us-east-1")
    maps = {
        m["EventSourceArn"]: m
        for m in lam.list_event_source_mappings(FunctionName=obs.identifiers["externalName"])["EventSourceMappings"]
    }
    assert set(maps) == {qs["arn"], ss["arn"]}
    assert maps[qs["arn"]]["BatchSize"] == 10 and maps[qs["arn"]]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert maps[qs["arn"]]["MaximumBatchingWindowInSeconds"] == 5
    assert (maps[ss["arn"]]["StartingPosition"], maps[ss["arn"]]["BatchSize"]) == ("LATEST", 100)
    role = boto3.client("lambda", region_name="us-east-1").get_function(FunctionName=obs.identifiers["externalName"])[
        "Configuration"
    ]["Role"]
    doc = boto3.client("iam", region_name="us-east-1").get_role_policy(
        RoleName=role.rsplit("/", 1)[1], PolicyName="stackery-connections"
    )["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["Trigger1Queue"]["Resource"] == [qs["arn"]] and "sqs:ReceiveMessage" in by_sid["Trigger1Queue"]["Action"]
    assert by_sid["Trigger2Kinesis"]["Resource"] == [ss["arn"]] and "kinesis:GetRecords" in by_sid["Trigger2Kinesis"]["Action"]
    before = api_calls()
    assert w.adapter.observe(w.req()).diffs == ()
    assert writes(delta(before, api_calls())) == {}
    # a new batch size: the mapping follows; the stream trigger removed: its mapping goes
    w.spec["triggers"] = [{"queue": "work", "batchSize": 5}]
    assert w.sync().diffs == ()
    maps = lam.list_event_source_mappings(FunctionName=obs.identifiers["externalName"])["EventSourceMappings"]
    assert [(m["EventSourceArn"], m["BatchSize"]) for m in maps] == [(qs["arn"], 5)]
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exactly one of table, queue or stream"):
        FunctionSpec.model_validate({"code": {"zipBase64": _zip()}, "triggers": [{"queue": "a", "stream": "b"}]})
    with pytest.raises(ValidationError, match="one trigger per"):
        FunctionSpec.model_validate({"code": {"zipBase64": _zip()}, "triggers": [{"queue": "a"}, {"queue": "a", "batchSize": 2}]})
