"""Function adapter against moto (in-process): env from connections with clash suffixes, least-privilege
role policy on exactly the connected ARNs, stream triggers, code/config updates, delete."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import boto3
import pytest

from controller.adapters.function import FunctionAdapter, environment
from controller.adapters.table import TableAdapter
from controller.api.function import FunctionSpec
from controller.api.table import TableSpec
from controller.core.adapter import NodeRef, ObjectRef, Request
from controller.errors import InvalidSpecError
from controller.registry import WIRING
from tests.unit.helpers import aws_name

from .helpers import api_calls, converge, delta, writes

A = FunctionAdapter()


def zip_b64(body: str = "def handler(e, c):\n    return e\n") -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", body)
    return base64.b64encode(buf.getvalue()).decode()


def make_table(name: str, **spec: Any) -> dict[str, Any]:
    ta = TableAdapter()
    ref = ObjectRef("StackeryTable", "team-a", name, f"uid-{name}")
    parsed = TableSpec.model_validate(spec)
    r = Request(ref=ref, spec=parsed, region="us-east-1", external_name=ta.external_name(ref, parsed))
    return dict(converge(ta, r).identifiers)


NODES: dict[tuple[str, str], dict[str, Any]] = {}


def req(spec: dict[str, Any], nodes: dict[tuple[str, str], dict[str, Any]], **kw: Any) -> Any:
    spec = {"code": {"zipBase64": zip_b64()}, **spec}
    parsed = FunctionSpec.model_validate(spec)
    ref = ObjectRef("StackeryFunction", "team-a", kw.pop("name", "worker"), kw.pop("uid", "uid-fn"))
    return Request(
        ref=ref, spec=parsed, region="us-east-1", external_name=A.external_name(ref, parsed), nodes=nodes, wiring=WIRING, **kw
    )


def ensure(r: Any) -> Any:
    return converge(A, r)


def lam() -> Any:
    return boto3.client("lambda", region_name="us-east-1")


def iam() -> Any:
    return boto3.client("iam", region_name="us-east-1")


def role_policy(role: str) -> dict[str, Any]:
    doc = iam().get_role_policy(RoleName=role, PolicyName="stackery-connections")["PolicyDocument"]
    return doc if isinstance(doc, dict) else json.loads(doc)


def test_env_suffixes_are_deterministic() -> None:
    spec = FunctionSpec.model_validate(
        {
            "code": {"imageUri": "x"},
            "environment": {"TABLE_NAME": "mine"},
            "connections": [
                {"kind": "StackeryTable", "name": "a"},
                {"kind": "StackeryTable", "name": "b"},
                {"kind": "StackeryConfigStore", "name": "c"},
            ],
        }
    )
    nodes = {
        ("StackeryTable", "a"): {"externalName": "ta", "arn": "arn:a"},
        ("StackeryTable", "b"): {"externalName": "tb", "arn": "arn:b"},
        ("StackeryConfigStore", "c"): {"path": "/ns/c/"},
    }
    assert environment(spec, nodes, WIRING) == {
        "TABLE_NAME": "mine",
        "TABLE_NAME_2": "ta",
        "TABLE_ARN": "arn:a",
        "TABLE_NAME_3": "tb",
        "TABLE_ARN_2": "arn:b",
        "CONFIG_PATH": "/ns/c/",
    }


def test_references_cover_connections_triggers_and_code() -> None:
    spec = FunctionSpec.model_validate(
        {
            "code": {"objectStore": {"name": "code", "key": "f.zip"}},
            "connections": [{"kind": "StackeryTable", "name": "orders"}],
            "triggers": [{"table": "orders"}],
        }
    )
    refs = A.references(spec)
    assert [(r.kind, r.name, r.role) for r in refs if isinstance(r, NodeRef)] == [
        ("StackeryTable", "orders", "connection"),
        ("StackeryTable", "orders", "trigger"),  # two wires to one table; the core reads it once
        ("StackeryObjectStore", "code", "code"),
    ]


def test_connected_function_env_policy_and_trigger(aws: None) -> None:
    orders = make_table("orders")
    audit = make_table("audit")
    nodes = {
        ("StackeryTable", "orders"): orders,
        ("StackeryTable", "audit"): audit,
        ("StackeryObjectStore", "files"): {"externalName": "files-bucket", "arn": "arn:aws:s3:::files-bucket"},
        ("StackeryConfigStore", "cfg"): {"path": "/team-a/cfg/"},
    }
    spec = {
        "connections": [
            {"kind": "StackeryTable", "name": "orders"},
            {"kind": "StackeryTable", "name": "audit"},
            {"kind": "StackeryObjectStore", "name": "files"},
            {"kind": "StackeryConfigStore", "name": "cfg"},
        ],
        "triggers": [{"table": "orders"}],
    }
    r = req(spec, nodes)
    obs = ensure(r)
    assert obs.diffs == ()
    cfg = lam().get_function(FunctionName=aws_name("team-a", "worker", max_len=64))["Configuration"]
    assert cfg["Environment"]["Variables"] == {
        "TABLE_NAME": aws_name("team-a", "orders", max_len=255),
        "TABLE_ARN": orders["arn"],
        "TABLE_NAME_2": aws_name("team-a", "audit", max_len=255),
        "TABLE_ARN_2": audit["arn"],
        "BUCKET_NAME": "files-bucket",
        "BUCKET_ARN": "arn:aws:s3:::files-bucket",
        "CONFIG_PATH": "/team-a/cfg/",
    }
    assert cfg["Role"].endswith(":role/stackery/team-a/" + aws_name("team-a", "worker", prefix="stackery-fn", max_len=64))
    doc = role_policy(aws_name("team-a", "worker", prefix="stackery-fn", max_len=64))
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert set(by_sid) == {
        "Logs",
        "Connection1Table",
        "Connection2Table",
        "Connection3ObjectStore",
        "Connection4ConfigStore",
        "Trigger1Stream",
    }
    assert by_sid["Connection1Table"]["Resource"] == [orders["arn"], orders["arn"] + "/index/*"]
    assert (
        "dynamodb:PutItem" in by_sid["Connection1Table"]["Action"]
        and "dynamodb:DeleteTable" not in by_sid["Connection1Table"]["Action"]
    )
    assert by_sid["Connection3ObjectStore"]["Resource"] == ["arn:aws:s3:::files-bucket", "arn:aws:s3:::files-bucket/*"]
    assert by_sid["Connection4ConfigStore"]["Resource"] == ["arn:aws:ssm:us-east-1:123456789012:parameter/team-a/cfg/*"]
    assert by_sid["Trigger1Stream"]["Resource"] == [orders["streamArn"]]
    assert all(
        s["Effect"] == "Allow" and "*" not in json.dumps(s["Resource"]).replace("/*", "").replace(":*", "")
        for s in doc["Statement"]
    )
    esm = lam().list_event_source_mappings(FunctionName=aws_name("team-a", "worker", max_len=64))["EventSourceMappings"]
    assert [(m["EventSourceArn"], m["BatchSize"], m["StartingPosition"]) for m in esm] == [
        (orders["streamArn"], 1, "TRIM_HORIZON")
    ]

    # connections change: audit dropped, trigger removed -> env, policy and mapping follow
    r2 = req({"connections": [{"kind": "StackeryTable", "name": "orders"}]}, nodes)
    obs = A.observe(r2)
    assert {"environment", "rolePolicy", "triggers"} <= {d.field for d in obs.diffs}
    A.update(r2, obs)
    assert A.observe(r2).diffs == ()
    assert set(
        lam().get_function(FunctionName=aws_name("team-a", "worker", max_len=64))["Configuration"]["Environment"]["Variables"]
    ) == {
        "TABLE_NAME",
        "TABLE_ARN",
    }
    assert {s["Sid"] for s in role_policy(aws_name("team-a", "worker", prefix="stackery-fn", max_len=64))["Statement"]} == {
        "Logs",
        "Connection1Table",
    }
    assert lam().list_event_source_mappings(FunctionName=aws_name("team-a", "worker", max_len=64))["EventSourceMappings"] == []


def test_code_and_configuration_updates(aws: None) -> None:
    r = req({}, {})
    ensure(r)
    r2 = req(
        {
            "code": {"zipBase64": zip_b64("def handler(e, c):\n    return 2\n")},
            "memorySize": 256,
            "timeout": 5,
            "reservedConcurrency": 3,
        },
        {},
    )
    obs = A.observe(r2)
    assert {d.field for d in obs.diffs} >= {"code", "memorySize", "timeout", "reservedConcurrency"}
    A.update(r2, obs)
    assert A.observe(r2).diffs == ()
    f = lam().get_function(FunctionName=aws_name("team-a", "worker", max_len=64))
    assert f["Configuration"]["MemorySize"] == 256 and f["Concurrency"]["ReservedConcurrentExecutions"] == 3


def test_trigger_on_table_without_stream_is_a_clear_error(aws: None) -> None:
    quiet = make_table("quiet", stream={"enabled": False})
    r = req({"triggers": [{"table": "quiet"}]}, {("StackeryTable", "quiet"): quiet})
    with pytest.raises(InvalidSpecError) as err:
        A.create(r)
    assert "has no stream" in err.value.message


def test_delete_removes_function_role_and_mappings(aws: None) -> None:
    orders = make_table("orders")
    r = req({"triggers": [{"table": "orders"}]}, {("StackeryTable", "orders"): orders})
    ensure(r)
    assert A.delete(r, A.observe(r)).done
    assert not A.observe(r).exists
    assert lam().list_event_source_mappings()["EventSourceMappings"] == []
    with pytest.raises(iam().exceptions.NoSuchEntityException):
        iam().get_role(RoleName=aws_name("team-a", "worker", prefix="stackery-fn", max_len=64))


def test_given_role_arn_is_used_and_no_iam_is_managed(aws: None) -> None:
    role = iam().create_role(RoleName="mine", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))[
        "Role"
    ]["Arn"]
    r = req({"roleArn": role}, {})
    assert ensure(r).diffs == ()
    assert lam().get_function(FunctionName=aws_name("team-a", "worker", max_len=64))["Configuration"]["Role"] == role
    assert [x["RoleName"] for x in iam().list_roles()["Roles"]] == ["mine"]


def test_in_sync_check_is_read_only(aws: None) -> None:
    orders = make_table("orders")
    r = req(
        {"connections": [{"kind": "StackeryTable", "name": "orders"}], "triggers": [{"table": "orders"}]},
        {("StackeryTable", "orders"): orders},
    )
    ensure(r)
    before = api_calls()
    assert A.observe(r).diffs == ()
    calls = delta(before, api_calls())
    assert writes(calls) == {} and sum(calls.values()) == 4, dict(calls)


def test_role_of_a_refused_create_is_found_and_deleted(aws: None) -> None:
    """CreateRole succeeds, CreateFunction is refused (moto would accept it: the refusal is injected
    with a botocore before-call hook): the role must not survive the object's deletion."""
    from botocore.exceptions import ClientError

    from controller.aws.clients import client

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InvalidParameterValueException", "Message": "refused"}}, "CreateFunction")

    hook = client("lambda", "us-east-1").meta.events
    hook.register("before-call.lambda.CreateFunction", refuse)
    r = req({}, {})
    with pytest.raises(ClientError):
        A.create(r)
    hook.unregister("before-call.lambda.CreateFunction", refuse)
    role = aws_name("team-a", "worker", prefix="stackery-fn", max_len=64)
    assert iam().get_role(RoleName=role)["Role"]["Path"] == "/stackery/team-a/"
    # a first create costs no extra read; once a create was tried (the core's marker), the role is seen
    assert A.observe(r) == A.observe(r) and not A.observe(r).residual
    tried = req({}, {}, status={"pendingCreate": r.external_name})
    obs = A.observe(tried)
    assert not obs.exists and obs.residual
    assert A.delete(tried, obs).done
    assert not A.observe(tried).residual
    with pytest.raises(iam().exceptions.NoSuchEntityException):
        iam().get_role(RoleName=role)


def test_delete_after_its_table_is_gone(aws: None) -> None:
    """A namespace pruned at once: the Table's object (and status) is gone before the Function's
    finalizer runs. Observe must still find the function and its mappings, and delete them."""
    orders = make_table("orders")
    r = req(
        {"connections": [{"kind": "StackeryTable", "name": "orders"}], "triggers": [{"table": "orders"}]},
        {("StackeryTable", "orders"): orders},
    )
    ensure(r)
    orphaned = req({"connections": [{"kind": "StackeryTable", "name": "orders"}], "triggers": [{"table": "orders"}]}, {})
    obs = A.observe(orphaned)
    assert obs.exists and obs.owner_uid == "uid-fn" and obs.diffs == ()
    assert A.delete(orphaned, obs).done
    assert not A.observe(orphaned).exists
    assert lam().list_event_source_mappings()["EventSourceMappings"] == []
