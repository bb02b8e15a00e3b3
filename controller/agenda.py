"""One heap of next-check times for every object, instead of a kopf timer per object.

Why: a kopf timer per object wakes every tick whether or not anything is due — at 3,000 objects and a
10 s tick that is 300 handler calls a second, each hopping to a worker thread to find nothing to do
(0.17–0.20 cores idle, and an asyncio task with its own memory per object). The agenda keeps one entry per
object (its `status.nextCheckAt`, or now when its spec changed) and one thread that sleeps until the
earliest is due: idle costs nothing, and a check runs when it is due rather than at the next tick.

The agenda only says *when*; handlers decide *what* (a reconcile pass) and feed it from every watch
event, so it is rebuilt from the apiserver's own data after a restart. Entries are replaced, never
duplicated: setting an object's time again moves it (stale heap entries are skipped when popped).
"""

from __future__ import annotations

import hashlib
import heapq
import threading
from collections.abc import Callable


def spread(key: str) -> float:
    """A stable point in [0, 1) per key (an object's uid): where in a window its check falls when many are due
    at once, and how far its resync and backoff are jittered."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0x100000000


class Agenda:
    """Thread-safe: `set`/`drop` from any thread, `wait_due` from the one thread that runs passes."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, str]] = []
        self._when: dict[str, tuple[float, int]] = {}
        """uid -> (time, sequence) of its live entry; heap entries that do not match are stale."""
        self._planned: dict[str, float] = {}
        """uid -> the last time set, kept after it is popped (a check under way) until dropped: what the
        sweep judges lateness by, since a check that finds nothing new does not write nextCheckAt."""
        self._seq = 0
        self._cond = threading.Condition()

    def __len__(self) -> int:
        with self._cond:
            return len(self._when)

    def set(self, uid: str, when: float) -> None:
        """Check uid at `when` (clock seconds); replaces its previous time."""
        with self._cond:
            self._seq += 1
            self._when[uid] = (when, self._seq)
            self._planned[uid] = when
            heapq.heappush(self._heap, (when, self._seq, uid))
            if self._heap[0][2] == uid and self._heap[0][1] == self._seq:
                self._cond.notify()  # the earliest entry changed: the waiting thread sleeps too long otherwise
            if len(self._heap) > 4 * len(self._when) + 64:
                self._compact()

    def at(self, uid: str) -> float | None:
        with self._cond:
            got = self._when.get(uid)
            return got[0] if got else None

    def planned(self, uid: str) -> float | None:
        """The time uid was last set to, also while its check runs (None once dropped, or never set)."""
        with self._cond:
            return self._planned.get(uid)

    def drop(self, uid: str) -> None:
        with self._cond:
            self._when.pop(uid, None)
            self._planned.pop(uid, None)

    def due(self, now: float | None = None) -> list[str]:
        """Pop every uid whose time has come (each once)."""
        with self._cond:
            return self._pop_due(self._clock() if now is None else now)

    def wait_due(self, timeout: float | None = None, limit: int | None = None) -> list[str]:
        """Block until at least one uid is due (or `timeout` seconds pass: then []) and pop the due ones (at
        most `limit`, earliest first: the rest stay on the agenda, where a new time still moves them)."""
        with self._cond:
            deadline = None if timeout is None else self._clock() + timeout
            while True:
                now = self._clock()
                got = self._pop_due(now, limit)
                if got:
                    return got
                if deadline is not None and now >= deadline:
                    return []
                waits = [t - now for t in (self._next(), deadline) if t is not None]
                self._cond.wait(max(0.0, min(waits)) if waits else None)

    def _next(self) -> float | None:
        while self._heap:
            when, seq, uid = self._heap[0]
            if self._when.get(uid) == (when, seq):
                return when
            heapq.heappop(self._heap)  # stale: moved or dropped since
        return None

    def _pop_due(self, now: float, limit: int | None = None) -> list[str]:
        out: list[str] = []
        while self._heap and self._heap[0][0] <= now and (limit is None or len(out) < limit):
            when, seq, uid = heapq.heappop(self._heap)
            if self._when.get(uid) == (when, seq):
                del self._when[uid]
                out.append(uid)
        return out

    def _compact(self) -> None:
        self._heap = [(w, s, u) for u, (w, s) in self._when.items()]
        heapq.heapify(self._heap)
