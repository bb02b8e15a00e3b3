"""`make bench`: N StackeryObjectStores + N StackeryConfigStores + N StackeryTables applied at once on the local control
plane + moto server; then M StackeryVirtualNetworks (default 10) likewise. Reports time until all are
Ready, the operator's peak RSS and CPU beside moto's CPU (moto serves every call from one interpreter, so
the time to Ready follows the calls made), AWS calls per resource at create and per drift check, as tables
and JSON (bench/results/). No assertions: figures.

--latency-ms 0 30 repeats each size with that much added to every AWS call (hack/faultproxy.py in front of
moto: real AWS answers in tens of milliseconds); --throttle 0.2 makes that share of calls answer 429
(throttling only), to show the operator's rate limits and adaptive retries at work; --replicas 2 adds a row
with that many sharded replicas (the chart's 8 shards): CPU and AWS calls summed over them, RSS the largest.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import faultproxy
import readywatch
import testbed

ROOT = Path(__file__).resolve().parents[1]
PLURALS = ("stackeryobjectstores", "stackeryconfigstores", "stackerytables")
KINDS = (("objectstore", ("s3",)), ("configstore", ("ssm",)), ("table", ("dynamodb", "application-autoscaling")))


# the chart's defaults for the sweep (the test bed's 2 s sweep would list every object 15 times as often)
SHARDS = 8  # the chart's default (operator.shards)
OPERATOR = {
    "STACKERY_RESYNC_SECONDS": "3600",
    "STACKERY_STATUS_HEARTBEAT_SECONDS": "3600",
    "STACKERY_TICK_SECONDS": "10",
    "STACKERY_LOG_LEVEL": "WARNING",
    "STACKERY_SWEEP_SECONDS": "30",
    "STACKERY_OVERDUE_MARGIN_SECONDS": "120",
}


def manifests(n: int) -> str:
    items: list[dict[str, Any]] = []
    for i in range(n):
        items.append(
            {
                "apiVersion": "stackery.io/v1alpha1",
                "kind": "StackeryObjectStore",
                "metadata": {"name": f"bench-{i:04d}", "namespace": "default"},
                "spec": {"versioning": True, "tags": {"bench": "yes"}},
            }
        )
        items.append(
            {
                "apiVersion": "stackery.io/v1alpha1",
                "kind": "StackeryConfigStore",
                "metadata": {"name": f"bench-{i:04d}", "namespace": "default"},
                "spec": {"parameters": {"LOG_LEVEL": {"value": "info"}, "FEATURE": {"value": "on"}}},
            }
        )
        items.append(
            {
                "apiVersion": "stackery.io/v1alpha1",
                "kind": "StackeryTable",
                "metadata": {"name": f"bench-{i:04d}", "namespace": "default"},
                "spec": {"ttlAttribute": "expiresAt", "backupBeforeDelete": False},
            }
        )
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def samples(text: str, name: str) -> Iterator[tuple[dict[str, str], float]]:
    """The labelled samples of one metric in Prometheus text (the operator's /metrics, the apiserver's)."""
    for m in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M):
        yield dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))), float(m.group(2))


def api_calls(bed: testbed.TestBed) -> dict[str, float]:
    """AWS calls by service, summed over the operator's replicas."""
    out: dict[str, float] = {}
    for port in bed.operator_ports.values():
        for labels, value in samples(bed.metrics(port), "stackery_aws_api_calls_total"):
            out[labels["service"]] = out.get(labels["service"], 0) + value
    return out


def operator_writes(bed: testbed.TestBed) -> float:
    """Writes the operator made to the apiserver, from the apiserver's own apiserver_request_total: PATCH/PUT
    of stackery.io objects and their status, and Events posted (kubectl's creates are POSTs, not counted)."""
    total = 0.0
    for labels, value in samples(bed.kubectl("get", "--raw", "/metrics").stdout, "apiserver_request_total"):
        ours = labels.get("group") == "stackery.io" and labels.get("verb") in ("PATCH", "PUT")
        if ours or (labels.get("verb") == "POST" and labels.get("resource") == "events"):
            total += value
    return total


def metric_total(bed: testbed.TestBed, name: str, **labels: str) -> float:
    return sum(bed.metric_total(name, port=port, **labels) for port in bed.operator_ports.values())


