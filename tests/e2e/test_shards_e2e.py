"""Two sharded replicas on a real kube-apiserver: they split the shards, one is SIGKILLed, the other takes
its shards once their Leases run out and reconciles its objects; never two owners at once.

Its own test bed (no default operator): the replicas run with the chart's RBAC (the Lease Role included)
and find each other only through coordination.k8s.io Leases.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import testbed

from .conftest import apply_list, aws, node, ready, wait_for

LEASE = 6  # seconds: a short lease keeps the test short; the chart's default is 15
SHARDS = 4
NS = testbed.OPERATOR_NS


@pytest.fixture(scope="module")
def sbed() -> Iterator[testbed.TestBed]:
    with testbed.running(operator=False) as b:
        yield b


def start(bed: testbed.TestBed, name: str) -> int:
    return bed.start_operator(name=name, STACKERY_SHARDS=str(SHARDS), STACKERY_LEASE_SECONDS=str(LEASE), STACKERY_IDENTITY=name)


def held(bed: testbed.TestBed, port: int) -> set[int]:
    text = bed.metrics(port)
    return {int(m) for m in re.findall(r'^stackery_shard_held\{shard="(\d+)"\} 1\.0$', text, re.M)}


def past_lease(bed: testbed.TestBed, port: int) -> float:
    return bed.metric_total("stackery_shard_passes_past_lease_total", port=port)


def store(name: str, value: str) -> dict[str, object]:
    return node("StackeryConfigStore", name, parameters={"LEVEL": {"value": value}})


def level(ssm: object, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=f"/default/{name}/LEVEL")["Parameter"]["Value"]  # type: ignore[attr-defined,no-any-return]
    except Exception:  # noqa: BLE001 - not made yet
        return None


def test_two_replicas_split_the_shards_and_one_takes_over_when_the_other_dies(sbed: testbed.TestBed) -> None:
    bed = sbed
    a, b = start(bed, "replica-a"), start(bed, "replica-b")
    wait_for(
        lambda: held(bed, a) and held(bed, b) and len(held(bed, a)) == len(held(bed, b)) == SHARDS // 2, what="an even split"
    )
    assert held(bed, a).isdisjoint(held(bed, b))

    names = [f"sharded-{i}" for i in range(12)]
    apply_list(bed, *(store(n, "one") for n in names))
    objs = {n: wait_for(lambda n=n: ready(bed, "stackeryconfigstore", n), what=f"{n} Ready") for n in names}
    shard = {n: int(o["metadata"]["labels"]["stackery.io/shard"]) for n, o in objs.items()}
    # a hash of the uid: 12 objects leave some shard empty about one run in eight, but never all in one
    assert len(set(shard.values())) > 1, "the labeller spread the objects over the shards"
    assert held(bed, a).isdisjoint(held(bed, b)) and held(bed, a) | held(bed, b) == set(range(SHARDS))
    for port in (a, b):  # both replicas did work, each only on its own shards
        assert bed.metric_total("stackery_reconcile_total", port=port) > 0

    # SIGKILL b: no handover, its leases just stop being renewed
    b_shards = held(bed, b)
    orphans = [n for n in names if shard[n] in b_shards]
    assert orphans  # none in b's two shards: one run in 4,096
    bed.kill_operator("replica-b")
    killed = time.monotonic()
    apply_list(bed, *(store(n, "two") for n in orphans))  # changes only the dead replica could have seen
    wait_for(lambda: held(bed, a) == set(range(SHARDS)), timeout=LEASE * 3, what="a holds every shard")
    took = time.monotonic() - killed
    ssm = aws(bed, "ssm")
    wait_for(lambda: all(level(ssm, n) == "two" for n in orphans), timeout=30, what="the orphans reconciled by a")
    reconciled = time.monotonic() - killed
    print(f"takeover {took:.1f}s, orphans reconciled {reconciled:.1f}s after SIGKILL (lease {LEASE}s)")
    assert took <= LEASE + 2 * LEASE / 3 + 2, "taken once the lease ran out (plus a renew period to observe it)"
    for n in orphans:
        obj = bed.get("stackeryconfigstore", n)
        assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]

    # a new replica joins: a hands half over (after draining), and on SIGTERM it hands them back at once
    c = start(bed, "replica-c")
    wait_for(lambda: len(held(bed, a)) == len(held(bed, c)) == SHARDS // 2, timeout=LEASE * 4, what="rebalanced")
    assert held(bed, a).isdisjoint(held(bed, c))
    apply_list(bed, *(store(n, "three") for n in names))
    wait_for(lambda: all(level(ssm, n) == "three" for n in names), timeout=60, what="every object reconciled")
    bed.stop_operator("replica-c")
    stopped = time.monotonic()
    wait_for(lambda: held(bed, a) == set(range(SHARDS)), timeout=LEASE * 2, what="a holds every shard again")
    assert time.monotonic() - stopped < LEASE, "a handed-over lease is taken without waiting for it to run out"

    # never two owners: no pass of the survivor outlived its lease, and it never lost one
    assert past_lease(bed, a) == 0
    assert bed.metric_total("stackery_shard_handoffs_total", port=a, event="lost") == 0
    leases = bed.kubectl("get", "leases", "-n", NS, "-o", "jsonpath={.items[*].spec.holderIdentity}").stdout.split()
    assert leases.count("replica-a") == SHARDS + 1  # every shard and its own announcement

    # deleting through a sharded replica runs the finalizers
    bed.kubectl("delete", "stackeryconfigstore", *names, "--wait=true", "--timeout=60s")
    assert all(level(ssm, n) is None for n in names)
