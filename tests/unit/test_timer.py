"""Timer against moto (in-process): a schedule in a group of its own invoking exactly its function through
its own role (nothing written to the function), drift put back, paused and resumed, deleted with its
group; the schedule and time-zone rules of the model."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from controller.adapters.function import FunctionAdapter
from controller.adapters.timer import TimerAdapter, group_name
from controller.api.function import FunctionSpec
from controller.api.timer import TimerSpec
from controller.core.adapter import ObjectRef, Request

from .helpers import Driven, api_calls, converge, delta
from .test_contract import _zip

REF = ObjectRef("StackeryTimer", "ops", "every-minute", "uid-timer")


class Timer(Driven):
    adapter, model, ref = TimerAdapter(), TimerSpec, REF


def make_function() -> dict[str, Any]:
    fa = FunctionAdapter()
    ref = ObjectRef("StackeryFunction", "ops", "checker", "uid-fn")
    spec = FunctionSpec.model_validate({"code": {"zipBase64": _zip()}})
    return dict(
        converge(fa, Request(ref=ref, spec=spec, region="us-east-1", external_name=fa.external_name(ref, spec))).identifiers
    )


def test_schedule_role_group_drift_and_delete(aws: None) -> None:
    fn = make_function()
    policy_before = boto3.client("lambda", region_name="us-east-1").get_function(FunctionName=fn["externalName"])
    t = Timer(
        {"schedule": "cron(0/5 * * * ? *)", "timezone": "Europe/Berlin", "function": "checker", "input": {"job": "certs"}},
        {("StackeryFunction", "checker"): fn},
    )
    obs = t.sync()
    assert obs.diffs == () and obs.waiting is None
    s = boto3.client("scheduler", region_name="us-east-1")
    got = s.get_schedule(Name="timer", GroupName=group_name(REF))
    assert got["ScheduleExpression"] == "cron(0/5 * * * ? *)" and got["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert got["Target"]["Arn"] == fn["arn"] and json.loads(got["Target"]["Input"]) == {"job": "certs"}
    iam = boto3.client("iam", region_name="us-east-1")
    role = got["Target"]["RoleArn"].rsplit("/", 1)[1]
    doc = iam.get_role_policy(RoleName=role, PolicyName="stackery-connections")["PolicyDocument"]
    assert doc["Statement"] == [
        {"Sid": "Invoke", "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [fn["arn"]]}
    ]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert "scheduler.amazonaws.com" in json.dumps(trust)
    group = s.get_schedule_group(Name=group_name(REF))
    assert {t["Key"] for t in s.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"]} >= {
        "stackery.io/uid",
        "stackery.io/namespace",
    }
    # nothing was written to the function (no resource-policy statement, unlike an EventBridge rule)
    with pytest.raises(Exception, match="ResourceNotFound"):
        boto3.client("lambda", region_name="us-east-1").get_policy(FunctionName=fn["externalName"])
    assert policy_before["Configuration"]["FunctionArn"] == fn["arn"]
    before = api_calls()
    assert t.adapter.observe(t.req()).diffs == ()
    assert sum(delta(before, api_calls()).values()) == 5
    # changed behind the operator's back, then paused by the spec
    s.update_schedule(
        Name="timer",
        GroupName=group_name(REF),
        ScheduleExpression="rate(1 day)",
        State="ENABLED",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=got["Target"],
    )
    assert {d.field for d in t.adapter.observe(t.req()).diffs} == {"scheduleExpression", "scheduleExpressionTimezone"}
    assert t.sync().diffs == ()
    t.spec["enabled"] = False
    assert t.sync().identifiers["state"] == "DISABLED"
    r = t.req()
    assert t.adapter.delete(r, t.adapter.observe(r)).done
    assert not t.adapter.observe(r).exists and not t.adapter.observe(r).residual
    assert [x for x in iam.list_roles()["Roles"] if x["RoleName"].startswith("stackery-timer")] == []


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        ("rate(1 minute)", True),
        ("rate(5 minutes)", True),
        ("rate(1 minutes)", False),
        ("rate(5 minute)", False),
        ("rate(0 hours)", False),
        ("cron(0 3 * * ? *)", True),
        ("cron(0 3 * * *)", False),
        ("cron(0 3 * * MON *)", False),
        ("*/5 * * * *", False),
    ],
)
def test_schedule_expressions(schedule: str, ok: bool) -> None:
    spec = {"schedule": schedule, "function": "f"}
    if ok:
        TimerSpec.model_validate(spec)
    else:
        with pytest.raises(ValidationError):
            TimerSpec.model_validate(spec)


def test_timezone_must_exist() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        TimerSpec.model_validate({"function": "f", "timezone": "Mars/Olympus"})
