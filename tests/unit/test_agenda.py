"""The agenda: one heap of next-check times (controller.agenda), replacing a kopf timer per object."""

from __future__ import annotations

import threading
import time

from controller.agenda import Agenda, spread


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_due_pops_in_time_order_and_only_once() -> None:
    clock = Clock()
    a = Agenda(clock)
    a.set("b", 1010)
    a.set("a", 1005)
    a.set("c", 1100)
    assert a.due() == []
    clock.now = 1050
    assert a.due() == ["a", "b"]
    assert a.due() == []
    assert len(a) == 1 and a.at("c") == 1100


def test_setting_again_moves_an_entry_never_duplicates_it() -> None:
    clock = Clock()
    a = Agenda(clock)
    a.set("x", 1005)
    a.set("x", 1200)  # a pass ran and set the next check: the old time is stale
    clock.now = 1100
    assert a.due() == []
    a.set("x", 1050)  # a spec change: sooner
    assert a.due() == ["x"]
    clock.now = 1300
    assert a.due() == [], "the moved-away entries must not fire"


def test_drop_forgets_an_object() -> None:
    clock = Clock()
    a = Agenda(clock)
    a.set("x", 1001)
    a.drop("x")
    clock.now = 2000
    assert a.due() == [] and len(a) == 0


def test_heap_stays_bounded_when_one_object_is_moved_many_times() -> None:
    a = Agenda(Clock())
    for i in range(10_000):
        a.set("x", 2000 + i)
    assert len(a._heap) < 200
    assert a.at("x") == 2000 + 9_999


def test_wait_due_wakes_for_an_earlier_entry_set_from_another_thread() -> None:
    a = Agenda(time.monotonic)
    a.set("late", time.monotonic() + 3600)
    got: list[str] = []
    t = threading.Thread(target=lambda: got.extend(a.wait_due(timeout=30)))
    t.start()
    time.sleep(0.05)
    a.set("soon", time.monotonic() + 0.05)
    t.join(timeout=10)
    assert not t.is_alive() and got == ["soon"]


def test_wait_due_returns_empty_after_its_timeout_when_nothing_is_due() -> None:
    a = Agenda(time.monotonic)
    a.set("late", time.monotonic() + 3600)
    assert a.wait_due(timeout=0.05) == []


def test_the_planned_time_outlives_the_pop_until_dropped() -> None:
    agenda = Agenda(lambda: 100.0)
    agenda.set("a", 50.0)
    assert agenda.due() == ["a"] and agenda.at("a") is None
    assert agenda.planned("a") == 50.0, "a check under way still has the time it was planned for"
    agenda.set("a", 400.0)
    assert agenda.planned("a") == 400.0
    agenda.drop("a")
    assert agenda.planned("a") is None


def test_spread_is_stable_and_in_the_unit_interval() -> None:
    points = [spread(f"uid-{i}") for i in range(200)]
    assert all(0 <= p < 1 for p in points) and spread("uid-7") == points[7]
    assert min(points) < 0.1 and max(points) > 0.9, "spread over the whole window"


def test_wait_due_with_a_limit_leaves_the_rest_on_the_agenda_where_they_can_still_move() -> None:
    clock = Clock()
    a = Agenda(clock)
    for i, uid in enumerate("abc"):
        a.set(uid, 1000 + i)
    clock.now = 1010
    assert a.wait_due(timeout=0, limit=1) == ["a"]
    a.set("c", 2000)  # still on the agenda, so a newer time reaches it
    assert a.wait_due(timeout=0, limit=5) == ["b"]
    assert a.at("c") == 2000
