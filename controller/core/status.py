"""What one pass writes back: the status patch, the Events, the next check time and the metrics.

Why: the reconciler decides what happened (an Outcome); turning that into metav1 conditions, drift
entries, backoff, Events and per-object metrics is the same for every kind and every path (reconcile
and finalize), and reads better apart from the decision itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import metrics
from ..agenda import spread
from ..settings import Settings
from . import conditions
from .adapter import Diff, ObjectRef, Observation
from .conditions import Phase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Managed:
    """A snapshot of the Kubernetes object, as the handlers saw it."""

    ref: ObjectRef
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)
    created: str | None = None


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Result:
    """What to write back: a merge-patch for .status, events to post, when to look again."""

    status: dict[str, Any]
    events: list[Event]
    requeue_after: float | None
    done: bool = True
    """For finalize: True when the finalizer may be released."""
    quiet: bool = False
    """Nothing to tell: the patch repeats the stored status but for its times (lastSyncTime, nextCheckAt),
    no Events, and the stored lastSyncTime is within the heartbeat. A scheduled check may leave it unwritten
    (and keep the next time in memory): a status write is a watch event for every watcher, and echoing one
    per check was about half of a check's CPU (issue 15)."""


@dataclass(frozen=True)
class Outcome:
    phase: Phase
    reason: str
    message: str = ""
    obs: Observation[Any] | None = None
    drift: tuple[Diff, ...] = ()
    corrected: tuple[Diff, ...] = ()
    retry_after: float | None = None
    notes: tuple[Event, ...] = ()
    """Events of things done on the way (e.g. a previous resource released), posted before the rest."""
    held: tuple[str, str] | None = None
    """(name, region) of the main AWS resource this object now holds, recorded as resourceName/Region."""


