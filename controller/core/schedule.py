"""Which objects are overdue for their periodic check: the operator's own safety net under kopf's timers.

Why: kopf runs a timer per object and applies our status patch after each pass; when the apiserver is
away longer than kopf's retries (about a minute), the patch is given up and — as the fault-injection
runs showed — the object's periodic checks can silently stop while the process stays alive. A sweep
that lists every object and asks for a pass on each whose `nextCheckAt` is well past makes the schedule
something the operator owns, re-derived from the apiserver's own data, so nothing can be lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .status import parse_iso


@dataclass(frozen=True)
class Due:
    kind: str
    namespace: str
    name: str
    late_seconds: float


def overdue(
    kind: str,
    items: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    margin: float,
    planned: Callable[[str], float | None] = lambda uid: None,
) -> list[Due]:
    """Objects whose next check is more than `margin` seconds late: by the time the operator planned
    (`planned(uid)`, epoch seconds, when it holds one: a check that finds nothing new does not write
    nextCheckAt), else by status.nextCheckAt; an object never handled at all (no status) counts from its
    creation."""
    out: list[Due] = []
    for item in items:
        meta = item.get("metadata") or {}
        status = item.get("status") or {}
        when = planned(str(meta.get("uid") or ""))
        if when is not None:
            due: datetime | None = datetime.fromtimestamp(when, UTC)
        else:
            due = parse_iso(status.get("nextCheckAt")) if status else None
        if due is None:
            due = parse_iso(meta.get("creationTimestamp"))
        if due is None:
            continue
        late = (now - due).total_seconds()
        if late > margin:
            out.append(Due(kind, str(meta.get("namespace", "")), str(meta.get("name", "")), late))
    return out


@dataclass
class Health:
    """What /healthz reports about progress (updated by the sweep, read by the probe)."""

    started: datetime
    last_sweep: datetime | None = None
    """Last sweep that could list every kind."""
    overdue_since: datetime | None = None
    """Since when the sweep has found overdue objects without a break (None: none overdue)."""

    def problem(self, now: datetime, *, unreachable_after: float, overdue_after: float) -> str | None:
        """A sentence when the operator cannot make progress, else None."""
        seen = self.last_sweep or self.started
        if now - seen > timedelta(seconds=unreachable_after):
            return f"the Kubernetes API has not been listable for {(now - seen).total_seconds():.0f}s"
        if self.overdue_since is not None and now - self.overdue_since > timedelta(seconds=overdue_after):
            return f"objects have stayed overdue for their checks for {(now - self.overdue_since).total_seconds():.0f}s"
        return None
