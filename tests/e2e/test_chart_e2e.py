"""The Helm chart and plain manifests: helm lint, rendered manifests accepted by the real apiserver
(server-side dry-run), and the RBAC the operator runs with in every e2e test is least-privilege."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import testbed

from tests.unit.helpers import aws_name

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts/stackery-operator"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(testbed.helm_binary()), *args], capture_output=True, text=True, check=check)


def test_helm_lint_clean() -> None:
    res = helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in res.stdout and "[WARNING]" not in res.stdout


@pytest.mark.parametrize(
    "values",
    [
        [],
        [
            "--set",
            "operator.watchNamespaces={team-a,team-b}",
            "--set",
            "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/x",
        ],
        ["--set", "operator.replicas=3", "--set", "operator.shards=6"],
    ],
)
def test_rendered_chart_accepted_by_apiserver(bed: testbed.TestBed, values: list[str]) -> None:
    for ns in ("team-a", "team-b"):
        bed.kubectl("create", "namespace", ns, check=False)
    rendered = helm("template", "stackery-operator", str(CHART), "--namespace", testbed.OPERATOR_NS, *values).stdout
    res = bed.kubectl("apply", "--dry-run=server", "-f", "-", input=rendered)
    assert "deployment.apps/stackery-operator-stackery-operator created (server dry run)" in res.stdout


def test_replicas_render_shards_leases_and_a_disruption_budget() -> None:
    one = helm("template", "x", str(CHART)).stdout
    assert "STACKERY_SHARDS" not in one and "PodDisruptionBudget" not in one and "leases" not in one
    assert "type: Recreate" in one
    three = helm("template", "x", str(CHART), "--namespace", "ops", "--set", "operator.replicas=3").stdout
    assert "replicas: 3" in three and "kind: PodDisruptionBudget" in three and "maxUnavailable: 1" in three
    assert '{name: STACKERY_SHARDS, value: "8"}' in three and "fieldPath: metadata.name" in three
    assert 'resources: ["leases"]' in three and "type: RollingUpdate" in three
    assert helm("template", "x", str(CHART), "--set", "operator.shards=65", check=False).returncode != 0


def test_monitoring_toggles_render() -> None:
    out = helm(
        "template",
        "x",
        str(CHART),
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.prometheusRule.enabled=true",
    ).stdout
    assert "kind: ServiceMonitor" in out and "kind: PrometheusRule" in out and "StackeryResourceDrifted" in out
    assert "kind: PrometheusRule" not in helm("template", "x", str(CHART)).stdout


def test_dashboard_and_policy_render(bed: testbed.TestBed) -> None:
    """The Grafana dashboard ConfigMap (off by default) carries the dashboard JSON; the policy values
    reach the operator as a mounted file; both accepted by the apiserver."""
    import json

    import yaml

    values = [
        "--set",
        "grafana.dashboard.enabled=true",
        "--set",
        "policy.namespaces.team-a.ssmPathPrefixes={/shared/team-a/}",
    ]
    out = helm("template", "x", str(CHART), "--namespace", testbed.OPERATOR_NS, *values).stdout
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}
    board = docs[("ConfigMap", "x-stackery-dashboard")]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["stackery-operator.json"]) == json.loads((CHART / "dashboards/stackery.json").read_text())
    policy = yaml.safe_load(docs[("ConfigMap", "x-stackery-policy")]["data"]["policy.yaml"])
    assert policy["namespaces"]["team-a"]["ssmPathPrefixes"] == ["/shared/team-a/"]
    assert "stackery-dashboard" not in helm("template", "x", str(CHART)).stdout
    res = bed.kubectl("apply", "--dry-run=server", "-f", "-", input=out)
    assert "configmap/x-stackery-dashboard created (server dry run)" in res.stdout
    bad = helm("template", "x", str(CHART), "--set", "policy.namespaces.a.codebuckets={x}", check=False)
    assert bad.returncode != 0 and "codebuckets" in bad.stderr


def test_values_schema_rejects_bad_values() -> None:
    res = helm("template", "x", str(CHART), "--set", "operator.workers=0", check=False)
    assert res.returncode != 0 and "workers" in res.stderr


def test_plain_manifests_match_chart_and_apply(bed: testbed.TestBed) -> None:
    subprocess.run(["bash", str(ROOT / "hack/render-deploy.sh"), "--check"], check=True, capture_output=True)
    built = bed.kubectl("kustomize", str(ROOT / "deploy/base")).stdout
    res = bed.kubectl("apply", "--dry-run=server", "-f", "-", input=built)
    assert "customresourcedefinition.apiextensions.k8s.io/stackeryobjectstores.stackery.io" in res.stdout


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
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
    ],
)
def test_operator_identity_is_least_privilege(bed: testbed.TestBed, verb: str, resource: str, allowed: str) -> None:
    res = bed.kubectl("auth", "can-i", verb, resource, "-n", "default", who="operator", check=False)
    assert res.stdout.strip() == allowed


def test_namespaced_install_works_with_roles_only(bed: testbed.TestBed) -> None:
    """operator.watchNamespaces: a Role per namespace, no cluster-wide grant; the operator still works."""

    from .conftest import ready, wait_for

    bed.kubectl("create", "namespace", "team-ns", check=False)
    rbac = helm(
        "template",
        "nsop",
        str(CHART),
        "--namespace",
        testbed.OPERATOR_NS,
        "--show-only",
        "templates/rbac.yaml",
        "--set",
        "operator.watchNamespaces={team-ns}",
        "--set",
        f"serviceAccount.name={testbed.OPERATOR_SA}-ns",
    ).stdout
    assert "kind: ClusterRole" not in rbac
    bed.kubectl("apply", "-f", "-", input=rbac)
    assert (
        bed.kubectl(
            "auth", "can-i", "list", "stackeryobjectstores.stackery.io", "-A", who="operator-ns", check=False
        ).stdout.strip()
        == "no"
    )
    bed.stop_operator()  # one operator per object: the cluster-wide one steps aside for this test
    try:
        bed.start_operator(who="operator-ns", STACKERY_NAMESPACES="team-ns")
        bed.apply(
            {
                "apiVersion": "stackery.io/v1alpha1",
                "kind": "StackeryObjectStore",
                "metadata": {"name": "scoped", "namespace": "team-ns"},
                "spec": {},
            }
        )
        obj = wait_for(lambda: ready(bed, "stackeryobjectstore", "scoped", "team-ns"), timeout=60, what="scoped Ready")
        assert obj["status"]["externalName"] == aws_name("team-ns", "scoped")
        bed.kubectl("delete", "stackeryobjectstore", "scoped", "-n", "team-ns", "--timeout=60s")
    finally:
        bed.stop_operator()
        bed.start_operator()