def fmt(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(v: Any) -> Any:
    """Nulls inside a status value dropped (a zone without a NAT gateway has no natGatewayId key): the
    apiserver prunes them, so a patch that keeps them differs from what is stored on every pass. A
    top-level None stays: in a merge patch it removes the key."""
    if isinstance(v, Mapping):
        return {k: _compact(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_compact(x) for x in v]
    return v


def parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    try:
        return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


_TIMES = frozenset({"lastSyncTime", "nextCheckAt"})


def news(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether merging the patch `new` into the status `old` would change anything but the pass's times
    (a None in the patch removes a key: news only if the key is there)."""
    return any(k not in _TIMES and old.get(k) != v for k, v in new.items())


def fields(diffs: tuple[Diff, ...]) -> str:
    return ", ".join(d.field for d in diffs)


class StatusWriter:
    """Builds a pass's Result from its Outcome for one kind."""

    def __init__(
        self, *, kind: str, settings: Settings, status_fields: frozenset[str] | None, clock: Callable[[], datetime]
    ) -> None:
        self.kind = kind
        self.settings = settings
        self.status_fields = status_fields
        """Status keys the kind's model declares; a patch with any other key is a bug (logged, dropped)."""
        self.clock = clock

    def jitter(self, uid: str) -> float:
        return 1.0 + self.settings.resync_jitter * (2 * spread(uid) - 1)

    def backoff(self, failures: int, uid: str = "") -> float:
        """Exponential, capped, and spread by +/- backoff_jitter (deterministic per object and attempt)."""
        base = min(self.settings.backoff_base_seconds * (2 ** max(failures - 1, 0)), self.settings.backoff_max_seconds)
        return float(base * (1.0 + self.settings.backoff_jitter * (2 * spread(f"{uid}/{failures}") - 1)))

    def _delay(self, obj: Managed, out: Outcome, failures: int) -> float:
        """Seconds until the object's next pass."""
        if out.phase in ("ready", "drifted"):
            return self.settings.resync_seconds * self.jitter(obj.ref.uid)
        if out.phase == "error":
            return self.backoff(failures, obj.ref.uid)
        if out.phase == "stalled":
            return self.settings.resync_seconds
        return out.retry_after if out.retry_after is not None else self.settings.wait_seconds

    def result(self, obj: Managed, out: Outcome, *, generation_done: bool = True, deleting: bool = False) -> Result:
        now = self.clock()
        old = obj.status
        old_conds = list(old.get("conditions") or [])
        was_ready = conditions.is_true(old_conds, conditions.READY)
        # failures count within one "attempt context": a spec change or the start of a delete begins a
        # new one, so a delete never inherits a create's long backoff
        context = f"{'delete' if deleting else 'sync'}/{obj.generation}"
        previous = int(old.get("failures") or 0) if old.get("failureContext") == context else 0
        failures = previous + 1 if out.phase == "error" else 0
        delay = self._delay(obj, out, failures)
        message = out.message
        if out.phase == "error":
            retry_at = (now + timedelta(seconds=delay)).strftime("%H:%M:%SZ")
            message = f"{out.message} (attempt {failures}; retrying in {delay:.0f}s, at {retry_at})"
        extra = tuple(out.obs.conditions) if out.obs is not None else ()
        conds = conditions.merge(
            old_conds,
            [*conditions.for_phase(out.phase, out.reason, message, was_ready=was_ready), *extra],
            now=iso(now),
            generation=obj.generation,
        )
        status: dict[str, Any] = {
            "conditions": conds,
            "lastSyncTime": iso(now),
            "nextCheckAt": iso(now + timedelta(seconds=delay)),
            "failures": failures or None,
            "failureContext": context if failures else None,
        }
        if out.obs is not None and out.obs.exists:
            # the resource was seen (tagged): a create that was under way is over. After a failed create
            # the marker stays, so an untagged leftover of it is still recognised as ours next time.
            status["pendingCreate"] = None
        if out.held is not None:
            status["resourceName"], status["resourceRegion"] = out.held
        if generation_done:
            status["observedGeneration"] = obj.generation
        if out.obs is not None:
            status.update(self._declared(out.obs.identifiers))
        old_drift = {d.get("field"): d for d in (old.get("drift") or [])}
        status["drift"] = [
            {
                "field": d.field,
                "desired": fmt(d.desired),
                "actual": fmt(d.actual),
                "detectedAt": (old_drift.get(d.field) or {}).get("detectedAt") or iso(now),
            }
            for d in out.drift
        ]

        events = [*out.notes, *self._events(old_conds, conds, out)]
        self._progress_metrics(obj, old_conds, out, now)
        ready = conditions.is_true(conds, conditions.READY)
        if ready and not old.get("readyAt"):
            status["readyAt"] = iso(now)
            created = parse_iso(obj.created)
            if created is not None:
                metrics.TIME_TO_READY.labels(self.kind).observe(max((now - created).total_seconds(), 0.0))
        result_label = {
            "ready": "success",
            "drifted": "drift",
            "waiting": "waiting",
            "deleting": "waiting",
            "stalled": "stalled",
            "blocked": "stalled",
            "error": "error",
        }[out.phase]
        metrics.RECONCILE_TOTAL.labels(self.kind, result_label).inc()
        if out.drift or out.corrected:
            metrics.DRIFT_DETECTED.labels(self.kind).inc()
        metrics.set_object_state(
            obj.ref.namespace,
            self.kind,
            obj.ref.name,
            ready=ready,
            drifted=bool(out.drift),
            stalled=out.phase in ("stalled", "blocked"),
        )
        fresh = parse_iso(old.get("lastSyncTime"))
        heartbeat = fresh is not None and (now - fresh).total_seconds() < self.settings.status_heartbeat_seconds
        quiet = heartbeat and not events and not news(old, status)
        return Result(status=status, events=events, requeue_after=delay, quiet=quiet)

    def _declared(self, ids: Mapping[str, Any]) -> dict[str, Any]:
        """The identifiers whose keys the kind's status model declares; others are a bug, logged and
        dropped (the apiserver would prune them silently)."""
        if self.status_fields is None:
            return {k: _compact(v) for k, v in ids.items()}
        unknown = sorted(set(ids) - self.status_fields)
        if unknown:
            log.error("%s: adapter returned status keys its model does not declare: %s (dropped)", self.kind, ", ".join(unknown))
        return {k: _compact(v) for k, v in ids.items() if k in self.status_fields}

    def _progress_metrics(self, obj: Managed, old: list[dict[str, Any]], out: Outcome, now: datetime) -> None:
        """Node-specific conditions that carry `since` feed their pending gauge while False and their
        duration histogram once, on the pass where they turn True (observe itself never touches metrics)."""
        for c in out.obs.conditions if out.obs is not None else ():
            if c.since is None:
                continue
            before = conditions.get(old, c.type) or {}
            metrics.record_progress(
                obj.ref.namespace,
                self.kind,
                obj.ref.name,
                c.type,
                pending=c.status != "True",
                elapsed=max(now.timestamp() - c.since, 1.0),
                completed=c.status == "True" and before.get("status") == "False",
            )

    def _events(self, old: list[dict[str, Any]], new: list[dict[str, Any]], out: Outcome) -> list[Event]:
        events: list[Event] = []
        if out.corrected:
            events.append(Event("Normal", "DriftCorrected", f"put back: {fields(out.corrected)}"))
        old_sync = conditions.get(old, conditions.SYNCED) or {}
        if out.drift and old_sync.get("reason") != "DriftDetected":
            events.append(Event("Warning", "DriftDetected", out.message))
        old_ready, new_ready = conditions.get(old, conditions.READY) or {}, conditions.get(new, conditions.READY) or {}
        changed = (old_ready.get("status"), old_ready.get("reason")) != (new_ready.get("status"), new_ready.get("reason"))
        if changed and out.phase != "drifted":
            etype = "Warning" if out.phase in ("stalled", "blocked", "error") else "Normal"
            events.append(Event(etype, out.reason, out.message or new_ready.get("message") or out.reason))
        for extra in out.obs.conditions if out.obs is not None else ():
            before = conditions.get(old, extra.type) or {}
            if (before.get("status"), before.get("reason")) != (extra.status, extra.reason):
                events.append(Event("Normal", extra.reason, f"{extra.type}={extra.status}: {extra.message}"))
        return events
