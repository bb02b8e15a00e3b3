"""Shards held through Leases (controller.shards): who reconciles what, handovers, failover.

The Lease store here is an in-memory fake with the API's optimistic concurrency (a write names the
resourceVersion it read; a stale one conflicts) and the clock is a number we move, so expiry and renew
deadlines are exact. The e2e (tests/e2e/test_shards_e2e.py) runs the same code against a real
kube-apiserver with two operator processes and a SIGKILL.
"""

from __future__ import annotations

import itertools

import pytest

from controller.shards import (
    REPLICA_PREFIX,
    SHARD_PREFIX,
    Coordinator,
    Lease,
    LeaseConflict,
    label_of,
    selector,
    shard_of,
    unlabelled,
)

D = 15.0


class Store:
    def __init__(self) -> None:
        self.leases: dict[str, Lease] = {}
        self._versions = itertools.count(1)
        self.down = False
        self.writes = 0

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("the API is away")

    def list(self) -> list[Lease]:
        self._check()
        return list(self.leases.values())

    def create(self, name: str, holder: str) -> Lease:
        self._check()
        if name in self.leases:
            raise LeaseConflict(name)
        self.writes += 1
        self.leases[name] = Lease(name, holder, str(next(self._versions)))
        return self.leases[name]

    def write(self, lease: Lease, holder: str, transitions: int) -> Lease:
        self._check()
        now = self.leases.get(lease.name)
        if now is None or now.version != lease.version:
            raise LeaseConflict(lease.name)
        self.writes += 1
        self.leases[lease.name] = Lease(lease.name, holder, str(next(self._versions)), transitions)
        return self.leases[lease.name]

    def delete(self, lease: Lease) -> None:
        self._check()
        if self.leases.get(lease.name, lease).version != lease.version:
            raise LeaseConflict(lease.name)
        self.leases.pop(lease.name, None)

    def holders(self) -> dict[int, str]:
        return {int(n[len(SHARD_PREFIX) :]): lease.holder for n, lease in self.leases.items() if n.startswith(SHARD_PREFIX)}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(store: Store, clock: Clock, name: str, count: int = 4, events: list[str] | None = None) -> Coordinator:
    return Coordinator(
        store, identity=name, count=count, duration=D, clock=clock, on_event=(events.append if events is not None else None)
    )


def run(clock: Clock, *replicas: Coordinator, ticks: int = 1) -> None:
    """Each tick period (duration/3): every live replica ticks; their active shards never overlap."""
    for _ in range(ticks):
        for r in replicas:
            r.tick()
        actives = [r.active() for r in replicas]
        assert all(not (a & b) for a, b in itertools.combinations(actives, 2)), actives
        clock.now += D / 3


def test_one_replica_takes_every_shard_and_renews_them() -> None:
    store, clock = Store(), Clock()
    a = replica(store, clock, "a")
    run(clock, a)
    assert a.active() == frozenset(), "the first look only announces it (others starting with it show up)"
    run(clock, a)
    assert a.active() == {0, 1, 2, 3}
    assert set(store.holders().values()) == {"a"}
    versions = {n: lease.version for n, lease in store.leases.items()}
    run(clock, a)
    assert all(store.leases[n].version != v for n, v in versions.items()), "every lease renewed each tick"


def test_replicas_starting_together_split_the_shards_without_a_handover() -> None:
    store, clock, events = Store(), Clock(), []
    a, b = replica(store, clock, "a", events=events), replica(store, clock, "b", events=events)
    run(clock, a, b, ticks=2)
    assert (a.active(), b.active()) == ({0, 2}, {1, 3})
    assert events == ["acquired"] * 4


def test_a_second_replica_gets_half_after_the_first_drains_and_hands_over() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    run(clock, a, ticks=2)
    run(clock, a, b, ticks=3)
    assert a.active() == {0, 2}
    assert b.active() == {1, 3}
    assert store.holders() == {0: "a", 1: "b", 2: "a", 3: "b"}


def test_a_shard_is_handed_over_only_after_its_running_pass_ends() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    run(clock, a, ticks=2)
    with a.passing(1) as ours:
        assert ours
        run(clock, a, b, ticks=2)
        assert 1 not in a.active(), "no new pass on a shard being handed over"
        with a.passing(1) as again:
            assert not again
        assert store.holders()[1] == "a", "still a's while its pass runs"
        assert 1 not in b.active()
    run(clock, a, b, ticks=2)
    assert store.holders()[1] == "b"
    assert b.active() == {1, 3}


