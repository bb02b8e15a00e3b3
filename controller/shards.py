"""Shards: which objects this replica reconciles, decided with coordination.k8s.io Leases.

Why: one replica cannot outgrow one machine's CPU, and a single replica that dies leaves every object
unwatched until Kubernetes restarts it. With `STACKERY_SHARDS` > 1 every object carries the label
`stackery.io/shard` (a stable hash of its uid, set once by the labeller); each shard is owned by one
replica through a Lease `stackery-shard-<K>`, and a replica watches only the shards it holds (a
server-side label selector, so kopf never even sees — and never strips the finalizer of — another
replica's objects).

The rules (client-go's leader election, per shard):
- A replica renews every lease it holds each tick (duration/3). If it cannot for 2/3 of the duration it
  stops starting passes on those shards; another replica takes a lease only after watching it unchanged for
  a whole duration *by its own clock* (no trust in other machines' clocks). So a pass that ends within the
  lease's duration after its last renewal cannot overlap another replica's pass; one that runs longer is
  counted (`stackery_shard_passes_past_lease_total`, the "never two owners" proof the e2e reads).
- Replicas announce themselves with a Lease `stackery-replica-<identity>`; shard K is preferred by the
  K mod n-th of the n live replicas (sorted), so shards spread evenly and move only when replicas come or go.
- A replica hands a shard over only after its in-flight passes on it have ended (drain), then clears the
  holder so the next one takes it at once; on shutdown it hands over everything the same way.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

SHARD_LABEL = "stackery.io/shard"
SHARD_PREFIX = "stackery-shard-"
REPLICA_PREFIX = "stackery-replica-"


def shard_of(uid: str, count: int) -> int:
    """The shard the labeller gives an object: stable for its lifetime (its uid never changes)."""
    return int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16) % count


def label_of(meta: Mapping[str, Any], count: int) -> int | None:
    """The shard an object's labels put it in, or None when the label is missing or out of range."""
    raw = str((meta.get("labels") or {}).get(SHARD_LABEL, ""))
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value < count and str(value) == raw else None


def selector(shards: Iterable[int]) -> str:
    """The label selector of the objects in these shards."""
    return f"{SHARD_LABEL} in ({','.join(str(s) for s in sorted(shards))})"


def unlabelled(count: int) -> str:
    """The label selector of the objects the labeller must (re)label: no label, or one out of range."""
    return f"{SHARD_LABEL} notin ({','.join(str(s) for s in range(count))})"


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    """Empty: released (free to take at once)."""
    version: str
    """resourceVersion: a write must name it (optimistic concurrency), and a change of it is a renewal."""
    transitions: int = 0
    acquired: Any = None
    """When the holder took it (kept through renewals; a new holder sets a new one)."""


class LeaseConflict(Exception):
    """The lease changed since it was read (another replica wrote it), or already exists."""


class LeaseStore(Protocol):
    def list(self) -> list[Lease]:
        """Every lease of this operator (shards and replicas): one read per tick."""

    def create(self, name: str, holder: str) -> Lease:
        """Raises LeaseConflict when it exists."""

    def write(self, lease: Lease, holder: str, transitions: int) -> Lease:
        """Replace (renewTime now) if its version is still `lease.version`; raises LeaseConflict otherwise."""

    def delete(self, lease: Lease) -> None: ...


