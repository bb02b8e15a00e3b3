"""Plain structures -> DynamoDB expressions, with every attribute name and value a placeholder.

Why: a condition written as `{"status": "pending", "attempts": {"<": 3}}` is easier to read than
`#a = :a AND #b < :b` and cannot be injected into: no user input is ever concatenated into an expression;
names become `#n0, #n1, ...` and values `:v0, :v1, ...` (ExpressionAttributeNames/Values).

Condition grammar (a mapping; several entries are ANDed):
    {"field": value}                              field = value
    {"field": {"=" | "!=" | "<>" | "<" | "<=" | ">" | ">=": value}}
    {"field": {"between": [low, high]}}
    {"field": {"in": [v1, v2, ...]}}
    {"field": {"begins_with": prefix}}
    {"field": {"contains": value}}
    {"field": {"exists": True | False}}
    {"field": {"type": "S" | "N" | "B" | "SS" | "NS" | "BS" | "M" | "L" | "BOOL" | "NULL"}}
    {"field": {"size": {"<": 10}}}                size(field) < 10
    {"$or": [cond, cond, ...]}, {"$and": [...]}, {"$not": cond}
A field name is one attribute name, taken literally (dots included); reach into a map with a tuple
path: {("address", "city"): "Berlin"}, or into a list element with an int: {("tags", 0): "x"}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

Path = str | tuple[Any, ...]
COMPARE = {"=": "=", "==": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
TYPES = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "BOOL", "NULL"}
_serializer = TypeSerializer()


def to_dynamo(value: Any) -> Any:
    """Python -> DynamoDB's typed JSON (floats go through str, so 0.1 stays 0.1)."""
    return _serializer.serialize(_decimals(value))


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_decimals(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {_decimals(v) for v in value}
    return value


class Expr:
    """Collects placeholders for one request (names and values shared by all its expressions)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._name_of: dict[str, str] = {}

    def name(self, path: Path) -> str:
        parts = path if isinstance(path, tuple) else (path,)
        if not parts:
            raise ValueError("an attribute path cannot be empty")
        out = ""
        for i, p in enumerate(parts):
            if isinstance(p, int) and not isinstance(p, bool):
                if i == 0:
                    raise ValueError("an attribute path starts with a name, not a list index")
                out += f"[{p}]"
                continue
            if not isinstance(p, str) or p == "":
                raise ValueError(f"attribute names are non-empty strings, got {p!r}")
            if p not in self._name_of:
                ph = f"#n{len(self._name_of)}"
                self._name_of[p] = ph
                self.names[ph] = p
            out += ("." if i else "") + self._name_of[p]
        return out

    def value(self, v: Any) -> str:
        ph = f":v{len(self.values)}"
        self.values[ph] = to_dynamo(v)
        return ph

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            out["ExpressionAttributeValues"] = dict(self.values)
        return out


def condition(expr: Expr, cond: Mapping[Any, Any]) -> str:
    """The ConditionExpression / FilterExpression for `cond` (see the module docstring)."""
    if not isinstance(cond, Mapping) or not cond:
        raise ValueError("a condition is a non-empty mapping of field -> value or {operator: value}")
    parts = [_one(expr, k, v) for k, v in cond.items()]
    return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)


def _one(expr: Expr, field: Any, spec: Any) -> str:
    if field in ("$or", "$and"):
        if not isinstance(spec, Sequence) or isinstance(spec, (str, bytes)) or not spec:
            raise ValueError(f"{field} takes a non-empty list of conditions")
        joined = f" {field[1:].upper()} ".join(f"({condition(expr, c)})" for c in spec)
        return joined
    if field == "$not":
        return f"NOT ({condition(expr, spec)})"
    if isinstance(field, str) and field.startswith("$"):
        raise ValueError(f"unknown condition operator {field!r} (use $or, $and, $not)")
    if not isinstance(spec, Mapping):
        return f"{expr.name(field)} = {expr.value(spec)}"
    if not spec:
        raise ValueError(f"empty operator mapping for {field!r}")
    return " AND ".join(_op(expr, field, op, arg) for op, arg in spec.items())


def _op(expr: Expr, field: Any, op: str, arg: Any) -> str:
    name = expr.name(field)
    if op in COMPARE:
        return f"{name} {COMPARE[op]} {expr.value(arg)}"
    if op == "between":
        low, high = _pair(op, arg)
        return f"{name} BETWEEN {expr.value(low)} AND {expr.value(high)}"
    if op == "in":
        if not isinstance(arg, (list, tuple, set, frozenset)) or not arg:
            raise ValueError("in takes a non-empty list of values")
        return f"{name} IN ({', '.join(expr.value(v) for v in arg)})"
    if op == "begins_with":
        return f"begins_with({name}, {expr.value(arg)})"
    if op == "contains":
        return f"contains({name}, {expr.value(arg)})"
    if op == "exists":
        return f"attribute_exists({name})" if arg else f"attribute_not_exists({name})"
    if op == "type":
        if arg not in TYPES:
            raise ValueError(f"type must be one of {sorted(TYPES)}")
        return f"attribute_type({name}, {expr.value(arg)})"
    if op == "size":
        if not isinstance(arg, Mapping) or len(arg) != 1:
            raise ValueError('size takes one comparison, e.g. {"size": {"<": 10}}')
        ((cmp, v),) = arg.items()
        if cmp not in COMPARE:
            raise ValueError(f"size compares with one of {sorted(COMPARE)}")
        return f"size({name}) {COMPARE[cmp]} {expr.value(v)}"
    raise ValueError(f"unknown operator {op!r} for {field!r}")


def _pair(op: str, arg: Any) -> tuple[Any, Any]:
    if not isinstance(arg, (list, tuple)) or len(arg) != 2:
        raise ValueError(f"{op} takes [low, high]")
    return arg[0], arg[1]


def key_condition(expr: Expr, where: Mapping[str, Any], hash_key: str, range_key: str | None) -> str:
    """KeyConditionExpression: the hash key by equality, the range key (if given) by =, <, <=, >, >=,
    between or begins_with."""
    if hash_key not in where:
        raise ValueError(f"select needs the partition key {hash_key!r} (by equality)")
    extra = set(where) - {hash_key, range_key}
    if extra:
        raise ValueError(
            f"select's where takes only the key attributes ({hash_key}, {range_key}); use filter for {sorted(extra)}"
        )
    h = where[hash_key]
    if isinstance(h, Mapping):
        raise ValueError(f"the partition key {hash_key!r} is matched by equality only")
    parts = [f"{expr.name(hash_key)} = {expr.value(h)}"]
    if range_key is not None and range_key in where:
        r = where[range_key]
        if not isinstance(r, Mapping):
            parts.append(f"{expr.name(range_key)} = {expr.value(r)}")
        else:
            if len(r) != 1:
                raise ValueError("the sort key takes one operator")
            ((op, arg),) = r.items()
            if op not in ("=", "==", "<", "<=", ">", ">=", "between", "begins_with"):
                raise ValueError(f"the sort key takes =, <, <=, >, >=, between or begins_with, not {op!r}")
            parts.append(_op(expr, range_key, op, arg))
    return " AND ".join(parts)
