"""The last status each object was given, so a pass never acts on a body from before the previous one.

Why: kopf applies a handler's status patch only after the handler returns, and a timer can run on the
body it had before that patch landed. Timestamps cannot order two passes in one second; the
resourceVersion can: each cached status remembers the resourceVersion of the body it was computed
from, and those of the writes the pass made on the way (a bucket's pendingCreate marker). A body at one
of those versions predates our patch (use the cached status over it); any other resourceVersion was
written later (our patch applied, or someone newer) and wins.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any


class StatusCache:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._by_uid: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}
        self._interim: dict[str, set[str]] = {}
        """uid -> versions our own writes made during a pass that has not remembered its status yet."""

    def wrote(self, uid: str, version: str) -> None:
        """A pass under way wrote the object (not its final status) and the body is now at `version`: a body
        at that version still predates the status the pass is about to remember."""
        with self._guard:
            self._interim.setdefault(uid, set()).add(version)

    def remember(self, uid: str, base_version: str, status: Mapping[str, Any]) -> None:
        """`status` was computed from the body at `base_version` and is about to be patched."""
        with self._guard:
            self._by_uid[uid] = (frozenset({base_version, *self._interim.pop(uid, ())}), dict(status))

    def current(self, uid: str, version: str, seen: Mapping[str, Any]) -> dict[str, Any]:
        """The status to act on for a body at `version` whose status is `seen`."""
        with self._guard:
            mine = self._mine(uid, version)
        return {**seen, **mine} if mine is not None else dict(seen)

    def seen(self, uid: str, version: str) -> None:
        """The watch delivered the object at `version`: a cached status computed from another version is
        retired now, not at the object's next pass (an hour away for an object in sync: at thousands of
        objects, a status dict each held for nothing)."""
        with self._guard:
            self._mine(uid, version)

    def _mine(self, uid: str, version: str) -> dict[str, Any] | None:
        """(Under the guard.) The cached status when it was computed from `version`; one computed from another
        version is retired: the body has moved on and is the truth from now on."""
        cached = self._by_uid.get(uid)
        if cached is None:
            return None
        if version in cached[0]:
            return cached[1]
        del self._by_uid[uid]
        return None

    def forget(self, uid: str) -> None:
        with self._guard:
            self._by_uid.pop(uid, None)
            self._interim.pop(uid, None)
