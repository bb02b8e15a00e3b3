"""StackeryTable + StackeryFunction wiring on a real apiserver, against a moto server."""

from __future__ import annotations

import json
from typing import Any

import testbed

from tests.unit.helpers import aws_name

from .conftest import aws, cond, ready, wait_for
from .test_objectstore_e2e import ROOT

ZIP = next(
    line.split(":", 1)[1].strip()
    for line in (ROOT / "examples/table-function.yaml").read_text().splitlines()
    if line.strip().startswith("zipBase64:")
)


def node(kind: str, name: str, **spec: Any) -> str:
    return json.dumps(
        {"apiVersion": "stackery.io/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": "default"}, "spec": spec}
    )


def role_policy(bed: testbed.TestBed, role: str) -> dict[str, Any]:
    doc = aws(bed, "iam").get_role_policy(RoleName=role, PolicyName="stackery-connections")["PolicyDocument"]
    return doc if isinstance(doc, dict) else json.loads(doc)


def test_function_waits_for_its_table_then_is_wired(bed: testbed.TestBed) -> None:
    fn = node(
        "StackeryFunction",
        "late-fn",
        code={"zipBase64": ZIP},
        connections=[{"kind": "StackeryTable", "name": "late-table"}],
        triggers=[{"table": "late-table"}],
    )
    bed.kubectl("apply", "-f", "-", input=fn)
    obj = wait_for(
        lambda: (o := bed.get("stackeryfunction", "late-fn")).get("status", {}).get("conditions") and o, what="conditions"
    )
    assert cond(obj, "Ready")["reason"] == "WaitingForReference"
    assert "StackeryTable late-table (not found)" in cond(obj, "Ready")["message"]
    assert cond(obj, "Stalled")["status"] == "False" and cond(obj, "Reconciling")["status"] == "True"
    lam = aws(bed, "lambda")
    assert aws_name("default", "late-fn", max_len=64) not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]

    bed.kubectl("apply", "-f", "-", input=node("StackeryTable", "late-table"))
    table = wait_for(lambda: ready(bed, "stackerytable", "late-table"), what="table Ready")
    wait_for(lambda: ready(bed, "stackeryfunction", "late-fn"), timeout=60, what="function Ready after its table")
    cfg = lam.get_function(FunctionName=aws_name("default", "late-fn", max_len=64))["Configuration"]
    assert cfg["Environment"]["Variables"] == {
        "TABLE_NAME": aws_name("default", "late-table", max_len=255),
        "TABLE_ARN": table["status"]["arn"],
    }
    esm = lam.list_event_source_mappings(FunctionName=aws_name("default", "late-fn", max_len=64))["EventSourceMappings"]
    assert [m["EventSourceArn"] for m in esm] == [table["status"]["streamArn"]]
    doc = role_policy(bed, aws_name("default", "late-fn", prefix="stackery-fn", max_len=64))
    table_stmt = next(s for s in doc["Statement"] if s["Sid"] == "Connection1Table")
    assert table_stmt["Resource"] == [table["status"]["arn"], table["status"]["arn"] + "/index/*"]

    # changing connections updates env, policy and mappings
    bed.kubectl("apply", "-f", "-", input=node("StackeryConfigStore", "late-cfg", parameters={"A": {"value": "1"}}))
    bed.kubectl(
        "patch",
        "stackeryfunction",
        "late-fn",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"connections": [{"kind": "StackeryConfigStore", "name": "late-cfg"}], "triggers": []}}),
    )
    wait_for(lambda: ready(bed, "stackeryfunction", "late-fn"), what="function re-wired")
    assert lam.get_function(FunctionName=aws_name("default", "late-fn", max_len=64))["Configuration"]["Environment"][
        "Variables"
    ] == {"CONFIG_PATH": "/default/late-cfg/"}
    assert [
        s["Sid"] for s in role_policy(bed, aws_name("default", "late-fn", prefix="stackery-fn", max_len=64))["Statement"]
    ] == ["Logs", "Connection1ConfigStore"]
    assert lam.list_event_source_mappings(FunctionName=aws_name("default", "late-fn", max_len=64))["EventSourceMappings"] == []

    # deleting the function removes its role and mappings
    bed.kubectl("delete", "stackeryfunction", "late-fn", "--timeout=60s")
    assert aws_name("default", "late-fn", max_len=64) not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert aws_name("default", "late-fn", prefix="stackery-fn", max_len=64) not in [
        r["RoleName"] for r in aws(bed, "iam").list_roles()["Roles"]
    ]


def test_example_table_and_function(bed: testbed.TestBed) -> None:
    bed.kubectl("apply", "-f", str(ROOT / "examples/objectstore.yaml"))
    bed.kubectl("apply", "-f", str(ROOT / "examples/table-function.yaml"))
    table = wait_for(lambda: ready(bed, "stackerytable", "orders"), timeout=60, what="orders Ready")
    fn = wait_for(lambda: ready(bed, "stackeryfunction", "order-worker"), timeout=60, what="order-worker Ready")
    assert fn["status"]["environmentKeys"] == ["BUCKET_ARN", "BUCKET_NAME", "TABLE_ARN", "TABLE_NAME"]
    cm = bed.get("configmap", "orders-outputs")["data"]
    assert (
        cm["TABLE_NAME"] == aws_name("default", "orders", max_len=255) and cm["TABLE_STREAM_ARN"] == table["status"]["streamArn"]
    )
    esm = aws(bed, "lambda").list_event_source_mappings(FunctionName=aws_name("default", "order-worker", max_len=64))[
        "EventSourceMappings"
    ]
    assert [(m["BatchSize"], m["StartingPosition"]) for m in esm] == [(10, "TRIM_HORIZON")]


