"""The kube-apiserver goes away for 90 s while objects are in sync: once it is back, every object is
checked again within resync + margin (its lastSyncTime moves past the restart), and nothing is overdue
on /metrics. Before the operator's own sweep existed, kopf gave up the status patches made during the
outage and the objects' periodic checks silently stopped (the resilience issue). Now the agenda keeps
each object's next time in memory and retries a status write that failed (checks that find nothing new
write none; the test bed writes one at least every 15 s); the sweep, the net under the agenda, asks kopf
for a pass only when a plan itself is late (tests/unit/test_handlers.py proves that arithmetic)."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime

import testbed

from .conftest import metric, object_store, ready, wait_for

NS = "outage"
N = 6
DOWN_SECONDS = 90
MARGIN_SECONDS = 60  # resync is 5 s in the test bed; the sweep's overdue margin is 10 s


def parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_checks_resume_after_a_90s_apiserver_outage(bed: testbed.TestBed) -> None:
    bed.kubectl("create", "namespace", NS)
    items = []
    for i in range(N):
        o = object_store(f"o{i}")
        o["metadata"]["namespace"] = NS
        items.append(o)
    bed.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    for i in range(N):
        wait_for(lambda i=i: ready(bed, "stackeryobjectstore", f"o{i}", NS), timeout=90, what=f"o{i} Ready")  # type: ignore[misc]

    bed.stop_apiserver()
    time.sleep(DOWN_SECONDS)
    bed.start_apiserver()
    back = datetime.now(UTC).replace(microsecond=0)

    def all_checked_again() -> bool:
        got = json.loads(bed.kubectl("get", "stackeryobjectstores", "-n", NS, "-o", "json").stdout)["items"]
        stale = [o["metadata"]["name"] for o in got if parse(o["status"]["lastSyncTime"]) < back]
        if stale:
            raise RuntimeError(f"not checked since the apiserver came back: {stale}")
        return True

    wait_for(all_checked_again, timeout=5 + MARGIN_SECONDS, what="every object checked again")
    wait_for(lambda: metric(bed, "stackery_checks_overdue", kind="StackeryObjectStore") == 0, timeout=30, what="nothing overdue")
    with urllib.request.urlopen(f"http://127.0.0.1:{bed.metrics_port}/readyz", timeout=5) as r:
        assert r.status == 200
