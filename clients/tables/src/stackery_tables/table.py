"""One StackeryTable as a Function (or Docker Service) uses it: the commands of Stackery's Table node.

Why: Stackery Tables "take commands from Function nodes … insert, put, select, update, and delete messages
with easy-to-use structures that allow for conditions, atomic operations, limits, and ordering". Each
command is one DynamoDB call (select pages lazily); conditions are plain structures (expressions.py);
errors are typed; retries are botocore's (its standard/adaptive modes, configured on the client).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from .errors import ConditionFailed, NotFound, StackeryTableError, Throttled
from .expressions import Expr, condition, key_condition, to_dynamo

THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def _from_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    d = TypeDeserializer()
    return {k: d.deserialize(v) for k, v in item.items()}


class Table:
    """Table(name=None, client=None): name defaults to $TABLE_NAME (what a connection to a StackeryTable
    sets); the key schema is read once (DescribeTable) unless hash_key/range_key are given."""

    def __init__(
        self,
        name: str | None = None,
        *,
        client: Any = None,
        hash_key: str | None = None,
        range_key: str | None = None,
        indexes: Mapping[str, tuple[str, str | None]] | None = None,
    ) -> None:
        self.name = name or os.environ.get("TABLE_NAME") or ""
        if not self.name:
            raise ValueError("no table name: pass one, or connect the function to a StackeryTable (TABLE_NAME)")
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.client = client
        self._keys: tuple[str, str | None] | None = (hash_key, range_key) if hash_key else None
        self._indexes: dict[str, tuple[str, str | None]] = dict(indexes or {})

    # ------------------------------------------------------------------ schema
    def _schema(self) -> None:
        t = self._call("describe_table", TableName=self.name)["Table"]

        def keys(schema: Sequence[Mapping[str, str]]) -> tuple[str, str | None]:
            h = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
            return h, next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)

        if self._keys is None:
            self._keys = keys(t["KeySchema"])
        for ix in [*t.get("GlobalSecondaryIndexes", []), *t.get("LocalSecondaryIndexes", [])]:
            self._indexes.setdefault(ix["IndexName"], keys(ix["KeySchema"]))

    def keys(self, index: str | None = None) -> tuple[str, str | None]:
        """(partition key, sort key or None) of the table or one of its indexes."""
        if index is None:
            if self._keys is None:
                self._schema()
            assert self._keys is not None
            return self._keys
        if index not in self._indexes:
            self._schema()
        if index not in self._indexes:
            raise NotFound(f"table {self.name} has no index {index!r}")
        return self._indexes[index]

    def _key(self, key: Mapping[str, Any]) -> dict[str, Any]:
        h, r = self.keys()
        want = {h} | ({r} if r else set())
        if set(key) != want:
            raise ValueError(f"a key of {self.name} is exactly {sorted(want)}, got {sorted(key)}")
        return {k: to_dynamo(v) for k, v in key.items()}

    # ------------------------------------------------------------------ calls
    def _call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, op)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            msg = exc.response.get("Error", {}).get("Message", str(exc))
            if code == "ConditionalCheckFailedException":
                item = exc.response.get("Item")
                raise ConditionFailed(
                    f"{op} on {self.name}: the condition was not met", item=_from_dynamo(item) if item else None
                ) from exc
            if code in THROTTLED:
                raise Throttled(f"{op} on {self.name}: throttled after botocore's retries ({msg})") from exc
            if code == "ResourceNotFoundException":
                raise NotFound(f"table {self.name} not found ({msg})") from exc
            raise StackeryTableError(f"{op} on {self.name}: {code}: {msg}") from exc

    # ------------------------------------------------------------------ commands
    def insert(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Create the item; ConditionFailed when an item with its key exists (nothing is overwritten)."""
        h, _ = self.keys()
        expr = Expr()
        cond = f"attribute_not_exists({expr.name(h)})"
        self._call("put_item", TableName=self.name, Item=_item(item), ConditionExpression=cond, **expr.kwargs())
        return dict(item)

    def put(self, item: Mapping[str, Any], *, when: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Create or replace; returns the replaced item (None when it was new). `when`: only if it holds."""
        args: dict[str, Any] = {"TableName": self.name, "Item": _item(item), "ReturnValues": "ALL_OLD"}
        if when:
            expr = Expr()
            args["ConditionExpression"] = condition(expr, when)
            args.update(expr.kwargs())
        old = self._call("put_item", **args).get("Attributes")
        return _from_dynamo(old) if old else None

    def get(self, key: Mapping[str, Any], *, consistent: bool = False) -> dict[str, Any]:
        """The item with this key; NotFound when there is none."""
        got = self._call("get_item", TableName=self.name, Key=self._key(key), ConsistentRead=consistent).get("Item")
        if got is None:
            raise NotFound(f"no item {dict(key)} in {self.name}")
        return _from_dynamo(got)

    def select(
        self,
        where: Mapping[str, Any],
        *,
        index: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        filter: Mapping[str, Any] | None = None,  # noqa: A002 - the word users expect
        consistent: bool = False,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items whose key matches `where` (the partition key by equality, the sort key by =, <, <=, >, >=,
        between or begins_with), in sort-key order (descending=True reverses), on the table or an index,
        at most `limit` of them (after `filter`), fetched page by page as the iterator is consumed."""
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        h, r = self.keys(index)
        expr = Expr()
        args: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition(expr, where, h, r),
            "ScanIndexForward": not descending,
        }
        if index:
            args["IndexName"] = index
        if consistent:
            args["ConsistentRead"] = True
        if filter:
            args["FilterExpression"] = condition(expr, filter)
        args.update(expr.kwargs())
        if page_size or limit:
            args["Limit"] = page_size or limit
        return self._pages(args, limit)

    def _pages(self, args: dict[str, Any], limit: int | None) -> Iterator[dict[str, Any]]:
        given = 0
        while True:
            page = self._call("query", **args)
            for item in page.get("Items", []):
                yield _from_dynamo(item)
                given += 1
                if limit is not None and given >= limit:
                    return
            if not page.get("LastEvaluatedKey"):
                return
            args = {**args, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def update(
        self,
        key: Mapping[str, Any],
        *,
        set: Mapping[Any, Any] | None = None,  # noqa: A002
        remove: Sequence[Any] = (),
        increment: Mapping[Any, int | float] | None = None,
        decrement: Mapping[Any, int | float] | None = None,
        append: Mapping[Any, Sequence[Any]] | None = None,
        add_to_set: Mapping[Any, Any] | None = None,
        when: Mapping[str, Any] | None = None,
        create: bool = False,
    ) -> dict[str, Any]:
        """Change one item and return it as it is afterwards. set: attribute -> value; remove: attributes;
        increment/decrement: atomic counters (a missing counter counts from 0); append: list attribute ->
        values added at its end; add_to_set: set attribute -> values added. `when`: a condition.
        NotFound when the item does not exist (unless create=True)."""
        expr = Expr()
        sets: list[str] = []
        for path, v in (set or {}).items():
            sets.append(f"{expr.name(path)} = {expr.value(v)}")
        for sign, counters in (("+", increment or {}), ("-", decrement or {})):
            for path, by in counters.items():
                if isinstance(by, bool) or not isinstance(by, (int, float)):
                    raise ValueError(f"increment/decrement {path!r} by a number, not {by!r}")
                n = expr.name(path)
                sets.append(f"{n} = if_not_exists({n}, {expr.value(0)}) {sign} {expr.value(by)}")
        for path, values in (append or {}).items():
            n = expr.name(path)
            sets.append(f"{n} = list_append(if_not_exists({n}, {expr.value([])}), {expr.value(list(values))})")
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(sets))
        if remove:
            clauses.append("REMOVE " + ", ".join(expr.name(p) for p in remove))
        if add_to_set:
            clauses.append(
                "ADD "
                + ", ".join(
                    f"{expr.name(p)} {expr.value(v if isinstance(v, (builtins.set, frozenset)) else {v})}"
                    for p, v in add_to_set.items()
                )
            )
        if not clauses:
            raise ValueError("update needs set, remove, increment, decrement, append or add_to_set")
        conds = []
        if not create:
            h, _ = self.keys()
            conds.append(f"attribute_exists({expr.name(h)})")
        if when:
            conds.append(f"({condition(expr, when)})")
        args: dict[str, Any] = {
            "TableName": self.name,
            "Key": self._key(key),
            "UpdateExpression": " ".join(clauses),
            "ReturnValues": "ALL_NEW",
        }
        if conds:
            args["ConditionExpression"] = " AND ".join(conds)
            args["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        args.update(expr.kwargs())
        try:
            return _from_dynamo(self._call("update_item", **args)["Attributes"])
        except ConditionFailed as exc:
            if not create and exc.item is None:
                raise NotFound(f"no item {dict(key)} in {self.name}") from exc
            raise

    def delete(self, key: Mapping[str, Any], *, when: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Delete the item; returns it (None when there was none). `when`: delete only if it holds
        (ConditionFailed otherwise, with the item as it is)."""
        args: dict[str, Any] = {"TableName": self.name, "Key": self._key(key), "ReturnValues": "ALL_OLD"}
        if when:
            expr = Expr()
            args["ConditionExpression"] = condition(expr, when)
            args["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            args.update(expr.kwargs())
        old = self._call("delete_item", **args).get("Attributes")
        return _from_dynamo(old) if old else None


def _item(item: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(item, Mapping) or not item:
        raise ValueError("an item is a non-empty mapping of attribute -> value")
    return {str(k): to_dynamo(v) for k, v in item.items()}