class Coordinator:
    """Holds this replica's shards. `tick` runs on one thread; `active`/`passing` from any."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        identity: str,
        count: int,
        duration: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[frozenset[int]], None] | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self.identity = identity
        self.count = count
        self.duration = duration
        self._clock = clock
        self._on_change = on_change or (lambda _: None)
        self._on_event = on_event or (lambda _: None)
        self._lock = threading.Condition()
        self._held: dict[int, tuple[Lease, float]] = {}
        """shard -> its lease as last written, and the local time just before that write (renewal or acquisition)."""
        self._draining: set[int] = set()
        self._inflight: Counter[int] = Counter()
        self._seen: dict[str, tuple[str, float]] = {}
        """lease name -> (version, local time it was first seen at that version)."""
        self._active: frozenset[int] = frozenset()
        self._me: Lease | None = None
        self._looked = False

    # ------------------------------------------------------------------ what passes ask
    def active(self) -> frozenset[int]:
        with self._lock:
            return self._active

    @contextmanager
    def passing(self, shard: int | None) -> Iterator[bool]:
        """Yields whether a pass on an object of `shard` may run (the shard is held, not draining, renewed
        recently); counted in flight until it ends, so a handover waits for it."""
        with self._lock:
            ok = shard is not None and shard in self._active and self._fresh(shard, self._clock())
            if ok:
                assert shard is not None
                self._inflight[shard] += 1
        try:
            yield ok
        finally:
            if ok:
                assert shard is not None
                with self._lock:
                    self._inflight[shard] -= 1
                    if self._clock() > self._renewed(shard) + self.duration:
                        self._on_event("past_lease")  # another replica may have taken it meanwhile
                    self._lock.notify_all()

    def _renewed(self, shard: int) -> float:
        got = self._held.get(shard)
        return got[1] if got else float("-inf")

    def _fresh(self, shard: int, now: float) -> bool:
        return now < self._renewed(shard) + self.duration * 2 / 3

    # ------------------------------------------------------------------ the loop
    def tick(self) -> None:
        """Read the leases once; renew what is held, take what is ours and free, hand over what is not."""
        now = self._clock()
        leases = {lease.name: lease for lease in self._store.list()}
        for name, lease in leases.items():
            if self._seen.get(name, ("", 0.0))[0] != lease.version:
                self._seen[name] = (lease.version, now)
        self._announce(leases.get(REPLICA_PREFIX + self.identity))
        live = sorted(
            {lease.holder for name, lease in leases.items() if name.startswith(REPLICA_PREFIX) and not self._expired(lease, now)}
            | {self.identity}
        )
        self._reap(leases, now)
        first, self._looked = not self._looked, True
        if first and live == [self.identity]:
            return  # first look: replicas starting together see each other's announcement before taking shards
        for shard in range(self.count):
            current = leases.get(SHARD_PREFIX + str(shard))
            mine = live[shard % len(live)] == self.identity
            if shard in self._held:
                self._keep(shard, current, mine, now)
            elif mine or (current is not None and self._expired(current, now, grace=self.duration)):
                self._take(shard, current, now)
        self._publish()

    def _expired(self, lease: Lease, now: float, grace: float = 0.0) -> bool:
        if not lease.holder:
            return True
        seen = self._seen.get(lease.name)
        return seen is not None and now > seen[1] + self.duration + grace

    def _announce(self, lease: Lease | None) -> None:
        try:
            if lease is None:
                self._me = self._store.create(REPLICA_PREFIX + self.identity, self.identity)
            else:
                self._me = self._store.write(lease, self.identity, lease.transitions)
        except LeaseConflict:
            self._me = None  # written meanwhile (by our previous life): next tick

    def _reap(self, leases: Mapping[str, Lease], now: float) -> None:
        """Delete replica leases unrenewed for ten durations (pods that are gone: their names never return)."""
        for name, lease in leases.items():
            if name.startswith(REPLICA_PREFIX) and lease.holder != self.identity and self._expired(lease, now, 9 * self.duration):
                try:
                    self._store.delete(lease)
                except LeaseConflict:
                    pass
                self._seen.pop(name, None)

    def _keep(self, shard: int, lease: Lease | None, mine: bool, now: float) -> None:
        if lease is None or lease.holder != self.identity:
            self._lose(shard, "taken by " + (lease.holder or "nobody (cleared)" if lease else "nobody (deleted)"))
            return
        # renew from the lease as listed: ours, perhaps at a version whose write answer was lost (a timeout)
        drained = False
        with self._lock:
            if mine:
                self._draining.discard(shard)
            elif shard not in self._draining:
                self._draining.add(shard)  # stop new passes first; hand over once the running ones end
                log.info("shard %d: handing over (another replica prefers it); draining", shard)
            else:
                drained = self._inflight[shard] == 0
        if drained:
            self._release(shard, lease)
            return
        try:
            self._held[shard] = (self._store.write(lease, self.identity, lease.transitions), now)
        except LeaseConflict:
            self._lose(shard, "written by another replica")
        except Exception as exc:  # noqa: BLE001 - the API is away: keep trying until the renew deadline
            log.warning("shard %d: could not renew its lease: %s", shard, exc)
            if not self._fresh(shard, self._clock()):
                self._lose(shard, "not renewed within 2/3 of the lease duration")

    def _take(self, shard: int, lease: Lease | None, now: float) -> None:
        try:
            got: Lease
            if lease is None:
                got = self._store.create(SHARD_PREFIX + str(shard), self.identity)
            elif lease.holder == self.identity:
                got = self._store.write(lease, self.identity, lease.transitions)  # ours from a previous life
            elif self._expired(lease, now):
                got = self._store.write(lease, self.identity, lease.transitions + 1)
            else:
                return  # held by a live replica: it hands over when it sees we prefer it
        except LeaseConflict:
            return
        self._held[shard] = (got, now)
        self._on_event("acquired")
        log.info("shard %d: acquired (holder was %r)", shard, lease.holder if lease else None)

    def _release(self, shard: int, held: Lease) -> None:
        try:
            self._store.write(held, "", held.transitions)
        except Exception as exc:  # noqa: BLE001 - it then expires on its own
            log.warning("shard %d: could not clear its lease (it expires instead): %s", shard, exc)
        self._forget(shard)
        self._on_event("released")
        log.info("shard %d: released", shard)

    def _lose(self, shard: int, why: str) -> None:
        self._forget(shard)
        self._on_event("lost")
        log.warning("shard %d: lost (%s)", shard, why)

    def _forget(self, shard: int) -> None:
        self._held.pop(shard, None)
        with self._lock:
            self._draining.discard(shard)

    def _publish(self) -> None:
        now = self._clock()
        with self._lock:
            active = frozenset(s for s in self._held if s not in self._draining and self._fresh(s, now))
            changed = active != self._active
            self._active = active
        if changed:
            self._on_change(active)

    def expire_stale(self) -> None:
        """Between ticks: stop passes on shards whose renewal is overdue (the API may be away)."""
        self._publish()

    # ------------------------------------------------------------------ shutdown
    def release_all(self, timeout: float) -> None:
        """Hand every shard over: stop new passes, wait (up to `timeout`) for the running ones, clear the
        leases so other replicas take them at once, and withdraw this replica's announcement."""
        with self._lock:
            self._draining.update(self._held)
            self._active = frozenset()
            end = self._clock() + timeout
            while any(self._inflight[s] for s in self._held) and self._clock() < end:
                self._lock.wait(0.2)
        for shard, (held, _) in list(self._held.items()):
            self._release(shard, held)
        if self._me is not None:
            try:
                self._store.delete(self._me)
            except Exception as exc:  # noqa: BLE001 - reaped by the others later
                log.info("could not withdraw this replica's lease: %s", exc)
        self._on_change(frozenset())
