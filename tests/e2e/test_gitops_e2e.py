"""What GitOps tools conclude from our status, computed by their own logic on real objects:
Flux's kstatus library (built from the Go module proxy) and the Argo CD health script in
deploy/gitops/argocd-health.lua (run with lupa, the Lua runtime Argo CD's script format targets)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import testbed

from .conftest import apply, cond, object_store, ready, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kstatus() -> Path:
    proc = subprocess.run(["bash", str(ROOT / "hack/build-kstatus.sh")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def flux(kstatus: Path, obj: dict[str, Any]) -> str:
    res = subprocess.run([str(kstatus)], input=json.dumps(obj), capture_output=True, text=True, check=True)
    return res.stdout.splitlines()[0]


def argo(obj: dict[str, Any]) -> str:
    import lupa

    lua = lupa.LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute((ROOT / "deploy/gitops/argocd-health.lua").read_text())
    return str(result["status"])


def test_ready_stalled_and_waiting_as_flux_and_argo_see_them(bed: testbed.TestBed, kstatus: Path) -> None:
    apply(bed, object_store("gitops-ok"))
    ok = wait_for(lambda: ready(bed, "stackeryobjectstore", "gitops-ok"), what="Ready")
    assert (flux(kstatus, ok), argo(ok)) == ("Current", "Healthy")

    apply(bed, object_store("gitops-conflict", bucketName=ok["status"]["externalName"]))
    stalled = wait_for(
        lambda: (
            (o := bed.get("stackeryobjectstore", "gitops-conflict")).get("status", {}).get("conditions")
            and cond(o, "Stalled")["status"] == "True"
            and o
        ),
        what="Stalled",
    )
    assert (flux(kstatus, stalled), argo(stalled)) == ("Failed", "Degraded")

    bed.apply(
        {
            "apiVersion": "stackery.io/v1alpha1",
            "kind": "StackeryFunction",
            "metadata": {"name": "gitops-wait", "namespace": "default"},
            "spec": {
                "code": {"imageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/default/app:1"},
                "connections": [{"kind": "StackeryTable", "name": "not-there-yet"}],
            },
        }
    )
    waiting = wait_for(
        lambda: (o := bed.get("stackeryfunction", "gitops-wait")).get("status", {}).get("conditions") and o, what="waiting"
    )
    assert (flux(kstatus, waiting), argo(waiting)) == ("InProgress", "Progressing")

    # a spec change the operator has not processed yet is InProgress for both (observedGeneration lags)
    unseen = json.loads(json.dumps(ok))
    unseen["metadata"]["generation"] += 1
    assert (flux(kstatus, unseen), argo(unseen)) == ("InProgress", "Progressing")
    for kind, name in (("stackeryobjectstore", "gitops-conflict"), ("stackeryfunction", "gitops-wait")):
        bed.kubectl("delete", kind, name, "--timeout=60s")
