"""Which bench objects are Ready, from watches instead of polling.

The bench used to run `kubectl get stackery -o json` every 2 s: each poll started a kubectl process and
listed every object, CPU taken from the same 2 cores the operator, moto and the apiserver share, and the
time to Ready was only known to the next poll. A watch per kind costs one stream each, and an object's
Ready time is when its event arrived.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

GROUP, VERSION = "stackery.io", "v1alpha1"


def _ready(obj: dict[str, Any], since: str | None) -> bool:
    st = obj.get("status") or {}
    if since is not None and (st.get("lastSyncTime") or "") < since:
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions", []))


class ReadyWatch:
    """The latest body of every object of the given plurals (all namespaces), kept by one watch per plural."""

    def __init__(self, kubeconfig: str, plurals: list[str]) -> None:
        self.api = kubernetes.client.CustomObjectsApi(kubernetes.config.new_client_from_config(config_file=kubeconfig))
        self.cond = threading.Condition()
        self.bodies: dict[str, dict[str, Any]] = {}
        self.ready: set[str] = set()  # keys of bodies Ready by the current `since`
        self.since: str | None = None
        self.stopping = threading.Event()
        self.listed = {p: threading.Event() for p in plurals}
        self.threads = [threading.Thread(target=self._watch, args=(p,), daemon=True) for p in plurals]
        for t in self.threads:
            t.start()
        for p, ev in self.listed.items():
            if not ev.wait(60):
                raise RuntimeError(f"no first list of {p} within 60 s")

    def _put(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        key = f"{kind}/{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        with self.cond:
            if event == "DELETED":
                self.bodies.pop(key, None)
            else:
                self.bodies[key] = obj
            if event != "DELETED" and _ready(obj, self.since):
                self.ready.add(key)
            else:
                self.ready.discard(key)
            self.cond.notify_all()

    def _watch(self, plural: str) -> None:
        rv: str | None = None
        while not self.stopping.is_set():
            try:
                if rv is None:
                    listed = self.api.list_cluster_custom_object(GROUP, VERSION, plural)
                    with self.cond:
                        for key in [k for k in self.bodies if k.startswith(plural + "/")]:
                            del self.bodies[key]
                            self.ready.discard(key)
                    for obj in listed["items"]:
                        self._put(plural, "ADDED", obj)
                    rv = listed["metadata"]["resourceVersion"]
                    self.listed[plural].set()
                w = kubernetes.watch.Watch()
                for ev in w.stream(
                    self.api.list_cluster_custom_object, GROUP, VERSION, plural, resource_version=rv, timeout_seconds=30
                ):
                    if self.stopping.is_set():
                        w.stop()
                        break
                    rv = w.resource_version
                    self._put(plural, ev["type"], ev["object"])
            except ApiException as e:
                if e.status == 410:  # too old: list again
                    rv = None
                elif not self.stopping.is_set():
                    time.sleep(0.2)
            except (OSError, ValueError, urllib3.exceptions.HTTPError):  # the stream broke: watch again
                if not self.stopping.is_set():
                    time.sleep(0.2)

    def count(self) -> int:
        with self.cond:
            return len(self.ready)

    def wait(self, total: int, t0: float, timeout: float, since: str | None = None) -> tuple[int, float]:
        """Until `total` objects are Ready (with a lastSyncTime from `since` on) or the timeout passes:
        (how many are, seconds from t0 to the event that made it `total`, or to the timeout)."""
        with self.cond:
            self.since = since
            self.ready = {k for k, o in self.bodies.items() if _ready(o, since)}
            while True:
                n = len(self.ready)
                now = time.monotonic()
                if n >= total or now - t0 >= timeout:
                    return n, now - t0
                self.cond.wait(timeout=min(1.0, timeout - (now - t0)))

    def close(self) -> None:
        self.stopping.set()
