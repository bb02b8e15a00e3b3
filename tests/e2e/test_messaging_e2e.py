"""StackeryQueue, StackeryTopic, StackeryStream and StackeryTimer on a real apiserver against a moto
server: all Ready with a worker Function triggered by the queue and the stream and a Timer invoking a
checker; drift on each (a queue attribute, a subscription removed, a stream's retention, the schedule
expression) put back; bad specs refused at admission; everything deleted at once, dependencies first,
leaves nothing."""

from __future__ import annotations

import functools
import json
from typing import Any

import testbed

from .conftest import apply_list, aws, delete_all_at_once, node, ready, wait_for
from .test_table_function_e2e import ZIP

NS = "messaging"
obj = functools.partial(node, namespace=NS)
KINDS = "stackeryqueues,stackerytopics,stackerystreams,stackerytimers,stackeryfunctions,stackerytables"


def status(bed: testbed.TestBed, kind: str, name: str) -> dict[str, Any]:
    return dict(bed.get(kind, name, NS).get("status") or {})


def leftovers(bed: testbed.TestBed) -> dict[str, list[str]]:
    sqs, sns, k, sch, iam, lam = (aws(bed, s) for s in ("sqs", "sns", "kinesis", "scheduler", "iam", "lambda"))
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"] if f"-{NS}-" in t["TopicArn"]]
    found = {
        "queues": [u for u in sqs.list_queues().get("QueueUrls", []) if f"-{NS}-" in u],
        "topics": topics,
        "subscriptions": [
            s["SubscriptionArn"] for t in topics for s in sns.list_subscriptions_by_topic(TopicArn=t)["Subscriptions"]
        ],
        "streams": [n for n in k.list_streams()["StreamNames"] if f"-{NS}-" in n],
        "scheduleGroups": [g["Name"] for g in sch.list_schedule_groups()["ScheduleGroups"] if f"-{NS}-" in g["Name"]],
        "roles": [r["RoleName"] for r in iam.list_roles(PathPrefix=f"/stackery/{NS}/")["Roles"]],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"] if f"-{NS}-" in f["FunctionName"]],
        "mappings": [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"] if f"-{NS}-" in m["FunctionArn"]],
    }
    return {key: v for key, v in found.items() if v}


def test_messaging_nodes_triggers_drift_admission_and_delete(bed: testbed.TestBed) -> None:
    bed.kubectl("create", "namespace", NS)
    apply_list(
        bed,
        obj("StackeryQueue", "failed"),
        obj("StackeryQueue", "work", visibilityTimeoutSeconds=60, deadLetter={"queue": "failed", "maxReceiveCount": 3}),
        obj("StackeryTopic", "events", subscriptions=[{"queue": "work", "rawMessageDelivery": True}]),
        obj("StackeryStream", "clicks", retentionHours=48),
        obj(
            "StackeryFunction",
            "worker",
            code={"zipBase64": ZIP},
            triggers=[{"queue": "work", "batchSize": 10, "reportBatchItemFailures": True}, {"stream": "clicks"}],
            connections=[{"kind": "StackeryTopic", "name": "events"}],
        ),
        obj("StackeryTimer", "tick", schedule="rate(5 minutes)", function="worker", input={"from": "timer"}),
    )
    for kind, name in (
        ("stackeryqueue", "failed"),
        ("stackeryqueue", "work"),
        ("stackerytopic", "events"),
        ("stackerystream", "clicks"),
        ("stackeryfunction", "worker"),
        ("stackerytimer", "tick"),
    ):
        wait_for(lambda k=kind, n=name: ready(bed, k, n, NS), timeout=120, what=f"{kind} {name} Ready")  # type: ignore[misc]
    sqs, sns, k, sch, lam = (aws(bed, s) for s in ("sqs", "sns", "kinesis", "scheduler", "lambda"))
    work, failed, fn = (
        status(bed, "stackeryqueue", "work"),
        status(bed, "stackeryqueue", "failed"),
        status(bed, "stackeryfunction", "worker"),
    )
    topic, clicks, tick = (
        status(bed, "stackerytopic", "events"),
        status(bed, "stackerystream", "clicks"),
        status(bed, "stackerytimer", "tick"),
    )
    assert work["deadLetterArn"] == failed["arn"]
    maps = {m["EventSourceArn"] for m in lam.list_event_source_mappings(FunctionName=fn["externalName"])["EventSourceMappings"]}
    assert maps == {work["arn"], clicks["arn"]}
    assert {"TOPIC_NAME", "TOPIC_ARN"} <= set(fn["environmentKeys"])
    sched = sch.get_schedule(Name="timer", GroupName=tick["scheduleGroup"])
    assert sched["Target"]["Arn"] == fn["arn"] and json.loads(sched["Target"]["Input"]) == {"from": "timer"}
    sns.publish(TopicArn=topic["arn"], Message="order-1")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=work["queueUrl"]).get("Messages", [])] == ["order-1"]

    # drift on each, put back (driftPolicy Correct)
    sqs.set_queue_attributes(QueueUrl=work["queueUrl"], Attributes={"VisibilityTimeout": "5"})
    sub = sns.list_subscriptions_by_topic(TopicArn=topic["arn"])["Subscriptions"][0]["SubscriptionArn"]
    sns.unsubscribe(SubscriptionArn=sub)
    k.decrease_stream_retention_period(StreamName=clicks["externalName"], RetentionPeriodHours=24)
    sch.update_schedule(
        Name="timer",
        GroupName=tick["scheduleGroup"],
        ScheduleExpression="rate(1 day)",
        State="ENABLED",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=sched["Target"],
    )
    wait_for(
        lambda: (
            sqs.get_queue_attributes(QueueUrl=work["queueUrl"], AttributeNames=["VisibilityTimeout"])["Attributes"][
                "VisibilityTimeout"
            ]
            == "60"
        ),
        timeout=60,
        what="queue put back",
    )
    wait_for(
        lambda: len(sns.list_subscriptions_by_topic(TopicArn=topic["arn"])["Subscriptions"]) == 1,
        timeout=60,
        what="subscription put back",
    )
    wait_for(
        lambda: (
            k.describe_stream_summary(StreamName=clicks["externalName"])["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
        ),
        timeout=60,
        what="stream retention put back",
    )
    wait_for(
        lambda: sch.get_schedule(Name="timer", GroupName=tick["scheduleGroup"])["ScheduleExpression"] == "rate(5 minutes)",
        timeout=60,
        what="schedule put back",
    )

    # admission
    for bad, msg in (
        (obj("StackeryTimer", "bad", schedule="cron(0 3 * * *)", function="worker"), "schedule must be"),
        (obj("StackeryQueue", "bad", contentBasedDeduplication=True), "needs fifo"),
        (obj("StackeryTopic", "bad", subscriptions=[{"function": "a", "queue": "b"}]), "exactly one of function or queue"),
        (
            obj("StackeryFunction", "bad", code={"zipBase64": ZIP}, triggers=[{"queue": "a", "stream": "b"}]),
            "exactly one of table, queue or stream",
        ),
    ):
        out = bed.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
        assert out.returncode != 0 and msg in out.stderr, out.stderr

    # everything at once, dependencies first: the queues wait for the topic and the function (InUse), the stream for the function
    delete_all_at_once(bed, KINDS, NS)
    assert leftovers(bed) == {}
