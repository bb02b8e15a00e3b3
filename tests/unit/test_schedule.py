"""The sweep's arithmetic (which objects are overdue) and what /healthz says about progress. The e2e
tests/e2e/test_outage_e2e.py shows the sweep bringing checks back after a 90 s apiserver outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest

from controller.core.schedule import Health, overdue

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def item(name: str, next_check: str | None, created: str = "2026-11-28T11:00:00Z") -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"namespace": "ns", "name": name, "creationTimestamp": created}}
    if next_check is not None:
        body["status"] = {"nextCheckAt": next_check}
    return body


def test_overdue_counts_only_checks_later_than_the_margin() -> None:
    items = [
        item("on-time", "2026-11-28T12:00:30Z"),
        item("just-late", "2026-11-28T11:59:00Z"),  # 60 s late: within a 120 s margin
        item("lost", "2026-11-28T11:50:00Z"),  # 600 s late
        item("never-handled", None, created="2026-11-28T11:55:00Z"),  # no status for 300 s
        item("brand-new", None, created="2026-11-28T11:59:30Z"),
    ]
    got = overdue("StackeryTable", items, now=NOW, margin=120)
    assert [(d.name, d.late_seconds) for d in got] == [("lost", 600.0), ("never-handled", 300.0)]
    assert all(d.kind == "StackeryTable" and d.namespace == "ns" for d in got)


def test_a_time_the_operator_planned_wins_over_a_stale_next_check_at() -> None:
    """A check that finds nothing new leaves status.nextCheckAt behind; the agenda's time is the plan."""
    items = [item("quiet", "2026-11-28T11:00:00Z"), item("lost", "2026-11-28T11:00:00Z")]
    for i, it in enumerate(items):
        it["metadata"]["uid"] = f"u{i}"
    plan = {"u0": NOW.timestamp() + 200}
    got = overdue("StackeryTable", items, now=NOW, margin=120, planned=plan.get)
    assert [d.name for d in got] == ["lost"]
    plan["u0"] = NOW.timestamp() - 600  # planned, but the check never happened: the plan is overdue too
    assert [d.name for d in overdue("StackeryTable", items, now=NOW, margin=120, planned=plan.get)] == ["quiet", "lost"]


def test_health_fails_when_the_api_cannot_be_listed_or_objects_stay_overdue() -> None:
    h = Health(started=NOW - timedelta(seconds=30))
    assert h.problem(NOW, unreachable_after=600, overdue_after=600) is None  # just started
    h.last_sweep = NOW - timedelta(seconds=700)
    assert "not been listable for 700s" in str(h.problem(NOW, unreachable_after=600, overdue_after=600))
    h.last_sweep = NOW
    h.overdue_since = NOW - timedelta(seconds=601)
    assert "stayed overdue" in str(h.problem(NOW, unreachable_after=600, overdue_after=600))
    h.overdue_since = NOW - timedelta(seconds=100)
    assert h.problem(NOW, unreachable_after=600, overdue_after=600) is None


def test_probe_handler_fails_healthz_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from controller import handlers

    monkeypatch.setattr(handlers, "HEALTH", Health(started=datetime.now(UTC) - timedelta(days=1)))
    with pytest.raises(kopf.PermanentError, match="not been listable"):
        handlers.progress()
    monkeypatch.setattr(handlers, "HEALTH", Health(started=datetime.now(UTC), last_sweep=datetime.now(UTC)))
    assert handlers.progress() == "ok"
