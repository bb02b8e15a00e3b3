"""Condition bookkeeping: metav1.Condition lists, transitions, and the phase -> conditions table.

Why: kstatus (Flux) and Argo CD read Ready/Reconciling/Stalled; one table here keeps every kind
consistent with docs/STATUS.md and STYLE.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Phase = Literal["ready", "drifted", "waiting", "stalled", "error", "deleting", "blocked"]

READY = "Ready"
SYNCED = "Synced"
RECONCILING = "Reconciling"
STALLED = "Stalled"


@dataclass(frozen=True)
class Cond:
    type: str
    status: str
    reason: str
    message: str = ""
    since: float | None = None
    """Epoch seconds when what this condition waits for began (e.g. a certificate's request time). The
    core turns it into metrics (pending gauge, time-to-True histogram) once per pass; never in status."""


def for_phase(phase: Phase, reason: str, message: str, *, was_ready: bool) -> list[Cond]:
    """The four standard conditions for a phase (see the table in docs/STATUS.md)."""
    if phase == "ready":
        return [
            Cond(READY, "True", "Available", message or "AWS resources match the spec"),
            Cond(SYNCED, "True", "ReconcileSuccess", ""),
            Cond(RECONCILING, "False", "ReconcileSuccess", ""),
            Cond(STALLED, "False", "ReconcileSuccess", ""),
        ]
    if phase == "drifted":
        return [
            Cond(READY, "True", "Available", "AWS resources exist; drift is reported in status.drift"),
            Cond(SYNCED, "False", reason, message),
            Cond(RECONCILING, "False", reason, ""),
            Cond(STALLED, "False", reason, ""),
        ]
    if phase in ("waiting", "deleting"):
        return [
            Cond(READY, "False", reason, message),
            Cond(SYNCED, "False" if phase == "waiting" else "True", reason, message),
            Cond(RECONCILING, "True", reason, message),
            Cond(STALLED, "False", reason, ""),
        ]
    if phase in ("stalled", "blocked"):
        return [
            Cond(READY, "False", reason, message),
            Cond(SYNCED, "False", reason, message),
            Cond(RECONCILING, "False", reason, ""),
            Cond(STALLED, "True", reason, message),
        ]
    # transient error: keep Ready where it was, say we are retrying
    return [
        Cond(READY, "True" if was_ready else "False", "Available" if was_ready else reason, "" if was_ready else message),
        Cond(SYNCED, "False", reason, message),
        Cond(RECONCILING, "True", reason, message),
        Cond(STALLED, "False", reason, ""),
    ]


def merge(old: Sequence[dict[str, Any]], new: Sequence[Cond], *, now: str, generation: int | None) -> list[dict[str, Any]]:
    """New condition list; lastTransitionTime moves only when a condition's status changes.

    Conditions in `old` whose type is not in `new` (node-specific ones set elsewhere) are kept.
    """
    by_type = {c.get("type"): c for c in old}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for c in new:
        prev = by_type.get(c.type)
        ltt = prev["lastTransitionTime"] if prev and prev.get("status") == c.status and prev.get("lastTransitionTime") else now
        out.append(
            {
                "type": c.type,
                "status": c.status,
                "reason": c.reason,
                "message": c.message,
                "lastTransitionTime": ltt,
                "observedGeneration": generation,
            }
        )
        seen.add(c.type)
    out.extend(c for c in old if c.get("type") not in seen)
    return out


def get(conds: Sequence[dict[str, Any]], ctype: str) -> dict[str, Any] | None:
    return next((c for c in conds if c.get("type") == ctype), None)


def is_true(conds: Sequence[dict[str, Any]], ctype: str) -> bool:
    c = get(conds, ctype)
    return bool(c and c.get("status") == "True")
