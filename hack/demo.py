"""`make demo`: the operator end to end on the embedded default — a local kube-apiserver + etcd and a
moto server — with the examples applied and their progress shown live until every one is Ready.

DEMO_EXIT=1 ends by itself once everything is Ready (exit 1 if not within DEMO_TIMEOUT seconds).
Otherwise it waits for Ctrl-C and tears everything down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import testbed

ROOT = Path(__file__).resolve().parents[1]


def rows(bed: testbed.TestBed) -> list[tuple[str, str, str, str]]:
    out = json.loads(bed.kubectl("get", "stackery", "-A", "-o", "json").stdout)
    result = []
    for item in out["items"]:
        conds = {c["type"]: c for c in item.get("status", {}).get("conditions", [])}
        ready = conds.get("Ready", {})
        result.append(
            (
                f"{item['kind']}/{item['metadata']['name']}",
                ready.get("status", "-"),
                ready.get("reason", "Pending"),
                (ready.get("message") or "")[:110],
            )
        )
    return sorted(result)


def main() -> int:
    auto_exit = os.environ.get("DEMO_EXIT") == "1"
    timeout = float(os.environ.get("DEMO_TIMEOUT", "180"))
    print("stackery-operator demo: starting a local Kubernetes control plane (kube-apiserver + etcd), a moto")
    print("server standing in for AWS, and the operator as its own process (first run builds the control plane")
    print("from the Go module proxy: a few minutes; later runs reuse the cache).\n", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    with testbed.running(STACKERY_RESYNC_SECONDS="30", STACKERY_TICK_SECONDS="2") as bed:
        print(f"\napplying {ROOT / 'examples'}:")
        print(bed.kubectl("apply", "-f", str(ROOT / "examples")).stdout, flush=True)
        deadline = time.monotonic() + timeout
        last: dict[str, tuple[str, str, str]] = {}
        all_ready = False
        while time.monotonic() < deadline:
            now = rows(bed)
            stamp = time.strftime("%H:%M:%S")
            for name, status, reason, message in now:  # print each object's transitions only
                if last.get(name) != (status, reason, message):
                    print(f"  {stamp}  {name:38} Ready={status:6} {reason:20} {message}", flush=True)
                    last[name] = (status, reason, message)
            all_ready = bool(now) and all(r[1] == "True" for r in now)
            if all_ready:
                break
            time.sleep(1)
        print(bed.kubectl("get", "stackery", "-A").stdout)
        if not all_ready:
            print(f"not everything became Ready within {timeout:.0f}s; operator log: {bed.workdir / 'operator.log'}")
            return 1
        print("Every example is Ready.\n")
        plugin = Path(sys.executable).with_name("kubectl-stackery")
        if plugin.exists():  # the stack as the plugin sees it (docs/cli.md)
            env = {**os.environ, "KUBECONFIG": str(bed.kubeconfig("admin"))}
            print(subprocess.run([str(plugin), "status", "-n", "default"], capture_output=True, text=True, env=env).stdout)
        print("Explore it:")
        print(f"  export KUBECONFIG={bed.kubeconfig('admin')} PATH={plugin.parent}:$PATH")
        print(f"  {bed.assets / 'kubectl'} get stackery")
        print(f"  {bed.assets / 'kubectl'} stackery graph -o html > stack.html   # or why function/order-worker")
        print(f"  {bed.assets / 'kubectl'} describe stackeryobjectstore uploads")
        print(f"  curl -s http://127.0.0.1:{bed.metrics_port}/metrics | grep ^stackery_")
        print(f"  AWS_ENDPOINT_URL={bed.moto_url} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws s3 ls")
        print(f"  operator log: {bed.workdir / 'operator.log'}")
        if auto_exit:
            return 0
        print("\nCtrl-C to stop and clean up.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
