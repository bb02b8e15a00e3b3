"""The kopf edge: one handler for every event, the per-object lock and the last-status cache."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import kopf
import pytest

from controller import handlers
from controller.core.reconciler import Managed, Result
from controller.locks import ObjectLocks
from controller.statuscache import StatusCache


# ------------------------------------------------------------------ status cache
def test_a_body_from_before_our_patch_is_overlaid_with_what_we_wrote() -> None:
    cache = StatusCache()
    cache.remember("u", "41", {"lastSyncTime": "2026-01-01T00:00:00Z", "nextCheckAt": "2026-01-01T00:05:00Z"})
    # a timer still holding the body at resourceVersion 41, in the same second: the cache wins
    got = cache.current("u", "41", {"lastSyncTime": "2026-01-01T00:00:00Z", "nextCheckAt": "2026-01-01T00:00:10Z", "x": 1})
    assert got == {"lastSyncTime": "2026-01-01T00:00:00Z", "nextCheckAt": "2026-01-01T00:05:00Z", "x": 1}


def test_a_later_body_wins_and_retires_the_cached_status() -> None:
    cache = StatusCache()
    cache.remember("u", "41", {"nextCheckAt": "mine"})
    assert cache.current("u", "42", {"nextCheckAt": "theirs"}) == {"nextCheckAt": "theirs"}
    # once the body moved on, an old resourceVersion seen again is not overlaid either
    assert cache.current("u", "41", {"nextCheckAt": "old"}) == {"nextCheckAt": "old"}


def test_two_passes_in_one_second_keep_the_newest() -> None:
    cache = StatusCache()
    same_second = "2026-01-01T00:00:00Z"
    cache.remember("u", "7", {"lastSyncTime": same_second, "failures": 1})
    cache.remember("u", "7", {"lastSyncTime": same_second, "failures": 2})
    assert cache.current("u", "7", {"lastSyncTime": same_second, "failures": None})["failures"] == 2
    cache.forget("u")
    assert cache.current("u", "7", {"failures": None}) == {"failures": None}


# ------------------------------------------------------------------ locks
def test_lock_is_per_object_and_timers_do_not_wait() -> None:
    locks = ObjectLocks()
    with locks.hold("a") as got:
        assert got
        with locks.hold("a", wait=False) as second:
            assert not second
        with locks.hold("b", wait=False) as other:
            assert other
    with locks.hold("a", wait=False) as again:
        assert again


def test_a_waiting_holder_gets_the_lock_when_released() -> None:
    locks = ObjectLocks()
    order: list[str] = []
    release = threading.Event()

    def first() -> None:
        with locks.hold("a"):
            order.append("first")
            release.wait(5)

    t = threading.Thread(target=first)
    t.start()
    while not order:
        pass
    release.set()
    with locks.hold("a"):
        order.append("second")
    t.join()
    assert order == ["first", "second"]
    locks.forget("a")


# ------------------------------------------------------------------ the handler
@dataclass
class FakeReconciler:
    due: bool = True
    done: bool = True
    seen: list[Managed] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def is_due(self, obj: Managed) -> bool:
        return self.due

    def reconcile(self, obj: Managed) -> Result:
        self.seen.append(obj)
        self.calls.append("reconcile")
        return Result(status={"nextCheckAt": "later", "lastSyncTime": "now"}, events=[], requeue_after=300)

    def finalize(self, obj: Managed) -> Result:
        self.seen.append(obj)
        self.calls.append("finalize")
        return Result(status={} if self.done else {"conditions": []}, events=[], requeue_after=7, done=self.done)


def body(rv: str = "1", status: dict[str, Any] | None = None) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "stackery.io/v1alpha1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "ns", "uid": "uid-h", "generation": 1, "resourceVersion": rv},
            "spec": {},
            "status": status or {},
        }
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeReconciler:
    rec = FakeReconciler()
    monkeypatch.setitem(handlers.RECONCILERS, "Widget", rec)
    monkeypatch.setattr(handlers, "STATUS", StatusCache())
    monkeypatch.setattr(handlers, "LOCKS", ObjectLocks())
    return rec


def test_change_reconciles_and_patches_status(fake: FakeReconciler) -> None:
    patch = kopf.Patch()
    handlers.handle(body(), patch, kind="Widget", always=True, wait=True, delete=False)
    assert fake.calls == ["reconcile"] and patch["status"]["nextCheckAt"] == "later"


def test_timer_acts_only_when_due(fake: FakeReconciler) -> None:
    fake.due = False
    handlers.handle(body(), kopf.Patch(), kind="Widget", always=False, wait=False, delete=False)
    assert fake.calls == []
    fake.due = True
    handlers.handle(body(), kopf.Patch(), kind="Widget", always=False, wait=False, delete=False)
    assert fake.calls == ["reconcile"]


def test_timer_skips_an_object_another_pass_holds(fake: FakeReconciler) -> None:
    with handlers.LOCKS.hold("uid-h"):
        handlers.handle(body(), kopf.Patch(), kind="Widget", always=False, wait=False, delete=False)
    assert fake.calls == []


def test_next_pass_on_the_same_body_sees_the_status_just_written(fake: FakeReconciler) -> None:
    handlers.handle(body(rv="5"), kopf.Patch(), kind="Widget", always=True, wait=True, delete=False)
    handlers.handle(
        body(rv="5", status={"nextCheckAt": "stale"}), kopf.Patch(), kind="Widget", always=False, wait=False, delete=False
    )
    assert fake.seen[-1].status["nextCheckAt"] == "later"
    handlers.handle(
        body(rv="6", status={"nextCheckAt": "newer"}), kopf.Patch(), kind="Widget", always=False, wait=False, delete=False
    )
    assert fake.seen[-1].status["nextCheckAt"] == "newer"


def test_delete_not_done_keeps_the_finalizer_with_a_delay(fake: FakeReconciler) -> None:
    fake.done = False
    with pytest.raises(kopf.TemporaryError) as err:
        handlers.handle(body(), kopf.Patch(), kind="Widget", always=True, wait=True, delete=True)
    assert err.value.delay == 7


def test_delete_done_forgets_the_object(fake: FakeReconciler) -> None:
    handlers.handle(body(rv="3"), kopf.Patch(), kind="Widget", always=True, wait=True, delete=False)
    handlers.handle(body(rv="3"), kopf.Patch(), kind="Widget", always=True, wait=True, delete=True)
    assert fake.calls == ["reconcile", "finalize"]
    assert handlers.STATUS.current("uid-h", "3", {}) == {}
