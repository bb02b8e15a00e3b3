"""The stackery-tables client (clients/tables) against moto: every command, conditions, atomic counters,
limit + ordering on a sort key and on an index, pagination, hostile attribute names and values (never
part of an expression), typed errors (throttling via botocore's Stubber: moto never throttles), the
seed's certificate checker, and that the package installs on its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from stackery_tables import ConditionFailed, NotFound, Table, Throttled
from stackery_tables.expressions import Expr, condition

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ddb(aws: None) -> Iterator[Any]:
    c = boto3.client("dynamodb", region_name="us-east-1")
    c.create_table(
        TableName="certs",
        KeySchema=[{"AttributeName": "domain", "KeyType": "HASH"}, {"AttributeName": "issued", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "domain", "AttributeType": "S"},
            {"AttributeName": "issued", "AttributeType": "N"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "checked", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}, {"AttributeName": "checked", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield c


def test_insert_put_get_delete(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "certs")
    t = Table(client=ddb)  # the name from TABLE_NAME, as a connection sets it
    assert t.keys() == ("domain", "issued")
    t.insert({"domain": "a.example", "issued": 1, "status": "pending", "attempts": 0, "ratio": 0.1})
    with pytest.raises(ConditionFailed):
        t.insert({"domain": "a.example", "issued": 1, "status": "other"})
    got = t.get({"domain": "a.example", "issued": 1})
    assert got["status"] == "pending" and str(got["ratio"]) == "0.1"  # floats keep their decimal value
    old = t.put({"domain": "a.example", "issued": 1, "status": "issued"})
    assert old is not None and old["status"] == "pending"
    assert t.put({"domain": "b.example", "issued": 1, "status": "new"}) is None
    with pytest.raises(ConditionFailed):
        t.put({"domain": "b.example", "issued": 1, "status": "x"}, when={"status": "other"})
    with pytest.raises(NotFound):
        t.get({"domain": "nope", "issued": 1})
    with pytest.raises(ValueError, match="exactly"):
        t.get({"domain": "a.example"})
    with pytest.raises(ConditionFailed) as err:
        t.delete({"domain": "a.example", "issued": 1}, when={"status": "pending"})
    assert err.value.item is not None and err.value.item["status"] == "issued"  # as it is now
    assert t.delete({"domain": "a.example", "issued": 1}, when={"status": "issued"})["status"] == "issued"
    assert t.delete({"domain": "a.example", "issued": 1}) is None


def test_select_ordering_limit_ranges_index_and_pages(ddb: Any) -> None:
    t = Table("certs", client=ddb)
    for i in range(1, 8):
        t.put({"domain": "d.example", "issued": i, "status": "pending" if i % 2 else "issued", "checked": 100 - i})
    t.put({"domain": "other.example", "issued": 1, "status": "pending", "checked": 1})
    asc = [x["issued"] for x in t.select({"domain": "d.example"})]
    assert asc == [1, 2, 3, 4, 5, 6, 7]
    assert [x["issued"] for x in t.select({"domain": "d.example"}, descending=True, limit=3)] == [7, 6, 5]
    assert [x["issued"] for x in t.select({"domain": "d.example", "issued": {">": 5}})] == [6, 7]
    assert [x["issued"] for x in t.select({"domain": "d.example", "issued": {"between": [2, 4]}})] == [2, 3, 4]
    assert [x["issued"] for x in t.select({"domain": "d.example"}, filter={"status": "issued"})] == [2, 4, 6]
    # one item per page: every item still comes, page after page, as the iterator is consumed
    calls: list[str] = []
    ddb.meta.events.register("before-call.dynamodb.Query", lambda **kw: calls.append("Query"))
    assert [x["issued"] for x in t.select({"domain": "d.example"}, page_size=1)] == [1, 2, 3, 4, 5, 6, 7]
    assert len(calls) >= 7
    # on an index: pending items by when they were checked, oldest first, at most 2
    got = list(t.select({"status": "pending"}, index="by-status", limit=2))
    assert [(x["domain"], x["checked"]) for x in got] == [("other.example", 1), ("d.example", 93)]
    assert t.keys("by-status") == ("status", "checked")
    with pytest.raises(ValueError, match="partition key"):
        list(t.select({"issued": 1}))
    with pytest.raises(ValueError, match="use filter"):
        list(t.select({"domain": "d.example", "status": "x"}))
    with pytest.raises(NotFound, match="no index"):
        list(t.select({"x": 1}, index="missing"))


def test_update_set_remove_counters_append_sets_conditions(ddb: Any) -> None:
    t = Table("certs", client=ddb, hash_key="domain", range_key="issued")
    key = {"domain": "c.example", "issued": 1}
    t.insert({**key, "status": "pending", "note": "x"})
    new = t.update(key, set={"status": "checking"}, remove=["note"], increment={"attempts": 1}, append={"log": ["checked"]})
    assert new["status"] == "checking" and "note" not in new and new["attempts"] == 1 and new["log"] == ["checked"]
    new = t.update(
        key, increment={"attempts": 2}, decrement={"budget": 5}, append={"log": ["again"]}, add_to_set={"tags": {"a", "b"}}
    )
    assert new["attempts"] == 3 and new["budget"] == -5 and new["log"] == ["checked", "again"] and new["tags"] == {"a", "b"}
    new = t.update(key, set={"status": "issued"}, when={"status": "checking", "attempts": {"<": 5}})
    assert new["status"] == "issued"
    with pytest.raises(ConditionFailed) as err:
        t.update(key, set={"status": "x"}, when={"attempts": {">=": 10}})
    assert err.value.item is not None and err.value.item["attempts"] == 3
    with pytest.raises(NotFound):
        t.update({"domain": "nope", "issued": 1}, set={"status": "x"})
    made = t.update({"domain": "nope", "issued": 1}, increment={"hits": 1}, create=True)
    assert made["hits"] == 1
    # nested attributes by tuple path
    t.update(key, set={"meta": {"city": "Berlin", "zip": "10115"}})
    assert t.update(key, set={("meta", "city"): "Hamburg"})["meta"] == {"city": "Hamburg", "zip": "10115"}
    with pytest.raises(ValueError, match="needs set"):
        t.update(key)


def test_conditions_compose_and_operators(ddb: Any) -> None:
    t = Table("certs", client=ddb, hash_key="domain", range_key="issued")
    key = {"domain": "e.example", "issued": 1}
    t.insert({**key, "status": "pending", "attempts": 2, "tags": ["x", "y"], "name": "example-cert"})
    ok = [
        {"status": {"in": ["pending", "new"]}},
        {"attempts": {"between": [1, 3]}},
        {"name": {"begins_with": "example"}},
        {"tags": {"contains": "y"}},
        {"owner": {"exists": False}},
        {"attempts": {"type": "N"}},
        {"tags": {"size": {"=": 2}}},
        {"$or": [{"status": "done"}, {"attempts": {"<": 3}}]},
        {"$not": {"status": "done"}},
        {"status": {"!=": "done"}, "attempts": {">=": 2, "<=": 2}},
    ]
    for cond in ok:
        assert t.update(key, set={"seen": True}, when=cond)["seen"] is True, cond
    with pytest.raises(ConditionFailed):
        t.update(key, set={"seen": False}, when={"$and": [{"status": "pending"}, {"attempts": {">": 2}}]})
    for bad, msg in (({}, "non-empty"), ({"a": {"~": 1}}, "unknown operator"), ({"$xor": []}, "unknown condition operator")):
        with pytest.raises(ValueError, match=msg):
            condition(Expr(), bad)


HOSTILE_NAMES = ["#n0", ":v0", "a.b", "status) OR (attribute_exists(domain", "size", "data", "name with spaces", "ünïcødé", "[0]"]
HOSTILE_VALUES = ["' OR '1'='1", ":v1", "#n1", ") OR (1=1", "a\nb", "🙂"]


def test_hostile_attribute_names_and_values_are_placeholders(ddb: Any) -> None:
    t = Table("certs", client=ddb, hash_key="domain", range_key="issued")
    key = {"domain": "h.example", "issued": 1}
    item = {**key, **{n: v for n, v in zip(HOSTILE_NAMES, (HOSTILE_VALUES * 2)[: len(HOSTILE_NAMES)], strict=True)}}
    t.insert(item)
    assert t.get(key) == item
    for name, value in zip(HOSTILE_NAMES, (HOSTILE_VALUES * 2)[: len(HOSTILE_NAMES)], strict=True):
        expr = Expr()
        text = condition(expr, {name: value})
        # only placeholders reach the expression; the name and the value travel beside it
        assert text == "#n0 = :v0" and expr.names == {"#n0": name} and expr.values == {":v0": {"S": value}}
        assert t.update(key, set={name: value + "!"}, when={name: value})[name] == value + "!"
        with pytest.raises(ConditionFailed):  # a value that looks like an expression is still just a value
            t.update(key, set={name: "x"}, when={name: value})
    assert list(t.select({"domain": "h.example"}, filter={"status) OR (attribute_exists(domain": "nothing"})) == []


def test_throttling_and_missing_table_are_typed(ddb: Any) -> None:
    """moto never throttles: the error DynamoDB gives after botocore's retries is fed with the Stubber."""
    c = boto3.client("dynamodb", region_name="us-east-1")
    t = Table("certs", client=c, hash_key="domain", range_key="issued")
    with Stubber(c) as stub:
        stub.add_client_error("get_item", service_error_code="ProvisionedThroughputExceededException", http_status_code=400)
        with pytest.raises(Throttled, match="throttled"):
            t.get({"domain": "a", "issued": 1})
    with pytest.raises(NotFound, match="not found"):
        Table("missing", client=ddb, hash_key="k").get({"k": "x"})
    with pytest.raises(ValueError, match="TABLE_NAME"):
        Table("", client=ddb)


