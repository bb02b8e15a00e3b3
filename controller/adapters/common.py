"""Helpers every adapter uses: deterministic names, tag conversions, canonical comparison.

Why: the same small pieces (a stable hash suffix, list-of-Key/Value tags, JSON-normalised compare)
would otherwise be rewritten in each of the twelve adapters.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.adapter import TAG_KIND, TAG_NAME, TAG_NAMESPACE, TAG_UID, Diff, ObjectRef, Observation, Request


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def dns_name(prefix: str, ref: ObjectRef, *, max_len: int) -> str:
    """prefix-namespace-name, lowercased, [a-z0-9-] only, shortened with a stable hash when too long."""
    raw = re.sub(r"[^a-z0-9-]+", "-", f"{prefix}-{ref.namespace}-{ref.name}".lower()).strip("-")
    raw = re.sub(r"-{2,}", "-", raw)
    if len(raw) <= max_len:
        return raw
    suffix = short_hash(ref.namespace, ref.name)
    return raw[: max_len - len(suffix) - 1].rstrip("-") + "-" + suffix


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_dict(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in (tags or [])}


def owner_of(tags: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(uid, "namespace/kind/name") from ownership tags; (None, None) when untagged."""
    uid = tags.get(TAG_UID)
    if uid is None:
        return None, None
    return uid, f"{tags.get(TAG_NAMESPACE)}/{tags.get(TAG_KIND)}/{tags.get(TAG_NAME)}"


def foreign(req: Request[Any], tags: Mapping[str, str]) -> Observation | None:
    """An Observation for a resource owned by another object (observe stops reading there), else None."""
    uid, owner = owner_of(tags)
    if uid is not None and uid != req.ref.uid:
        return Observation(exists=True, owner_uid=uid, owner=owner)
    return None


def canon(value: Any) -> str:
    """Stable JSON text for comparing and for showing desired/actual in status.drift."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def compare(field: str, desired: Any, actual: Any) -> list[Diff]:
    if canon(desired) == canon(actual):
        return []
    return [Diff(field, _show(desired), _show(actual))]


def _show(v: Any) -> Any:
    return v if isinstance(v, (str, bool, int)) or v is None else canon(v)
