"""Database against moto (in-process): an encrypted, private instance whose group admits only its client
group, RDS-managed password read only for an outputs Secret, drift corrected, deletion protection and
the final snapshot; Aurora Serverless v2; connections from Functions and Bastions.

moto makes instances `available` at once and never holds pending modifications, so the states RDS
really goes through (creating, modifying, backing-up, changes waiting for the maintenance window) are
fed to the instance part as the records DescribeDBInstances returns (see the "states" tests)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from controller.adapters.database import DatabaseAdapter, InstancePart, final_snapshot, identifier
from controller.adapters.function import FunctionAdapter
from controller.adapters.virtualnetwork import VirtualNetworkAdapter
from controller.api.database import DatabaseSpec
from controller.api.function import FunctionSpec
from controller.api.virtualnetwork import VirtualNetworkSpec
from controller.core.adapter import ObjectRef, Request
from controller.core.parts import Context, Seen
from controller.errors import BlockedError, InvalidSpecError
from controller.registry import WIRING

from .helpers import Driven, api_calls, converge, delta, writes

A = DatabaseAdapter()
REF = ObjectRef("StackeryDatabase", "shop", "orders", "0f3a9c1e-1111-2222-3333-444455556666")


def make_network(name: str = "net", cidr: str = "10.0.0.0/16") -> dict[str, Any]:
    va = VirtualNetworkAdapter()
    ref = ObjectRef("StackeryVirtualNetwork", "shop", name, f"uid-{name}")
    spec = VirtualNetworkSpec.model_validate({"natGateways": "None", "cidr": cidr})
    return dict(
        converge(va, Request(ref=ref, spec=spec, region="us-east-1", external_name=va.external_name(ref, spec))).identifiers
    )


class Db(Driven):
    adapter, model, ref = A, DatabaseSpec, REF

    def __init__(self, spec: dict[str, Any], nodes: dict[tuple[str, str], dict[str, Any]]) -> None:
        super().__init__({"virtualNetwork": "net", **spec}, nodes)


def rds() -> Any:
    return boto3.client("rds", region_name="us-east-1")


def ec2() -> Any:
    return boto3.client("ec2", region_name="us-east-1")


@pytest.fixture
def net(aws: None) -> dict[tuple[str, str], dict[str, Any]]:
    return {("StackeryVirtualNetwork", "net"): make_network()}


def test_instance_is_private_encrypted_and_open_only_to_its_client_group(net: Any) -> None:
    db = Db({"engine": "postgres", "engineVersion": "16.3", "databaseName": "orders"}, net)
    obs = db.sync()
    assert not obs.diffs and obs.waiting is None
    inst = rds().describe_db_instances(DBInstanceIdentifier=identifier(REF))["DBInstances"][0]
    assert inst["PubliclyAccessible"] is False and inst["StorageEncrypted"] is True
    assert inst["StorageType"] == "gp3" and inst["DeletionProtection"] is True and inst["BackupRetentionPeriod"] == 7
    assert inst["MasterUserSecret"]["SecretArn"] == obs.identifiers["masterUserSecretArn"]
    private = sorted(z["privateSubnetId"] for z in net[("StackeryVirtualNetwork", "net")]["zones"])
    group = rds().describe_db_subnet_groups(DBSubnetGroupName=identifier(REF))["DBSubnetGroups"][0]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == private
    sg = ec2().describe_security_groups(GroupIds=[obs.identifiers["securityGroupId"]])["SecurityGroups"][0]
    assert [(p["FromPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]], p["IpRanges"]) for p in sg["IpPermissions"]] == [
        (5432, [obs.identifiers["clientSecurityGroupId"]], [])
    ]
    assert [g["VpcSecurityGroupId"] for g in inst["VpcSecurityGroups"]] == [obs.identifiers["securityGroupId"]]
    assert obs.outputs["DB_ADDRESS"] == obs.identifiers["endpoint"] and obs.outputs["DB_PORT"] == "5432"
    assert {c.type: c.status for c in obs.conditions} == {"Available": "True", "Modifying": "False", "BackingUp": "False"}
    assert obs.secrets == {}  # no outputs.secretName: the password is never read


def test_one_check_reads_three_times_and_writes_nothing(net: Any) -> None:
    db = Db({"engine": "postgres"}, net)
    db.sync()
    before = api_calls()
    obs = A.observe(db.req())
    calls = delta(before, api_calls())
    assert not obs.diffs and not writes(calls)
    assert sum(calls.values()) == 3, calls  # both groups in one call, the subnet group, the instance


def test_outputs_secret_holds_working_credentials_and_status_never_does(net: Any) -> None:
    db = Db({"engine": "postgres", "databaseName": "orders", "outputs": {"secretName": "orders-db"}}, net)
    obs = db.sync()
    raw = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
        SecretId=obs.identifiers["masterUserSecretArn"]
    )["SecretString"]
    password = __import__("json").loads(raw)["password"]
    s = obs.secrets
    assert s["username"] == "stackery" and s["password"] == password and s["dbname"] == "orders"
    assert s["host"] == obs.identifiers["endpoint"] and s["port"] == "5432"
    assert s["uri"].startswith("postgresql://stackery:") and s["uri"].endswith(f"@{s['host']}:5432/orders")
    assert password not in repr(obs.identifiers) and password not in repr(obs.outputs) and password not in obs.message


def test_drift_ingress_from_anywhere_and_backup_retention_are_seen_and_corrected(net: Any) -> None:
    db = Db({"engine": "postgres"}, net)
    obs = db.sync()
    group = obs.identifiers["securityGroupId"]
    ec2().authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    rds().modify_db_instance(DBInstanceIdentifier=identifier(REF), BackupRetentionPeriod=1, ApplyImmediately=True)
    drift = A.observe(db.req())
    assert {d.field for d in drift.diffs} == {"securityGroup.ingress", "backupRetentionDays"}
    A.update(db.req(), drift)
    assert not A.observe(db.req()).diffs
    sg = ec2().describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert all(not p["IpRanges"] for p in sg["IpPermissions"])


def test_delete_is_refused_while_deletion_protection_is_on(net: Any) -> None:
    db = Db({"engine": "postgres"}, net)
    db.sync()
    before = api_calls()
    with pytest.raises(BlockedError) as err:
        A.delete(db.req(), A.observe(db.req()))
    assert err.value.reason == "DeletionProtected" and "deletionProtection" in err.value.message
    assert "kubectl patch stackerydatabase orders -n shop" in err.value.message
    assert not writes(delta(before, api_calls()))
    assert rds().describe_db_instances(DBInstanceIdentifier=identifier(REF))["DBInstances"]


def test_delete_turns_off_aws_protection_takes_the_final_snapshot_and_removes_everything(net: Any) -> None:
    db = Db({"engine": "postgres"}, net)
    obs = db.sync()  # created with deletion protection on in AWS
    db.spec["deletionProtection"] = False  # then the object is deleted before that change was applied
    notes: list[tuple[str, str]] = []
    for _ in range(6):
        res = A.delete(db.req(), A.observe(db.req()))
        notes += list(res.notes)
        if res.done:
            break
    assert res.done
    snap = final_snapshot(identifier(REF), REF)
    assert snap == f"{identifier(REF)}-final-0f3a9c1e"
    assert rds().describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]["Encrypted"] is True
    assert any(reason == "FinalSnapshot" and snap in msg for reason, msg in notes)
    gone = A.observe(db.req())
    assert not gone.exists and not gone.residual
    assert not rds().describe_db_subnet_groups()["DBSubnetGroups"]
    ids = [obs.identifiers["securityGroupId"], obs.identifiers["clientSecurityGroupId"]]
    assert not ec2().describe_security_groups(Filters=[{"Name": "group-id", "Values": ids}])["SecurityGroups"]


def test_skip_final_snapshot_says_so(net: Any) -> None:
    db = Db({"engine": "mysql", "deletionProtection": False, "skipFinalSnapshot": True}, net)
    db.sync()
    res = A.delete(db.req(), A.observe(db.req()))
    assert res.done and any(r == "FinalSnapshotSkipped" for r, _ in res.notes)
    assert not rds().describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]


def test_aurora_serverless_v2_cluster_with_a_writer_and_a_scaling_change(net: Any) -> None:
    db = Db(
        {"engine": "aurora-postgresql", "serverless": {"minCapacity": 0.5, "maxCapacity": 4}, "deletionProtection": False}, net
    )
    obs = db.sync()
    cluster = rds().describe_db_clusters(DBClusterIdentifier=identifier(REF))["DBClusters"][0]
    assert cluster["StorageEncrypted"] is True and cluster["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 4
    writer = rds().describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [identifier(REF)]}])["DBInstances"]
    assert [w["DBInstanceClass"] for w in writer] == ["db.serverless"]
    assert obs.identifiers["endpoint"] == cluster["Endpoint"] and obs.outputs["DB_ID"] == identifier(REF)
    db.spec["serverless"] = {"minCapacity": 1, "maxCapacity": 8}
    changed = A.observe(db.req())
    assert {d.field for d in changed.diffs} == {"serverless.minCapacity", "serverless.maxCapacity"}
    A.update(db.req(), changed)
    assert rds().describe_db_clusters(DBClusterIdentifier=identifier(REF))["DBClusters"][0][
        "ServerlessV2ScalingConfiguration"
    ] == {"MinCapacity": 1, "MaxCapacity": 8}
    res = None
    for _ in range(6):
        res = A.delete(db.req(), A.observe(db.req()))
        if res.done:
            break
    assert res is not None and res.done
    assert rds().describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final_snapshot(identifier(REF), REF))[
        "DBClusterSnapshots"
    ]


# ------------------------------------------------------------------ states moto never shows
def seen(spec: dict[str, Any], record: dict[str, Any]) -> Seen[Any]:
    parsed = DatabaseSpec.model_validate({"virtualNetwork": "net", "engine": "postgres", **spec})
    req = Request(ref=REF, spec=parsed, region="us-east-1", external_name=identifier(REF))
    base = {
        "DBInstanceIdentifier": identifier(REF),
        "DBInstanceClass": "db.t4g.micro",
        "AllocatedStorage": 20,
        "BackupRetentionPeriod": 7,
        "DeletionProtection": True,
        "MasterUserSecret": {"SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1"},
        "Endpoint": {"Address": "h.example", "Port": 5432},
        "EngineVersion": "16.3",
        "PubliclyAccessible": False,
        "AutoMinorVersionUpgrade": True,
        "VpcSecurityGroups": [],
    }
    return InstancePart()._seen(Context(req), {**base, **record})


@pytest.mark.parametrize(
    ("state", "waiting", "reason", "conditions"),
    [
        ("creating", True, "Creating", {"Available": "False", "Modifying": "False", "BackingUp": "False"}),
        ("modifying", True, "Modifying", {"Available": "False", "Modifying": "True", "BackingUp": "False"}),
        ("backing-up", False, None, {"Available": "True", "Modifying": "False", "BackingUp": "True"}),
        ("available", False, None, {"Available": "True", "Modifying": "False", "BackingUp": "False"}),
    ],
)
def test_states_map_to_waiting_and_conditions(state: str, waiting: bool, reason: str | None, conditions: dict[str, str]) -> None:
    s = seen({}, {"DBInstanceStatus": state})
    assert (s.waiting is not None) == waiting
    if reason:
        assert s.waiting_reason == reason
    assert {c.type: c.status for c in s.conditions} == conditions


def test_changes_waiting_for_the_maintenance_window_are_not_drift_and_are_shown() -> None:
    s = seen({"instanceClass": "db.t4g.small"}, {"PendingModifiedValues": {"DBInstanceClass": "db.t4g.small"}})
    assert not [d for d in s.diffs if d.field == "instanceClass"]
    assert s.identifiers["pendingModifications"] == ["DBInstanceClass: db.t4g.small"]
    assert "maintenance window" in s.message


def test_a_newer_minor_version_in_aws_is_not_drift_but_an_older_or_another_major_is() -> None:
    assert not seen({"engineVersion": "16.1"}, {"EngineVersion": "16.3"}).diffs
    assert [d.field for d in seen({"engineVersion": "16.4"}, {"EngineVersion": "16.3"}).diffs] == ["engineVersion"]
    assert [d.field for d in seen({"engineVersion": "17.1"}, {"EngineVersion": "16.3"}).diffs] == ["engineVersion"]


def test_major_upgrade_needs_the_spec_to_allow_it_and_downgrades_are_refused(net: Any) -> None:
    db = Db({"engine": "postgres", "engineVersion": "16.3"}, net)
    db.sync()
    for version, allow, words in (("17.2", False, "allowMajorVersionUpgrade"), ("15.4", True, "cannot downgrade")):
        db.spec.update(engineVersion=version, allowMajorVersionUpgrade=allow)
        obs = A.observe(db.req())
        before = api_calls()
        with pytest.raises(InvalidSpecError, match=words):
            A.update(db.req(), obs)
        assert not writes(delta(before, api_calls()))
    db.spec.update(engineVersion="17.2", allowMajorVersionUpgrade=True)
    A.update(db.req(), A.observe(db.req()))
    assert rds().describe_db_instances(DBInstanceIdentifier=identifier(REF))["DBInstances"][0]["EngineVersion"] == "17.2"


# ------------------------------------------------------------------ admission-level rules
@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"engine": "postgres", "storage": {"allocatedGib": 10}}, "greater than or equal to 20"),
        ({"engine": "aurora-mysql", "serverless": {"minCapacity": 8, "maxCapacity": 2}}, "minCapacity must not exceed"),
        ({"engine": "oracle-ee"}, "Input should be"),
        ({"engine": "postgres", "serverless": {}}, "aurora"),
        ({"engine": "postgres", "storage": {"allocatedGib": 50, "maxAllocatedGib": 40}}, "greater than storage.allocatedGib"),
    ],
)
def test_bad_specs_are_refused(spec: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        DatabaseSpec.model_validate({"virtualNetwork": "net", **spec})


def test_a_database_without_a_network_is_refused() -> None:
    with pytest.raises(ValidationError, match="virtualNetwork"):
        DatabaseSpec.model_validate({"engine": "postgres"})


# ------------------------------------------------------------------ connections
def test_connected_function_carries_the_client_group_and_reads_exactly_that_secret(net: Any) -> None:
    db = Db({"engine": "postgres"}, net)
    status = {**db.sync().identifiers}
    status = {**status, **{k: v for k, v in A.observe(db.req()).identifiers.items()}}
    fa = FunctionAdapter()
    ref = ObjectRef("StackeryFunction", "shop", "worker", "uid-fn")
    import base64
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return e\n")
    spec = FunctionSpec.model_validate(
        {
            "code": {"zipBase64": base64.b64encode(buf.getvalue()).decode()},
            "virtualNetwork": "net",
            "connections": [{"kind": "StackeryDatabase", "name": "orders"}],
        }
    )
    nodes = {**net, ("StackeryDatabase", "orders"): status}
    req = Request(ref=ref, spec=spec, region="us-east-1", external_name=fa.external_name(ref, spec), nodes=nodes, wiring=WIRING)
    obs = converge(fa, req)
    cfg = boto3.client("lambda", region_name="us-east-1").get_function_configuration(FunctionName=req.external_name)
    assert status["clientSecurityGroupId"] in cfg["VpcConfig"]["SecurityGroupIds"]
    assert obs.identifiers["securityGroupId"] in cfg["VpcConfig"]["SecurityGroupIds"]
    env = cfg["Environment"]["Variables"]
    assert env["DB_ADDRESS"] == status["endpoint"] and env["DB_PORT"] == "5432"
    assert env["DB_ROOT_USER_SECRET_ARN"] == status["masterUserSecretArn"]
    policy = obs.actual.want["policy"]
    secret_stmt = [s for s in policy["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    assert secret_stmt == [
        {
            "Sid": "Connection1Database",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [status["masterUserSecretArn"]],
        }
    ]


def test_a_function_in_another_network_is_refused_before_any_aws_call(net: Any) -> None:
    db = Db({"engine": "postgres"}, net)
    status = A.observe(db.req()).identifiers if db.sync() else {}
    other = make_network("other", "10.1.0.0/16")
    fa = FunctionAdapter()
    ref = ObjectRef("StackeryFunction", "shop", "worker", "uid-fn")
    spec = FunctionSpec.model_validate(
        {
            "code": {"s3": {"bucket": "code-bucket", "key": "k"}},
            "virtualNetwork": "other",
            "connections": [{"kind": "StackeryDatabase", "name": "orders"}],
        }
    )
    nodes = {("StackeryVirtualNetwork", "other"): other, ("StackeryDatabase", "orders"): dict(status)}
    req = Request(ref=ref, spec=spec, region="us-east-1", external_name=fa.external_name(ref, spec), nodes=nodes, wiring=WIRING)
    before = api_calls()
    with pytest.raises(InvalidSpecError, match="set spec.virtualNetwork: net"):
        fa.observe(req)
    assert not delta(before, api_calls())


def test_delete_works_when_the_network_is_no_longer_handed_over(net: Any) -> None:
    """A whole namespace deleted at once: the network is deleting too and is not resolved any more."""
    db = Db({"engine": "mysql", "deletionProtection": False, "skipFinalSnapshot": True}, net)
    db.sync()
    db.nodes = {}
    res = A.delete(db.req(), A.observe(db.req()))
    assert res.done and not A.observe(db.req()).exists
    assert not ec2().describe_security_groups(Filters=[{"Name": "tag:stackery.io/kind", "Values": ["StackeryDatabase"]}])[
        "SecurityGroups"
    ]
