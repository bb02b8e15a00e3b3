"""The Helm chart and plain manifests: helm lint, rendered manifests accepted by the real apiserver
(server-side dry-run), and the RBAC the operator runs with in every e2e test is least-privilege."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import testbed

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts/stackery-operator"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(testbed.helm_binary()), *args], capture_output=True, text=True, check=check)


def test_helm_lint_clean() -> None:
    res = helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in res.stdout and "[WARNING]" not in res.stdout


@pytest.mark.parametrize("values", [
    [],
    ["--set", "operator.watchNamespaces={team-a,team-b}", "--set", "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/x"],
])
def test_rendered_chart_accepted_by_apiserver(bed: testbed.TestBed, values: list[str]) -> None:
    for ns in ("team-a", "team-b"):
        bed.kubectl("create", "namespace", ns, check=False)
    rendered = helm("template", "stackery-operator", str(CHART), "--namespace", testbed.OPERATOR_NS, *values).stdout
    res = bed.kubectl("apply", "--dry-run=server", "-f", "-", input=rendered)
    assert "deployment.apps/stackery-operator-stackery-operator created (server dry run)" in res.stdout


def test_monitoring_toggles_render() -> None:
    out = helm("template", "x", str(CHART), "--set", "metrics.serviceMonitor.enabled=true",
               "--set", "metrics.prometheusRule.enabled=true").stdout
    assert "kind: ServiceMonitor" in out and "kind: PrometheusRule" in out and "StackeryResourceDrifted" in out
    assert "kind: PrometheusRule" not in helm("template", "x", str(CHART)).stdout


def test_values_schema_rejects_bad_values() -> None:
    res = helm("template", "x", str(CHART), "--set", "operator.workers=0", check=False)
    assert res.returncode != 0 and "workers" in res.stderr


def test_plain_manifests_match_chart_and_apply(bed: testbed.TestBed) -> None:
    subprocess.run(["bash", str(ROOT / "hack/render-deploy.sh"), "--check"], check=True, capture_output=True)
    built = bed.kubectl("kustomize", str(ROOT / "deploy/base")).stdout
    res = bed.kubectl("apply", "--dry-run=server", "-f", "-", input=built)
    assert "customresourcedefinition.apiextensions.k8s.io/stackeryobjectstores.stackery.io" in res.stdout


@pytest.mark.parametrize(("verb", "resource", "allowed"), [
    ("get", "secrets", "yes"),
    ("list", "secrets", "no"),
    ("watch", "stackeryobjectstores.stackery.io", "yes"),
    ("patch", "stackeryobjectstores.stackery.io/status", "yes"),
    ("delete", "stackeryobjectstores.stackery.io", "no"),
    ("create", "stackeryconfigstores.stackery.io", "no"),
    ("create", "events", "yes"),
    ("delete", "configmaps", "yes"),
    ("list", "pods", "no"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", "no"),
])
def test_operator_identity_is_least_privilege(bed: testbed.TestBed, verb: str, resource: str, allowed: str) -> None:
    res = bed.kubectl("auth", "can-i", verb, resource, "-n", "default", who="operator", check=False)
    assert res.stdout.strip() == allowed