def test_a_dead_replicas_shards_are_taken_once_its_lease_ran_out_and_not_before() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    run(clock, a, b, ticks=4)
    assert b.active() == {1, 3}
    died = clock.now
    while clock.now < died + D - 0.01:  # b is gone (SIGKILL): it never ticks again
        run(clock, a)
        if clock.now < died + D:
            assert a.active() == {0, 2}, "b's leases have not run out yet"
    run(clock, a, ticks=2)
    assert a.active() == {0, 1, 2, 3}
    assert clock.now - died <= D + 2 * D / 3
    assert store.holders() == {0: "a", 1: "a", 2: "a", 3: "a"}
    assert store.leases[SHARD_PREFIX + "1"].transitions == 1, "b's (started together: no handover), then a's"


def test_a_replica_that_cannot_renew_stops_passes_before_its_lease_runs_out() -> None:
    store, clock, events = Store(), Clock(), []
    a = replica(store, clock, "a", events=events)
    run(clock, a, ticks=2)
    store.down = True
    for _ in range(2):
        with pytest.raises(ConnectionError):
            a.tick()
        a.expire_stale()
        clock.now += D / 3
    # 2/3 of the duration since the last renewal: passes stop, a third of the duration before anyone may take over
    assert a.active() == frozenset()
    with a.passing(0) as ours:
        assert not ours


def test_a_pass_that_outlives_the_lease_is_counted() -> None:
    store, clock, events = Store(), Clock(), []
    a = replica(store, clock, "a", events=events)
    run(clock, a, ticks=2)
    with a.passing(2) as ours:
        assert ours
        clock.now += D + 1  # no renewal meanwhile (the lease loop was starved)
    assert events.count("past_lease") == 1
    with a.passing(2) as again:
        assert not again, "and no new pass starts on a lease not renewed for 2/3 of its duration"


def test_a_shard_taken_by_another_is_lost_at_once() -> None:
    store, clock, events = Store(), Clock(), []
    a = replica(store, clock, "a", events=events)
    run(clock, a, ticks=2)
    name = SHARD_PREFIX + "3"
    store.leases[name] = Lease(name, "intruder", "999")
    run(clock, a)
    assert 3 not in a.active()
    assert "lost" in events


def test_release_all_hands_every_shard_over_at_once() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    run(clock, a, b, ticks=4)
    a.release_all(timeout=1)
    assert a.active() == frozenset()
    assert REPLICA_PREFIX + "a" not in store.leases
    run(clock, b)
    assert b.active() == {0, 1, 2, 3}, "released leases are taken without waiting for them to run out"


def test_a_restarted_replica_takes_back_its_own_leases_without_waiting_for_them_to_run_out() -> None:
    store, clock = Store(), Clock()
    run(clock, replica(store, clock, "a"), ticks=2)
    again = replica(store, clock, "a")
    run(clock, again, ticks=2)
    assert again.active() == {0, 1, 2, 3}


def test_gone_replicas_announcements_are_reaped() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    run(clock, a, b)
    run(clock, a, ticks=32)  # ten lease durations unrenewed
    assert REPLICA_PREFIX + "b" not in store.leases


def test_labels_selectors_and_hash() -> None:
    assert shard_of("4f1c-uid", 4) == shard_of("4f1c-uid", 4)
    assert {shard_of(f"uid-{i}", 4) for i in range(200)} == {0, 1, 2, 3}
    assert label_of({"labels": {"stackery.io/shard": "2"}}, 4) == 2
    assert label_of({"labels": {"stackery.io/shard": "7"}}, 4) is None
    assert label_of({"labels": {"stackery.io/shard": "02"}}, 4) is None
    assert label_of({}, 4) is None
    assert selector({2, 0}) == "stackery.io/shard in (0,2)"
    assert unlabelled(3) == "stackery.io/shard notin (0,1,2)"


def test_a_renewal_whose_answer_was_lost_is_not_a_lost_lease() -> None:
    store, clock, events = Store(), Clock(), []
    a = replica(store, clock, "a", events=events)
    run(clock, a, ticks=2)
    name = SHARD_PREFIX + "0"
    store.leases[name] = Lease(name, "a", "555")  # our own write went through; its answer never came
    run(clock, a)
    assert 0 in a.active() and "lost" not in events
