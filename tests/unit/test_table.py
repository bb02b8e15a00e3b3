"""Table adapter against moto (in-process): keys, stream, TTL, PITR, GSIs, autoscaling, delete with backup."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from controller.adapters.table import TableAdapter, attribute_definitions, scaling_targets
from controller.api.table import TableSpec
from controller.errors import BlockedError
from tests.unit.helpers import aws_name

from .helpers import api_calls, converge, delta, request, writes

A = TableAdapter()
AUTO = {
    "billingMode": "PROVISIONED",
    "autoscaling": {"read": {"min": 5, "max": 50}, "write": {"min": 2, "max": 20}},
    "globalSecondaryIndexes": [{"name": "by-email", "hashKey": {"name": "email"}}],
}


def req(spec: dict[str, Any], **kw: Any) -> Any:
    return request(TableSpec, spec, adapter=A, name="orders", kind="StackeryTable", **kw)


def ensure(r: Any) -> Any:
    return converge(A, r)


def ddb() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def aas() -> Any:
    return boto3.client("application-autoscaling", region_name="us-east-1")


def targets(table: str) -> dict[tuple[str, str], tuple[int, int]]:
    out = aas().describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"]
    return {
        (t["ResourceId"], t["ScalableDimension"]): (t["MinCapacity"], t["MaxCapacity"])
        for t in out
        if t["ResourceId"].startswith(f"table/{table}")
    }


def test_stackery_defaults(aws: None) -> None:
    r = req({})
    obs = ensure(r)
    assert obs.diffs == ()
    t = ddb().describe_table(TableName=r.external_name)["Table"]
    assert t["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert obs.outputs["TABLE_STREAM_ARN"] == t["LatestStreamArn"]
    assert (
        obs.outputs["TABLE_NAME"] == aws_name("team-a", "orders", max_len=255)
        and obs.identifiers["streamArn"] == t["LatestStreamArn"]
    )


def test_ttl_pitr_gsi_and_changes(aws: None) -> None:
    r = req(
        {
            "rangeKey": {"name": "ts", "type": "N"},
            "ttlAttribute": "expires",
            "pointInTimeRecovery": True,
            "globalSecondaryIndexes": [{"name": "by-user", "hashKey": {"name": "user"}, "projection": "KEYS_ONLY"}],
        }
    )
    assert ensure(r).diffs == ()
    name = r.external_name
    assert ddb().describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    pitr = ddb().describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    gsis = ddb().describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
    assert [(g["IndexName"], g["Projection"]["ProjectionType"]) for g in gsis] == [("by-user", "KEYS_ONLY")]
    # replace the index, drop TTL and PITR
    r2 = req(
        {"rangeKey": {"name": "ts", "type": "N"}, "globalSecondaryIndexes": [{"name": "by-day", "hashKey": {"name": "day"}}]}
    )
    assert ensure(r2).diffs == ()
    assert [g["IndexName"] for g in ddb().describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]] == ["by-day"]
    assert ddb().describe_time_to_live(TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"


def test_stream_disable_and_view_type_at_create(aws: None) -> None:
    # moto refuses to enable a stream on a table that ever had one (AWS allows it after disabling), so
    # a view-type change (disable, then enable) can only be shown at creation here.
    r = req({"stream": {"viewType": "KEYS_ONLY"}})
    assert ensure(r).diffs == ()
    assert ddb().describe_table(TableName=r.external_name)["Table"]["StreamSpecification"]["StreamViewType"] == "KEYS_ONLY"
    obs = ensure(req({"stream": {"enabled": False}}))
    assert obs.diffs == () and "TABLE_STREAM_ARN" not in obs.outputs


def test_autoscaling_appears_changes_and_disappears(aws: None) -> None:
    r = req(AUTO)
    assert ensure(r).diffs == ()
    name = r.external_name
    assert targets(name) == {
        (f"table/{name}", "dynamodb:table:ReadCapacityUnits"): (5, 50),
        (f"table/{name}", "dynamodb:table:WriteCapacityUnits"): (2, 20),
        (f"table/{name}/index/by-email", "dynamodb:index:ReadCapacityUnits"): (5, 50),
        (f"table/{name}/index/by-email", "dynamodb:index:WriteCapacityUnits"): (2, 20),
    }
    pols = aas().describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"]
    assert len(pols) == 4 and {p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] for p in pols} == {70.0}
    # change
    changed = {**AUTO, "autoscaling": {**AUTO["autoscaling"], "read": {"min": 5, "max": 80}, "targetUtilization": 50}}
    assert ensure(req(changed)).diffs == ()
    assert targets(name)[(f"table/{name}", "dynamodb:table:ReadCapacityUnits")] == (5, 80)
    assert {
        p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in aas().describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"]
    } == {50.0}
    # out-of-band max change is drift, and is corrected
    aas().register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId=f"table/{name}",
        ScalableDimension="dynamodb:table:WriteCapacityUnits",
        MinCapacity=2,
        MaxCapacity=999,
    )
    obs = A.observe(req(changed))
    assert [d.field for d in obs.diffs] == ["autoscaling"]
    A.update(req(changed), obs)
    assert targets(name)[(f"table/{name}", "dynamodb:table:WriteCapacityUnits")] == (2, 20)
    # removed cleanly when the block goes (fixed capacity instead)
    fixed = {
        "billingMode": "PROVISIONED",
        "capacity": {"read": 3, "write": 3},
        "globalSecondaryIndexes": AUTO["globalSecondaryIndexes"],
    }
    assert ensure(req(fixed)).diffs == ()
    assert targets(name) == {}
    assert aas().describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"] == []


def test_pure_helpers() -> None:
    spec = TableSpec.model_validate(AUTO)
    assert attribute_definitions(spec) == [
        {"AttributeName": "email", "AttributeType": "S"},
        {"AttributeName": "id", "AttributeType": "S"},
    ]
    assert len(scaling_targets(spec, "t")) == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"autoscaling": {"read": {"min": 1, "max": 2}, "write": {"min": 1, "max": 2}}},
        {"billingMode": "PROVISIONED"},
        {"hashKey": {"name": "id", "type": "X"}},
    ],
)
def test_model_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TableSpec.model_validate(bad)


def test_in_sync_check_is_read_only(aws: None) -> None:
    r = req(AUTO)
    ensure(r)
    before = api_calls()
    assert A.observe(r).diffs == ()
    calls = delta(before, api_calls())
    assert writes(calls) == {}
    assert sum(calls.values()) == 7, dict(calls)  # 5 + one DescribeScalingPolicies per scalable resource


def test_delete_takes_backup_first_and_removes_autoscaling(aws: None) -> None:
    r = req(AUTO)
    ensure(r)
    res = A.delete(r, A.observe(r))
    assert res.done and res.notes[0][0] == "BackupTaken"
    backups = ddb().list_backups()["BackupSummaries"]
    assert [b["BackupName"] for b in backups] == [aws_name("team-a", "orders", max_len=255) + "-final-uid-1"]
    assert backups[0]["BackupArn"] in res.notes[0][1]
    assert not A.observe(r).exists and targets(r.external_name) == {}


def test_delete_refused_while_protected(aws: None) -> None:
    r = req({"deletionProtection": True, "backupBeforeDelete": False})
    ensure(r)
    with pytest.raises(BlockedError) as err:
        A.delete(r, A.observe(r))
    assert err.value.reason == "DeletionProtected"
    assert A.observe(r).exists
