"""Pure DynamoDB helpers for the Table: key schema, attributes, throughput, index and autoscaling
definitions derived from the spec.

Why: the desired-state rules apart from the calls that apply them (table.py), readable and testable
without AWS.
"""

from __future__ import annotations

from typing import Any

from ..api.table import GlobalSecondaryIndex, KeyAttribute, TableSpec

DIMENSIONS = {
    ("table", "read"): "dynamodb:table:ReadCapacityUnits",
    ("table", "write"): "dynamodb:table:WriteCapacityUnits",
    ("index", "read"): "dynamodb:index:ReadCapacityUnits",
    ("index", "write"): "dynamodb:index:WriteCapacityUnits",
}
METRIC = {"read": "DynamoDBReadCapacityUtilization", "write": "DynamoDBWriteCapacityUtilization"}


def key_schema(hash_key: KeyAttribute, range_key: KeyAttribute | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        keys.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return keys


def attribute_definitions(spec: TableSpec) -> list[dict[str, str]]:
    attrs: dict[str, str] = {}
    for k in [spec.hash_key, spec.range_key, *[x for g in spec.global_secondary_indexes for x in (g.hash_key, g.range_key)]]:
        if k is not None:
            attrs[k.name] = k.type
    return [{"AttributeName": n, "AttributeType": t} for n, t in sorted(attrs.items())]


def throughput(spec: TableSpec) -> dict[str, int] | None:
    """Provisioned throughput to create with (autoscaling starts at its minimum)."""
    if spec.billing_mode != "PROVISIONED":
        return None
    if spec.autoscaling is not None:
        return {"ReadCapacityUnits": spec.autoscaling.read.min, "WriteCapacityUnits": spec.autoscaling.write.min}
    assert spec.capacity is not None
    return {"ReadCapacityUnits": spec.capacity.read, "WriteCapacityUnits": spec.capacity.write}


def index_definition(g: GlobalSecondaryIndex) -> dict[str, Any]:
    return {"KeySchema": key_schema(g.hash_key, g.range_key), "Projection": {"ProjectionType": g.projection}}


def index_create(g: GlobalSecondaryIndex, spec: TableSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"IndexName": g.name, **index_definition(g)}
    tp = throughput(spec)
    if tp is not None:
        body["ProvisionedThroughput"] = tp
    return body


def scaling_targets(spec: TableSpec, table: str) -> dict[str, list[int]]:
    """ "resourceId|dimension" -> [min, max] for the table and each index."""
    a = spec.autoscaling
    if a is None:
        return {}
    out: dict[str, list[int]] = {}
    resources = [("table", f"table/{table}")] + [
        ("index", f"table/{table}/index/{g.name}") for g in spec.global_secondary_indexes
    ]
    for level, rid in resources:
        for rw, rng in (("read", a.read), ("write", a.write)):
            out[f"{rid}|{DIMENSIONS[(level, rw)]}"] = [rng.min, rng.max]
    return out


def scaling_policies(spec: TableSpec, table: str) -> dict[str, float]:
    """ "resourceId|dimension" -> target utilisation."""
    if spec.autoscaling is None:
        return {}
    return {k: float(spec.autoscaling.target_utilization) for k in scaling_targets(spec, table)}


def policy_name(dimension: str) -> str:
    return "stackery-" + dimension.split(":")[-1]