def test_table_key_change_rejected_by_apiserver(bed: testbed.TestBed) -> None:
    bed.kubectl("apply", "-f", "-", input=node("StackeryTable", "keyed"))
    wait_for(lambda: ready(bed, "stackerytable", "keyed"), what="keyed Ready")
    res = bed.kubectl(
        "patch", "stackerytable", "keyed", "--type=merge", "-p", '{"spec": {"hashKey": {"name": "pk"}}}', check=False
    )
    assert res.returncode != 0 and "hashKey cannot change" in res.stderr and "Create a new StackeryTable" in res.stderr
    res = bed.kubectl(
        "patch", "stackerytable", "keyed", "--type=merge", "-p", '{"spec": {"rangeKey": {"name": "sk"}}}', check=False
    )
    assert res.returncode != 0 and "rangeKey cannot be added" in res.stderr
    res = bed.kubectl(
        "apply",
        "-f",
        "-",
        input=node("StackeryTable", "odd", autoscaling={"read": {"min": 1, "max": 2}, "write": {"min": 1, "max": 2}}),
        check=False,
    )
    assert res.returncode != 0 and "autoscaling needs billingMode PROVISIONED" in res.stderr


def test_autoscaling_drift_reported_then_corrected_and_backup_on_delete(bed: testbed.TestBed) -> None:
    spec = {
        "billingMode": "PROVISIONED",
        "autoscaling": {"read": {"min": 2, "max": 10}, "write": {"min": 2, "max": 10}},
        "driftPolicy": "Report",
    }
    bed.kubectl("apply", "-f", "-", input=node("StackeryTable", "scaled", **spec))
    wait_for(lambda: ready(bed, "stackerytable", "scaled"), what="scaled Ready")
    aas = aws(bed, "application-autoscaling")
    aas.register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId="table/" + aws_name("default", "scaled", max_len=255),
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=2,
        MaxCapacity=500,
    )
    drift = wait_for(
        lambda: [d for d in bed.get("stackerytable", "scaled")["status"]["drift"] if d["field"] == "autoscaling"],
        timeout=60,
        what="autoscaling drift",
    )
    assert "500" in drift[0]["actual"] and "500" not in drift[0]["desired"]
    bed.kubectl("patch", "stackerytable", "scaled", "--type=merge", "-p", '{"spec": {"driftPolicy": "Correct"}}')

    def max_read() -> int:
        got = aas.describe_scalable_targets(
            ServiceNamespace="dynamodb", ResourceIds=["table/" + aws_name("default", "scaled", max_len=255)]
        )
        return next(t["MaxCapacity"] for t in got["ScalableTargets"] if t["ScalableDimension"].endswith("ReadCapacityUnits"))

    wait_for(lambda: max_read() == 10, what="max capacity put back")
    bed.kubectl("delete", "stackerytable", "scaled", "--timeout=60s")
    ddb = aws(bed, "dynamodb")
    backups = [b for b in ddb.list_backups()["BackupSummaries"] if b["TableName"] == aws_name("default", "scaled", max_len=255)]
    assert len(backups) == 1
    events = bed.kubectl("get", "events", "--field-selector", "involvedObject.name=scaled", "-o", "json").stdout
    assert "BackupTaken" in events and backups[0]["BackupArn"] in events
    assert aws_name("default", "scaled", max_len=255) not in ddb.list_tables()["TableNames"]
    assert (
        aas.describe_scalable_targets(
            ServiceNamespace="dynamodb", ResourceIds=["table/" + aws_name("default", "scaled", max_len=255)]
        )["ScalableTargets"]
        == []
    )


def test_function_code_from_an_object_store(bed: testbed.TestBed) -> None:
    import base64

    from .conftest import put_object

    bed.kubectl("apply", "-f", "-", input=node("StackeryObjectStore", "code-bucket", versioning=True))
    store = wait_for(lambda: ready(bed, "stackeryobjectstore", "code-bucket"), what="code bucket Ready")
    put_object(aws(bed, "s3"), store["status"]["externalName"], "v1/fn.zip", base64.b64decode(ZIP))
    bed.kubectl(
        "apply",
        "-f",
        "-",
        input=node(
            "StackeryFunction",
            "from-bucket",
            code={"objectStore": {"name": "code-bucket", "key": "v1/fn.zip"}},
            connections=[{"kind": "StackeryObjectStore", "name": "code-bucket"}],
        ),
    )
    wait_for(lambda: ready(bed, "stackeryfunction", "from-bucket"), timeout=60, what="function from bucket Ready")
    lam = aws(bed, "lambda")
    f = lam.get_function(FunctionName=aws_name("default", "from-bucket", max_len=64))
    assert f["Configuration"]["Environment"]["Variables"]["BUCKET_NAME"] == store["status"]["externalName"]
    first = f["Tags"]["stackery.io/code-hash"]
    # new code under a new key is deployed (UpdateFunctionCode), the hash tag follows
    put_object(aws(bed, "s3"), store["status"]["externalName"], "v2/fn.zip", base64.b64decode(ZIP))
    bed.kubectl(
        "patch",
        "stackeryfunction",
        "from-bucket",
        "--type=merge",
        "-p",
        '{"spec": {"code": {"objectStore": {"name": "code-bucket", "key": "v2/fn.zip"}}}}',
    )
    wait_for(
        lambda: (
            lam.get_function(FunctionName=aws_name("default", "from-bucket", max_len=64))["Tags"]["stackery.io/code-hash"]
            != first
        ),
        what="new code deployed",
    )
    wait_for(lambda: ready(bed, "stackeryfunction", "from-bucket"), what="in sync after code change")