def poll(count: Any, total: int, since: float, timeout: float) -> int:
    """count() every 2 s until it reaches total or the timeout passes; the last count."""
    n = 0
    while time.monotonic() - since < timeout:
        n = count()
        if n >= total:
            break
        time.sleep(2)
    return n


def rss_peak_mib(bed: testbed.TestBed) -> float:
    """Peak RSS of the operator (the largest replica's)."""
    peaks = [
        int(line.split()[1]) / 1024
        for name, p in bed.procs.procs
        if name in bed.operator_ports
        for line in Path(f"/proc/{p.pid}/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    ]
    return max(peaks, default=float("nan"))


def cpu_seconds(bed: testbed.TestBed, *names: str) -> float:
    """CPU (user + system) of test-bed processes (moto, kube-apiserver, etcd: summed), or of the operator
    (the default; summed over its replicas)."""
    import os

    wanted = set(names) if names else set(bed.operator_ports)
    total = 0.0
    for n, p in bed.procs.procs:
        if n in wanted:
            fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def settle(bed: testbed.TestBed, quiet: float = 0.02, step: float = 0.5, limit: float = 30) -> None:
    """Until the operator has stopped working (less than `quiet` CPU seconds over `step`): the CPU of what a
    create or a check caused is counted whole, watch events of the last status writes included, even though
    the watch saw the last object Ready before those were handled."""
    end = time.monotonic() + limit
    last = cpu_seconds(bed)
    while time.monotonic() < end:
        time.sleep(step)
        now = cpu_seconds(bed)
        if now - last < quiet:
            return
        last = now


def create_all(bed: testbed.TestBed, n: int, timeout: float, watch: readywatch.ReadyWatch) -> tuple[float, float, int]:
    """One `kubectl create` of the N-per-kind manifests: (seconds it took, seconds to all Ready, how many Ready)."""
    t0 = time.monotonic()
    bed.kubectl("create", "-f", "-", input=manifests(n), timeout=600)
    applied = time.monotonic() - t0
    ready, t_ready = watch.wait(3 * n, t0, timeout)
    return applied, t_ready, ready


def check_all(bed: testbed.TestBed, watch: readywatch.ReadyWatch, plurals: str, total: int, timeout: float) -> tuple[int, float]:
    """One drift check of every object: an annotation change asks each for a pass, which writes its status.
    (How many were checked, seconds until the last was.)"""
    time.sleep(1.1)  # passes of the create finished in an earlier second than the stamp
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t1 = time.monotonic()
    bed.kubectl("annotate", plurals, "--all", "bench/poke=1", "--overwrite", timeout=600)
    return watch.wait(total, t1, timeout, since=stamp)


def watching(bed: testbed.TestBed, *plurals: str) -> contextlib.closing[readywatch.ReadyWatch]:
    return contextlib.closing(readywatch.ReadyWatch(str(bed.kubeconfig()), list(plurals or PLURALS)))


@contextlib.contextmanager
def bench_bed(
    latency_ms: float = 0.0, throttle: float = 0.0, scheduler: str = "agenda", replicas: int = 1
) -> Iterator[testbed.TestBed]:
    """The test bed with the chart's settings; with latency or throttling, the operator reaches moto through
    the fault proxy (AWS_ENDPOINT_URL), exactly as it would reach AWS; with replicas > 1, that many sharded
    replicas (the chart's 8 shards), started once they hold every shard between them."""
    with testbed.running(operator=False, **OPERATOR, STACKERY_SCHEDULER=scheduler) as bed:
        proxy = None
        env: dict[str, str] = {}
        if latency_ms or throttle:
            proxy = faultproxy.FaultProxy(
                bed.moto_url, rate=throttle, seed=3, latency=latency_ms / 1000, faults=("throttle",)
            ).start()
            env["AWS_ENDPOINT_URL"] = proxy.url
        try:
            if replicas == 1:
                bed.start_operator(**env)
            else:
                for i in range(replicas):
                    bed.start_operator(
                        name="operator" if i == 0 else f"operator-{i + 1}",
                        STACKERY_SHARDS=str(SHARDS),
                        STACKERY_IDENTITY=f"replica-{i + 1}",
                        **env,
                    )
                poll(lambda: int(metric_total(bed, "stackery_shards_held")), SHARDS, time.monotonic(), 120)
            yield bed
        finally:
            for name in list(bed.operator_ports):
                bed.stop_operator(name)
            if proxy is not None:
                proxy.stop()


def run(
    n: int, timeout: float, latency_ms: float = 0.0, throttle: float = 0.0, scheduler: str = "agenda", replicas: int = 1
) -> dict[str, Any]:
    total = 3 * n
    with bench_bed(latency_ms, throttle, scheduler, replicas) as bed, watching(bed) as watch:
        idle_rss = rss_peak_mib(bed)
        moto0 = cpu_seconds(bed, "moto")
        plane0 = cpu_seconds(bed, "kube-apiserver", "etcd")
        writes0 = operator_writes(bed)
        cpu0 = cpu_seconds(bed)  # the operator's start (imports, first listing) is not the create's
        applied, t_ready, ready = create_all(bed, n, timeout, watch)
        settle(bed)
        create_calls = api_calls(bed)
        cpu_create = cpu_seconds(bed) - cpu0
        moto_create = cpu_seconds(bed, "moto") - moto0
        plane_create = cpu_seconds(bed, "kube-apiserver", "etcd") - plane0
        writes_create = operator_writes(bed) - writes0
        throttled = metric_total(bed, "stackery_aws_api_calls_total", outcome="throttled")
        waited = metric_total(bed, "stackery_aws_rate_limit_wait_seconds_total")
        checked, t_check = check_all(bed, watch, ",".join(PLURALS), total, timeout)
        settle(bed)
        after = api_calls(bed)
        cpu_check = cpu_seconds(bed) - cpu0 - cpu_create
        # steady state: timers only (nothing due), CPU over 20 s
        c0 = cpu_seconds(bed)
        time.sleep(20)
        idle_cpu = (cpu_seconds(bed) - c0) / 20
        return {
            "n_per_kind": n,
            "scheduler": scheduler,
            "replicas": replicas,
            "latency_ms": latency_ms,
            "throttle": throttle,
            "objects": total,
            "ready": ready,
            "apply_seconds": round(applied, 1),
            "seconds_to_all_ready": round(t_ready, 1),
            "drift_check_pass_seconds": round(t_check, 1),
            "drift_checked": checked,
            "rss_idle_mib": round(idle_rss, 1),
            "rss_peak_mib": round(rss_peak_mib(bed), 1),
            "cpu_seconds_create": round(cpu_create, 1),
            "cpu_ms_per_object_create": round(1000 * cpu_create / total, 1),
            "cpu_ms_per_object_check": round(1000 * cpu_check / total, 1),
            "moto_cpu_seconds_create": round(moto_create, 1),
            "ready_over_moto_cpu": round(t_ready / moto_create, 2) if moto_create else None,
            "apiserver_etcd_cpu_seconds_create": round(plane_create, 1),
            "apiserver_writes_per_object_create": round(writes_create / total, 2),
            "throttled_attempts": int(throttled),
            "rate_limit_wait_seconds": round(waited, 1),
            "cpu_cores_steady": round(idle_cpu, 3),
            **{f"aws_calls_per_{k}_create": round(sum(create_calls.get(s, 0) for s in svcs) / n, 2) for k, svcs in KINDS},
            **{
                f"aws_calls_per_{k}_check": round(sum(after.get(s, 0) - create_calls.get(s, 0) for s in svcs) / n, 2)
                for k, svcs in KINDS
            },
        }


def run_checks(n: int, timeout: float, resync: float, window: float = 60.0) -> dict[str, Any]:
    """The agenda's own cost: objects in sync checked every `resync` seconds (no spec change, no annotation),
    CPU and AWS calls per scheduled check over `window` seconds once the first checks have begun."""
    total = 3 * n
    with testbed.running(**{**OPERATOR, "STACKERY_RESYNC_SECONDS": str(resync)}) as bed, watching(bed) as watch:
        _, _, ready = create_all(bed, n, timeout, watch)
        time.sleep(resync)  # the first scheduled checks are under way
        c0, r0, a0 = cpu_seconds(bed), metric_total(bed, "stackery_reconcile_total"), sum(api_calls(bed).values())
        q0 = metric_total(bed, "stackery_checks_unwritten_total")
        time.sleep(window)
        checks = metric_total(bed, "stackery_reconcile_total") - r0
        unwritten = metric_total(bed, "stackery_checks_unwritten_total") - q0
        cpu = cpu_seconds(bed) - c0
        calls = sum(api_calls(bed).values()) - a0
        return {
            "n_per_kind": n,
            "objects": total,
            "ready": ready,
            "resync_seconds": resync,
            "scheduled_checks": int(checks),
            "cpu_ms_per_scheduled_check": round(1000 * cpu / checks, 2) if checks else None,
            "aws_calls_per_scheduled_check": round(calls / checks, 2) if checks else None,
            # the two counters are read a moment apart: never below 0
            "share_of_checks_writing_status": round(max(0.0, 1 - unwritten / checks), 3) if checks else None,
            "cpu_cores_while_checking": round(cpu / window, 3),
        }


def run_networks(n: int, timeout: float) -> dict[str, Any]:
    """M Virtual Networks (2 zones, a NAT gateway per zone, S3 + DynamoDB endpoints) at once."""
    items = [
        {
            "apiVersion": "stackery.io/v1alpha1",
            "kind": "StackeryVirtualNetwork",
            "metadata": {"name": f"net-{i:03d}", "namespace": "default"},
            "spec": {"cidr": f"10.{i % 256}.0.0/16", "endpoints": {"s3": True, "dynamodb": True}},
        }
        for i in range(n)
    ]
    with testbed.running(**OPERATOR) as bed, watching(bed, "stackeryvirtualnetworks") as watch:
        t0 = time.monotonic()
        bed.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), timeout=600)
        ready, t_ready = watch.wait(n, t0, timeout)
        create_calls = api_calls(bed)
        checked, t_check = check_all(bed, watch, "stackeryvirtualnetworks", n, timeout)
        after = api_calls(bed)
        return {
            "networks": n,
            "ready": ready,
            "seconds_to_all_ready": round(t_ready, 1),
            "drift_check_pass_seconds": round(t_check, 1),
            "drift_checked": checked,
            "aws_calls_per_network_create": round(create_calls.get("ec2", 0) / n, 1),
            "aws_calls_per_network_check": round((after.get("ec2", 0) - create_calls.get("ec2", 0)) / n, 1),
        }


