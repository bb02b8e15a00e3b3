"""Per-object serialisation of reconciles.

Why: the agenda's worker threads run passes while kopf runs deletes (and, with STACKERY_SCHEDULER=timers,
change handlers beside timers). Two reconciles of one object at once could apply an old spec over a new
one; this lock prevents it. The agenda and timers never wait: if the object is busy, the agenda looks
again a second later and a timer skips its tick (the running reconcile does the work).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ObjectLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())

    @contextmanager
    def hold(self, uid: str, *, wait: bool = True) -> Iterator[bool]:
        """Yields True with the lock held; with wait=False yields False at once if it is busy."""
        lock = self._lock(uid)
        got = lock.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                lock.release()

    def forget(self, uid: str) -> None:
        with self._guard:
            self._locks.pop(uid, None)
