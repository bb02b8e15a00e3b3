"""kubectl stackery against the test bed: the examples' stack applied, then the plugin found by kubectl
itself on PATH (krew's convention) and run as a user who may only read (get/list) in the namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import testbed

from controller.registry import KINDS as REGISTRY

from .conftest import ready, wait_for
from .test_objectstore_e2e import ROOT

NODES = {
    "stackeryobjectstore": ("uploads", "site", "www-content"),
    "stackeryconfigstore": ("app-config",),
    "stackerytable": ("orders",),
    "stackeryfunction": ("order-worker",),
    "stackerycdn": ("www",),
}
KINDS = ",".join(info.plural for info in REGISTRY)


def plugin(bed: testbed.TestBed, *args: str, who: str = "bob") -> subprocess.CompletedProcess[str]:
    """`kubectl stackery ...`: kubectl finds kubectl-stackery on PATH (the venv's bin) and runs it."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "KUBECONFIG": str(bed.kubeconfig(who)),
    }
    return subprocess.run(
        [str(bed.assets / "kubectl"), "stackery", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_plugin_draws_lists_and_explains_the_demo_stack(bed: testbed.TestBed) -> None:
    bed.kubectl("apply", "-f", str(ROOT / "examples"))
    for kind, names in NODES.items():
        for name in names:
            wait_for(lambda k=kind, n=name: ready(bed, k, n), timeout=120, what=f"{kind} {name}")  # type: ignore[misc]
    # a plain user with read-only verbs in default: the plugin needs no more
    bed.kubectl("create", "role", "stackery-view", "-n", "default", "--verb=get,list", f"--resource={KINDS},events")
    bed.kubectl("create", "rolebinding", "bob-view", "-n", "default", "--role=stackery-view", "--user=bob")

    for fmt in ("mermaid", "dot", "svg", "html"):
        res = plugin(bed, "graph", "-n", "default", "-o", fmt)
        assert res.returncode == 0, res.stderr
        for names in NODES.values():
            for name in names:
                assert name in res.stdout, (fmt, name)
        for role in ("connection", "trigger", "origin", "secret"):
            assert role in res.stdout, (fmt, role)
        if fmt == "svg":
            ET.fromstring(res.stdout)
        if fmt == "html":
            ET.fromstring(res.stdout.split("\n", 1)[1])
    assert "Healthy" in plugin(bed, "graph", "-n", "default").stdout

    status = plugin(bed, "status", "-n", "default")
    rows = status.stdout.splitlines()
    assert rows[0].startswith("NAMESPACE") and status.returncode == (2 if any(" Degraded " in r for r in rows) else 0)
    for names in NODES.values():
        for name in names:
            row = next(r for r in rows if r.split()[2] == name)
            assert row.split()[3:5] == ["True", "Healthy"], row

    why = plugin(bed, "why", "function/order-worker", "-n", "default")
    assert why.returncode == 0, why.stderr
    assert "StackeryFunction default/order-worker is Healthy (Available)." in why.stdout
    assert "Ready=True Available" in why.stdout and "Recent events:" in why.stdout and "AWS resources:" in why.stdout

    # read-only really: the same user cannot change anything
    denied = bed.kubectl("delete", "stackerytable", "orders", who="bob", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    # and nothing outside the granted namespace is shown to it
    everywhere = plugin(bed, "status", "-A")
    assert everywhere.returncode == 1 and "cannot list stackeryobjectstores in all namespaces: 403" in everywhere.stderr
    # a kind the user may not list is left out, with a note, and the rest still shown
    bed.kubectl("create", "role", "stackery-view-some", "-n", "default", "--verb=get,list", "--resource=stackerytables")
    bed.kubectl("create", "rolebinding", "alice-view-some", "-n", "default", "--role=stackery-view-some", "--user=alice")
    partial = plugin(bed, "status", "-n", "default", who="alice")
    assert partial.returncode in (0, 2) and " orders " in partial.stdout and "order-worker" not in partial.stdout
    assert "cannot list stackeryfunctions in namespace default: 403 Forbidden (left out)" in partial.stderr


def test_dashboard_uses_only_exported_metrics(bed: testbed.TestBed) -> None:
    """Every metric (and every label a query groups or filters by) in the shipped Grafana dashboard is
    one the running operator exports on /metrics."""
    import re

    exposition = bed.metrics()
    families = set(re.findall(r"^# TYPE (stackery_\w+) (\w+)", exposition, re.M))
    names = {n for n, _ in families}
    histograms = {n for n, t in families if t == "histogram"}
    labels: dict[str, set[str]] = {}
    for m in re.finditer(r"^(stackery_\w+)\{([^}]*)\}", exposition, re.M):
        labels.setdefault(m.group(1), set()).update(re.findall(r'(\w+)="', m.group(2)))
    dash = json.loads((ROOT / "charts/stackery-operator/dashboards/stackery.json").read_text())
    assert json.loads((ROOT / "deploy/grafana/stackery-dashboard.json").read_text()) == dash
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 13
    for expr in exprs:
        for metric in re.findall(r"stackery_\w+", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            assert metric in names or (base in histograms and base != metric), f"{metric} is not exported ({expr})"
            used = set(re.findall(r"by \(([^)]*)\)", expr))
            wanted = {lbl.strip() for group in used for lbl in group.split(",")} | set(re.findall(r"(\w+)=~?\"", expr))
            have = labels.get(metric) or labels.get(base + "_bucket") or set()
            if have:  # the family has series in this run: every label the query uses must be on them
                assert wanted - {"le"} <= have, f"{expr} uses labels {wanted - have} not on {metric}"
