"""e2e tier: a real kube-apiserver + etcd, a moto server and the operator as its own process, bound by
the Helm chart's RBAC. Driven with kubectl, as a user would."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
import testbed

T = TypeVar("T")


POLICY = Path(__file__).with_name("policy.yaml")


@pytest.fixture(scope="session")
def bed() -> Iterator[testbed.TestBed]:
    with testbed.running(STACKERY_POLICY_FILE=str(POLICY)) as b:
        yield b


def wait_for(fn: Callable[[], T], *, timeout: float = 60, what: str = "condition") -> T:
    """Poll fn until it returns something truthy; bounded, no fixed sleeps in the tests."""
    deadline = time.monotonic() + timeout
    delay, last = 0.2, None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (RuntimeError, KeyError, StopIteration, IndexError) as exc:
            last = exc  # type: ignore[assignment]
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def apply(bed: testbed.TestBed, manifest: dict[str, Any] | str) -> None:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    bed.kubectl("apply", "-f", "-", input=text)


def cond(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in obj.get("status", {}).get("conditions", []) if c["type"] == ctype)


def ready(bed: testbed.TestBed, kind: str, name: str, ns: str = "default") -> dict[str, Any] | None:
    obj = bed.get(kind, name, ns)
    st = obj.get("status", {})
    if st.get("observedGeneration") == obj["metadata"]["generation"] and cond(obj, "Ready")["status"] == "True":
        return obj
    return None


def metric(bed: testbed.TestBed, metric_name: str, **labels: str) -> float | None:
    """Value of the first series of metric_name matching labels, read from the operator's real /metrics."""
    for line in bed.metrics().splitlines():
        m = re.match(r"^(\w+)\{([^}]*)\} (\S+)$", line)
        if m and m.group(1) == metric_name:
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            if all(got.get(k) == v for k, v in labels.items()):
                return float(m.group(3))
    return None


def aws(bed: testbed.TestBed, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=bed.moto_url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def apply_list(bed: testbed.TestBed, *items: dict[str, Any]) -> None:
    """Apply several objects in one kubectl call (a v1 List), as a GitOps sync would."""
    apply(bed, {"apiVersion": "v1", "kind": "List", "items": list(items)})


def delete_all_at_once(
    bed: testbed.TestBed, kinds: str, ns: str, *, timeout: float = 180, what: str = "every object gone"
) -> None:
    """`kubectl delete <kinds> --all` (what a namespace delete or a GitOps prune does; the test bed runs no
    kube-controller-manager, so a namespace delete would not cascade), then wait until every finalizer is
    released; on timeout, say which objects are left and their conditions."""
    bed.kubectl("delete", kinds, "--all", "-n", ns, "--wait=false")

    def remaining() -> list[dict[str, Any]]:
        return list(json.loads(bed.kubectl("get", kinds, "-n", ns, "-o", "json").stdout)["items"])

    try:
        wait_for(lambda: not remaining(), timeout=timeout, what=what)
    except AssertionError:
        left = "; ".join(
            f"{o['kind']} {o['metadata']['name']}: "
            + " | ".join(f"{c['type']}={c['status']} {c.get('message', '')}" for c in o.get("status", {}).get("conditions", []))
            for o in remaining()
        )
        raise AssertionError(f"{what}: still there after {timeout}s: {left}") from None


def node(kind: str, name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    """A Stackery object manifest."""
    return {"apiVersion": "stackery.io/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def object_store(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "stackery.io/v1alpha1",
        "kind": "StackeryObjectStore",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def put_object(s3: Any, bucket: str, key: str, body: bytes) -> None:
    """moto applies bucket-policy Deny statements to object calls without evaluating Condition, so the
    TLS-only statement denies every object write there; lift it for the put (real S3 would allow TLS)."""
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)


CERT_COLUMNS = (
    'custom-columns=CERT:.status.conditions[?(@.type=="CertificateIssued")].reason,'
    'DIST:.status.conditions[?(@.type=="DistributionDeployed")].reason,'
    'READY:.status.conditions[?(@.type=="Ready")].status,'
    'MESSAGE:.status.conditions[?(@.type=="CertificateIssued")].message'
)


def watch(bed: testbed.TestBed, kind: str, name: str, ns: str = "default") -> subprocess.Popen[str]:
    """`kubectl get -w` of one object showing its certificate, deployment and Ready columns, as a user
    watches progress; read it with .terminate() and .communicate()."""
    return subprocess.Popen(
        [
            str(bed.assets / "kubectl"),
            "--kubeconfig",
            str(bed.kubeconfig()),
            "get",
            kind,
            "-n",
            ns,
            "-w",
            "--field-selector",
            f"metadata.name={name}",
            "-o",
            CERT_COLUMNS,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
