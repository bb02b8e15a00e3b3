"""Helpers every adapter uses: deterministic names, tag conversions, canonical comparison.

Why: the same small pieces (a stable hash suffix, list-of-Key/Value tags, JSON-normalised compare)
would otherwise be rewritten in each of the twelve adapters.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..aws.clients import client, or_none
from ..core.adapter import TAG_KIND, TAG_NAME, TAG_NAMESPACE, TAG_UID, Diff, ObjectRef, Observation, Request


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def dns_name(prefix: str, ref: ObjectRef, *, max_len: int) -> str:
    """prefix-namespace-name-hash: lowercased, [a-z0-9-] only, always ending in a short hash of the exact
    (namespace, name) pair. Namespace and name may both contain '-' (and names '.'), so no separator can
    keep `ns`+`a-late` apart from `ns-a`+`late`, or `my.bucket` from `my-bucket`: the hash does. When
    too long, the readable part is shortened; the hash stays."""
    suffix = short_hash(ref.namespace, ref.name)
    raw = re.sub(r"[^a-z0-9-]+", "-", f"{prefix}-{ref.namespace}-{ref.name}".lower()).strip("-")
    raw = re.sub(r"-{2,}", "-", raw)
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


def foreign(req: Request[Any], tags: Mapping[str, str]) -> Observation[Any] | None:
    """An Observation for a resource owned by another object (observe stops reading there), else None."""
    uid, owner = owner_of(tags)
    if uid is not None and uid != req.ref.uid:
        return Observation(exists=True, owner_uid=uid, owner=owner)
    return None


def retag(have: Mapping[str, str], want: Mapping[str, str], *, untag: Callable[[list[str]], Any], tag: Callable[[], Any]) -> None:
    """Make a resource's tags `want`: untag the keys it has beyond them, then write them all (each service
    spells the two calls its own way, hence the callables)."""
    gone = sorted(set(have) - set(want))
    if gone:
        untag(gone)
    tag()


def canon(value: Any) -> str:
    """Stable JSON text for comparing and for showing desired/actual in status.drift."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def compare(field: str, desired: Any, actual: Any) -> list[Diff]:
    if canon(desired) == canon(actual):
        return []
    return [Diff(field, _show(desired), _show(actual))]


def _show(v: Any) -> Any:
    return v if isinstance(v, (str, bool, int)) or v is None else canon(v)


# ------------------------------------------------------------------ shared bucket policies
# A bucket policy is shared between nodes (the ObjectStore's TLS-only statement, each CDN's read grant):
# every writer replaces only the statements it owns and keeps everybody else's.
Policy = dict[str, Any]


def replace_statements(policy: Policy | None, owned: Callable[[str], bool], statements: list[Policy]) -> Policy | None:
    """`policy` with the statements whose Sid is `owned` replaced by `statements`; None when empty."""
    others = [s for s in (policy or {}).get("Statement", []) if not owned(str(s.get("Sid", "")))]
    kept = others + statements
    if not kept:
        return None
    return {"Version": (policy or {}).get("Version", "2012-10-17"), "Statement": kept}


def read_bucket_policy(bucket: str, region: str) -> Policy | None:
    got = or_none(lambda: client("s3", region).get_bucket_policy(Bucket=bucket), "NoSuchBucketPolicy", "NoSuchBucket")
    raw = (got or {}).get("Policy")
    return json.loads(raw) if raw else None


def write_bucket_policy(bucket: str, region: str, policy: Policy | None) -> None:
    """Put the policy, or delete it when None (a bucket that is already gone needs nothing)."""
    s3 = client("s3", region)
    if policy is not None:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        return
    or_none(lambda: s3.delete_bucket_policy(Bucket=bucket), "NoSuchBucket")