def table(results: list[dict[str, Any]]) -> None:
    if not results:
        return
    cols = list(results[0])
    print("\n| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", nargs="+", type=int, default=[100, 500, 1000])
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--networks", type=int, default=10, help="Virtual Networks in the network row (0: none)")
    ap.add_argument(
        "--latency-ms", nargs="*", type=float, default=[0.0], help="added to every AWS call, one row each (none: no such row)"
    )
    ap.add_argument("--throttle", type=float, default=0.0, help="share of AWS calls answered 429 (an extra row per size)")
    ap.add_argument(
        "--check-resync", type=float, default=0.0, help="an extra row per size: scheduled checks every this many seconds"
    )
    ap.add_argument("--replicas", type=int, default=1, help="an extra row per size with this many sharded replicas")
    ap.add_argument(
        "--timers", action="store_true", help="an extra row per size with kopf's per-object timers instead of the agenda"
    )
    args = ap.parse_args()
    results: list[dict[str, Any]] = []

    def row(what: str, measure: Callable[..., dict[str, Any]], *pos: Any, **kw: Any) -> None:
        testbed.log(f"bench: {what}")
        results.append(measure(*pos, **kw))
        print(json.dumps(results[-1]), flush=True)

    for n in args.n:
        for latency in args.latency_ms:
            row(f"N={n} per kind, {latency} ms per AWS call", run, n, args.timeout, latency_ms=latency)
        if args.timers:
            row(f"N={n} per kind, kopf timers per object", run, n, args.timeout, scheduler="timers")
        if args.replicas > 1:
            row(f"N={n} per kind, {args.replicas} sharded replicas", run, n, args.timeout, replicas=args.replicas)
        if args.check_resync:
            row(f"N={n} per kind, checks every {args.check_resync:.0f} s", run_checks, n, args.timeout, args.check_resync)
        if args.throttle:
            row(f"N={n} per kind, {args.throttle:.0%} of AWS calls throttled", run, n, args.timeout, throttle=args.throttle)
    table(results)
    if args.networks:
        testbed.log(f"bench: {args.networks} virtual networks")
        nets = run_networks(args.networks, args.timeout)
        print(json.dumps(nets), flush=True)
        table([nets])
        results.append(nets)
    out = ROOT / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
