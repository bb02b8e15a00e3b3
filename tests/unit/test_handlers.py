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


def test_a_newer_body_from_the_watch_retires_the_cached_status_at_once() -> None:
    cache = StatusCache()
    cache.remember("u", "41", {"nextCheckAt": "mine"})
    cache.seen("u", "41")  # the body we computed from, seen again: still overlaid
    assert cache.current("u", "41", {"nextCheckAt": "old"}) == {"nextCheckAt": "mine"}
    cache.seen("u", "42")  # our patch landed: nothing held for this object any more
    assert cache._by_uid == {}


def test_bodies_at_the_versions_a_pass_wrote_on_the_way_predate_its_status() -> None:
    cache = StatusCache()
    cache.wrote("u", "42")  # the pass's pendingCreate marker, before its final status
    cache.seen("u", "42")  # its event, while the pass still runs: nothing to retire, nothing lost
    cache.remember("u", "41", {"observedGeneration": 1})
    assert cache.current("u", "42", {"pendingCreate": "b"}) == {"pendingCreate": "b", "observedGeneration": 1}
    assert cache.current("u", "41", {}) == {"observedGeneration": 1}
    assert cache.current("u", "43", {"observedGeneration": 1, "x": 2}) == {"observedGeneration": 1, "x": 2}
    assert cache._by_uid == {} and cache._interim == {}


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
    quiet: bool = False
    seen: list[Managed] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    during: Any = None
    """Called inside reconcile (a write the pass makes on the way, like the pendingCreate marker)."""

    def is_due(self, obj: Managed) -> bool:  # as the Reconciler's: a generation not handled yet is always due
        return self.due or obj.status.get("observedGeneration") != obj.generation

    def reconcile(self, obj: Managed) -> Result:
        self.seen.append(obj)
        self.calls.append("reconcile")
        if self.during is not None:
            self.during()
        status = {"nextCheckAt": "2026-01-01T00:10:00Z", "lastSyncTime": "2026-01-01T00:05:00Z"}
        if obj.status.get("observedGeneration") != obj.generation:
            status["observedGeneration"] = obj.generation
        return Result(status=status, events=[], requeue_after=300, quiet=self.quiet)

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
    assert fake.calls == ["reconcile"] and patch["status"]["nextCheckAt"] == "2026-01-01T00:10:00Z"


def test_timer_acts_only_when_due(fake: FakeReconciler) -> None:
    fake.due = False
    handled = {"observedGeneration": 1}
    handlers.handle(body(status=handled), kopf.Patch(), kind="Widget", always=False, wait=False, delete=False)
    assert fake.calls == []
    fake.due = True
    handlers.handle(body(status=handled), kopf.Patch(), kind="Widget", always=False, wait=False, delete=False)
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
    assert fake.seen[-1].status["nextCheckAt"] == "2026-01-01T00:10:00Z"
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