def test_the_seed_certificate_checker(ddb: Any) -> None:
    """Stackery's own use case: a checker run every minute selects pending certificate records and updates them."""
    sys.path.insert(0, str(ROOT / "examples/functions"))
    try:
        import certificate_checker
    finally:
        sys.path.pop(0)
    t = Table("certs", client=ddb)
    t.put({"domain": "ok.example", "issued": 1, "status": "pending", "checked": 0, "attempts": 0})
    t.put({"domain": "slow.example", "issued": 1, "status": "pending", "checked": 0, "attempts": 2})
    t.put({"domain": "done.example", "issued": 1, "status": "issued", "checked": 0, "attempts": 0})
    result = certificate_checker.check(t, is_issued=lambda domain: domain == "ok.example", now=500)
    assert result == {"checked": 2, "issued": 1, "failed": 1}
    assert t.get({"domain": "ok.example", "issued": 1})["status"] == "issued"
    slow = t.get({"domain": "slow.example", "issued": 1})
    assert slow["status"] == "failed" and slow["attempts"] == 3 and slow["checked"] == 500
    assert t.get({"domain": "done.example", "issued": 1})["checked"] == 0  # not pending: untouched


def test_the_package_builds_on_its_own(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT / "clients/tables"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert [p.name for p in tmp_path.glob("stackery_tables-*.whl")]


def test_the_example_checker_carries_the_current_sources() -> None:
    """examples/messaging.yaml's checker zip holds exactly today's client and checker (hack/checker_zip.py)."""
    import base64
    import io
    import zipfile

    import checker_zip
    import yaml

    docs = list(yaml.safe_load_all((ROOT / "examples/messaging.yaml").read_text()))
    fn = next(d for d in docs if d["kind"] == "StackeryFunction" and d["metadata"]["name"] == "certificate-checker")
    z = zipfile.ZipFile(io.BytesIO(base64.b64decode(fn["spec"]["code"]["zipBase64"])))
    assert {n: z.read(n) for n in z.namelist()} == checker_zip.sources(), (
        "stale: run python hack/checker_zip.py into examples/messaging.yaml"
    )