# ------------------------------------------------------------------ the agenda's side
class Writes:
    """The API writes of scheduled checks (KubeCluster.patch_status / post_event)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.patches: list[dict[str, Any]] = []

    def patch_status(self, ref: Any, status: dict[str, Any]) -> str:
        if self.fail:
            raise OSError("the API is away")
        self.patches.append(dict(status))
        return "99"

    def post_event(self, ref: Any, type_: str, reason: str, message: str) -> None:
        pass


def raw(*, rv: str = "1", finalizer: bool = True, generation: int = 1, status: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "w", "namespace": "ns", "uid": "uid-h", "generation": generation, "resourceVersion": rv}
    if finalizer:
        meta["finalizers"] = [handlers.FINALIZER]
    return {"kind": "Widget", "metadata": meta, "spec": {}, "status": status or {}}


@pytest.fixture
def agenda(fake: FakeReconciler, monkeypatch: pytest.MonkeyPatch) -> Writes:
    writes = Writes()
    monkeypatch.setattr(handlers, "AGENDA", handlers.Agenda(lambda: 1000.0))
    monkeypatch.setattr(handlers, "BODIES", {})
    monkeypatch.setattr(handlers, "REQUESTED", set())
    monkeypatch.setattr(handlers.time, "time", lambda: 1000.0)  # "now" for the agenda's times
    monkeypatch.setattr(handlers, "CLUSTER", writes)
    return writes


def event(obj: dict[str, Any], type_: str = "MODIFIED") -> Any:
    import asyncio

    asyncio.run(handlers.watched({"type": type_, "object": obj}, kind="Widget"))


def test_a_handled_object_is_put_on_the_agenda_at_its_next_check(agenda: Writes) -> None:
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    assert handlers.AGENDA.at("uid-h") == handlers.parse_iso("2026-01-01T00:05:00Z").timestamp()


def test_a_new_object_waits_for_its_finalizer_then_is_passed_at_once(fake: FakeReconciler, agenda: Writes) -> None:
    # no finalizer yet: AWS must not be touched before the finalizer that guarantees its cleanup is there
    event(raw(finalizer=False), "ADDED")
    assert handlers.AGENDA.at("uid-h") is None
    handlers.checked("uid-h")
    assert fake.calls == []
    # kopf's finalizer PATCH: the object is due now (the agenda is the only one to run its pass)
    event(raw(rv="2"))
    assert handlers.AGENDA.at("uid-h") == 1000.0
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"]
    assert agenda.patches[-1]["observedGeneration"] == 1
    assert handlers.AGENDA.at("uid-h") == handlers.parse_iso("2026-01-01T00:10:00Z").timestamp()


def test_a_spec_change_is_passed_at_once(fake: FakeReconciler, agenda: Writes) -> None:
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    event(raw(rv="2", generation=2, status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    assert handlers.AGENDA.at("uid-h") == 1000.0
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"] and agenda.patches[-1]["observedGeneration"] == 2


def test_an_annotation_change_asks_for_a_pass_that_writes_its_status(fake: FakeReconciler, agenda: Writes) -> None:
    fake.due, fake.quiet = False, True
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    handlers.checked("uid-h")
    assert fake.calls == []  # not due: nothing
    poked = raw(rv="2", status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"})
    poked["metadata"]["annotations"] = {"sweep.stackery.io/check-requested-at": "2026-01-01T00:20:00Z"}
    event(poked)
    assert handlers.AGENDA.at("uid-h") == 1000.0
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"]
    assert agenda.patches == [{"nextCheckAt": "2026-01-01T00:10:00Z", "lastSyncTime": "2026-01-01T00:05:00Z"}], (
        "asked for: written although nothing was new, so the asker sees lastSyncTime move"
    )
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"], "asked once, passed once"


def test_the_event_of_a_write_made_during_a_pass_does_not_start_a_second_pass(fake: FakeReconciler, agenda: Writes) -> None:
    """A bucket's pass writes its pendingCreate marker (rv 3) before its final status (rv 99); the marker's
    event can reach the watch after the pass ended, showing observedGeneration still unset: it is known to
    predate the pass's status, so no second pass runs (that would be a second round of AWS calls)."""
    fake.during = lambda: handlers.STATUS.wrote("uid-h", "3")
    event(raw(rv="2"))
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"]
    fake.due = False  # (its next check is in the future)
    event(raw(rv="3", status={"pendingCreate": "bucket-x"}))  # late: the marker
    assert handlers.AGENDA.at("uid-h") == 1000.0  # looks unhandled from the body alone
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"], "the status this pass wrote says the generation is handled"
    assert handlers.AGENDA.at("uid-h") == handlers.parse_iso("2026-01-01T00:10:00Z").timestamp()
    event(raw(rv="99", status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:10:00Z"}))  # its own write
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"]


def test_a_deleting_object_leaves_the_agenda(agenda: Writes) -> None:
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    gone = raw(status={"observedGeneration": 1})
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    event(gone)
    assert handlers.AGENDA.at("uid-h") is None and "uid-h" not in handlers.BODIES


def test_a_scheduled_check_reconciles_and_writes_status_itself(fake: FakeReconciler, agenda: Writes) -> None:
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"]
    assert agenda.patches == [{"nextCheckAt": "2026-01-01T00:10:00Z", "lastSyncTime": "2026-01-01T00:05:00Z"}]


IN_SYNC = {
    "observedGeneration": 1,
    "nextCheckAt": "2026-01-01T00:05:00Z",
    "conditions": [{"type": "Ready", "status": "True"}],
    "drift": [],
}


def test_a_check_with_nothing_new_writes_nothing_and_keeps_its_next_time_in_the_agenda(
    fake: FakeReconciler, agenda: Writes
) -> None:
    fake.quiet = True
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"] and agenda.patches == []
    planned = handlers.parse_iso("2026-01-01T00:10:00Z").timestamp()
    assert handlers.AGENDA.at("uid-h") == planned
    # a later event that no pass wrote (a label, an annotation) shows the old nextCheckAt: the plan stands
    labelled_later = raw(rv="2", status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"})
    labelled_later["metadata"]["labels"] = {"team": "web"}
    event(labelled_later)
    assert handlers.AGENDA.at("uid-h") == planned
    # a pass that writes status (a spec change, a drift) sets the time again, earlier or later
    event(raw(rv="3", status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:06:00Z"}))
    assert handlers.AGENDA.at("uid-h") == handlers.parse_iso("2026-01-01T00:06:00Z").timestamp()


def test_after_a_restart_in_sync_objects_past_their_stored_time_are_spread_over_a_resync(
    fake: FakeReconciler, agenda: Writes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handlers.time, "time", lambda: 1_900_000_000.0)
    for i in range(50):
        body_ = raw(status=IN_SYNC)
        body_["metadata"]["uid"] = f"uid-{i}"
        event(body_)
    times = [handlers.AGENDA.at(f"uid-{i}") or 0.0 for i in range(50)]
    window = handlers.SETTINGS.resync_seconds
    assert all(1_900_000_000.0 <= t < 1_900_000_000.0 + window for t in times)
    assert max(times) - min(times) > window / 2, "spread, not all at once"
    # an object that is not in sync (waiting, failing, drifted) is looked at when its status says
    waiting = raw(status={**IN_SYNC, "conditions": [{"type": "Ready", "status": "False"}]})
    event(waiting)
    assert handlers.AGENDA.at("uid-h") == handlers.parse_iso("2026-01-01T00:05:00Z").timestamp()


def test_a_scheduled_check_that_is_not_due_any_more_is_put_back(fake: FakeReconciler, agenda: Writes) -> None:
    fake.due = False
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    handlers.checked("uid-h")
    assert fake.calls == [] and agenda.patches == []
    assert handlers.AGENDA.at("uid-h") is not None


def test_a_busy_object_is_looked_at_again_shortly(fake: FakeReconciler, agenda: Writes) -> None:
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    with handlers.LOCKS.hold("uid-h"):
        handlers.checked("uid-h")
    assert fake.calls == [] and handlers.AGENDA.at("uid-h") is not None


def test_a_status_write_that_fails_keeps_the_object_on_the_agenda(fake: FakeReconciler, agenda: Writes) -> None:
    agenda.fail = True
    event(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}))
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"] and handlers.AGENDA.at("uid-h") is not None


# ------------------------------------------------------------------ shards (the gate before every pass)
class OneShard:
    """A Coordinator's gate with a fixed answer: this replica holds shard 1 only."""

    count = 4

    def __init__(self) -> None:
        self.asked: list[int | None] = []

    def active(self) -> frozenset[int]:
        return frozenset({1})

    def passing(self, shard: int | None) -> Any:
        import contextlib

        self.asked.append(shard)
        return contextlib.nullcontext(shard == 1)


def labelled(obj: Any, shard: str) -> Any:
    obj["metadata"]["labels"] = {"stackery.io/shard": shard}
    return obj


@pytest.fixture
def sharded(monkeypatch: pytest.MonkeyPatch) -> OneShard:
    gate = OneShard()
    monkeypatch.setattr(handlers, "SHARDS", gate)
    return gate


def test_a_change_on_another_replicas_shard_is_refused_and_left_to_kopfs_retry(fake: FakeReconciler, sharded: OneShard) -> None:
    with pytest.raises(kopf.TemporaryError):
        handlers.handle(labelled(body(), "2"), kopf.Patch(), kind="Widget", always=True, wait=True, delete=False)
    with pytest.raises(kopf.TemporaryError):  # the finalizer too: only the shard's holder deletes in AWS
        handlers.handle(labelled(body(), "2"), kopf.Patch(), kind="Widget", always=True, wait=True, delete=True)
    assert fake.calls == []
    handlers.handle(labelled(body(), "1"), kopf.Patch(), kind="Widget", always=True, wait=True, delete=False)
    assert fake.calls == ["reconcile"] and sharded.asked == [2, 2, 1]


def test_an_object_without_a_valid_shard_label_is_not_reconciled(fake: FakeReconciler, sharded: OneShard) -> None:
    with pytest.raises(kopf.TemporaryError):
        handlers.handle(labelled(body(), "9"), kopf.Patch(), kind="Widget", always=True, wait=True, delete=False)
    assert fake.calls == [] and sharded.asked == [None]


def test_a_scheduled_check_of_a_shard_that_moved_away_is_dropped(fake: FakeReconciler, agenda: Writes, sharded: OneShard) -> None:
    event(labelled(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}), "3"))
    assert "labels" in handlers.BODIES["uid-h"][1]["metadata"], "the kept body carries the shard label"
    handlers.checked("uid-h")
    assert fake.calls == [] and agenda.patches == []
    assert handlers.AGENDA.at("uid-h") is None and "uid-h" not in handlers.BODIES
    event(labelled(raw(status={"observedGeneration": 1, "nextCheckAt": "2026-01-01T00:05:00Z"}), "1"))
    handlers.checked("uid-h")
    assert fake.calls == ["reconcile"]


def test_the_sweep_lists_only_this_replicas_shards(monkeypatch: pytest.MonkeyPatch, sharded: OneShard) -> None:
    from datetime import UTC, datetime

    asked: list[str] = []

    class Lister:
        def list_objects(self, plural: str, namespaces: tuple[str, ...], label_selector: str = "") -> list[Any]:
            asked.append(label_selector)
            return []

    monkeypatch.setattr(handlers, "CLUSTER", Lister())
    assert handlers.sweep_once(datetime.now(UTC)) == 0
    assert set(asked) == {"stackery.io/shard in (1)"} and len(asked) == len(handlers.KINDS)
    monkeypatch.setattr(sharded, "active", lambda: frozenset())
    asked.clear()
    handlers.sweep_once(datetime.now(UTC))
    assert asked == [], "holding no shard, there is nothing of ours to list"


def test_the_sweep_asks_for_passes_on_late_plans_not_on_stale_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks that found nothing new leave status.nextCheckAt behind: the sweep judges by the agenda's plan
    where there is one, and by the status only for objects the agenda does not know."""
    from datetime import UTC, datetime

    now = datetime(2026, 6, 1, tzinfo=UTC)
    stale = {"nextCheckAt": "2026-05-31T00:00:00Z"}
    items = [{"metadata": {"uid": u, "namespace": "ns", "name": u}, "status": stale} for u in ("fresh", "late", "unknown")]
    poked: list[str] = []

    class Cluster:
        def list_objects(self, plural: str, namespaces: tuple[str, ...], label_selector: str = "") -> list[Any]:
            return items if plural == handlers.KINDS[0].plural else []

        def request_pass(self, kind: str, namespace: str, name: str, when: str) -> None:
            poked.append(name)

    agenda = handlers.Agenda(lambda: now.timestamp())
    agenda.set("fresh", now.timestamp() + 60)
    agenda.set("late", now.timestamp() - 600)
    monkeypatch.setattr(handlers, "AGENDA", agenda)
    monkeypatch.setattr(handlers, "CLUSTER", Cluster())
    assert handlers.sweep_once(now) == 2
    assert poked == ["late", "unknown"]


def test_the_sweep_reads_a_kind_a_page_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """KubeCluster.list_objects follows the apiserver's continue tokens and yields as it goes, so at most one
    page of bodies is held decoded (the kubernetes client's own call is replaced; the e2e tier lists for real)."""
    from controller.kube import KubeCluster

    pages = {"": (["a", "b"], "t1"), "t1": (["c", "d"], "t2"), "t2": (["e"], "")}
    asked: list[tuple[str, int]] = []

    def list_call(*args: Any, label_selector: str, limit: int, _continue: str, _request_timeout: int) -> dict[str, Any]:
        asked.append((_continue, limit))
        names, token = pages[_continue]
        return {"items": [{"metadata": {"name": n}} for n in names], "metadata": {"continue": token}}

    cluster = KubeCluster()
    monkeypatch.setattr(cluster, "_list_call", lambda plural, ns: (list_call, ()))
    got = cluster.list_objects("widgets")
    assert next(got)["metadata"]["name"] == "a" and len(asked) == 1, "the first page is used before the next is read"
    assert [o["metadata"]["name"] for o in got] == ["b", "c", "d", "e"]
    assert asked == [("", cluster.LIST_PAGE), ("t1", cluster.LIST_PAGE), ("t2", cluster.LIST_PAGE)]


# ------------------------------------------------------------------ kopf's diff base (none stored)
def test_kopf_sees_every_body_as_its_own_diff_base_and_nothing_is_written() -> None:
    storage = handlers._NoDiffBase()
    raw_ = {
        "apiVersion": "stackery.io/v1alpha1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "ns", "uid": "u", "annotations": {"team": "web"}, "managedFields": [{}]},
        "spec": {"size": 1},
        "status": {"observedGeneration": 1},
    }
    b = kopf.Body(raw_)
    old = storage.fetch(body=b)
    new = storage.build(body=b, extra_fields=set())
    assert old is new, "one deep copy of the body per event, not two"
    assert new == {"spec": {"size": 1}, "metadata": {"annotations": {"team": "web"}}}
    patch = kopf.Patch()
    storage.store(body=b, patch=patch, essence=new)
    assert not patch, "no diff base written into status"
    other = kopf.Body({**raw_, "spec": {"size": 2}})
    assert storage.build(body=other) == {"spec": {"size": 2}, "metadata": {"annotations": {"team": "web"}}}


# ------------------------------------------------------------------ kopf's API session
def test_kopfs_session_to_the_api_has_a_connection_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """kopf's own session has none (one TLS connection, with a 256 KiB read buffer, per concurrent PATCH at a
    burst of new objects): the operator's login keeps kopf's credentials and limits the connections to the
    watch streams (one per kind and namespace) plus a fixed number for requests."""
    import asyncio
    import dataclasses
    import logging

    info = kopf.ConnectionInfo(server="https://127.0.0.1:6443", token="t", scheme="Bearer", default_namespace="ns")
    monkeypatch.setattr(handlers.kopf, "login_via_client", lambda **_: info)
    monkeypatch.setattr(handlers, "SETTINGS", dataclasses.replace(handlers.SETTINGS, namespaces=("a", "b")))

    async def login() -> tuple[int, str, str | None]:
        got = await handlers.login(logger=logging.getLogger("test"), settings=kopf.OperatorSettings())
        try:
            assert got.aiohttp_session.headers["Authorization"] == "Bearer t"
            return got.aiohttp_session.connector.limit, got.server, got.default_namespace  # type: ignore[union-attr]
        finally:
            await got.aiohttp_session.close()

    limit, server, namespace = asyncio.run(login())
    assert limit == 2 * len(handlers.KINDS) + handlers.API_REQUESTS_AT_ONCE
    assert (server, namespace) == ("https://127.0.0.1:6443", "ns")

    monkeypatch.setattr(handlers.kopf, "login_via_client", lambda **_: None)
    with pytest.raises(kopf.LoginError):
        asyncio.run(handlers.login(logger=logging.getLogger("test"), settings=kopf.OperatorSettings()))
