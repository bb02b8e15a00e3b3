"""kubectl stackery without a cluster: the model (nodes, wires from each kind's references, health as
Argo CD decides it), every output format (SVG and HTML parsed as XML), status exit codes, why."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from controller.cli.main import explain, kind_of, main, read_files
from controller.cli.model import build, health
from controller.cli.render import FORMATS

ROOT = Path(__file__).resolve().parents[2]


def obj(kind: str, name: str, spec: dict[str, Any], status: dict[str, Any] | None = None, generation: int = 1) -> dict[str, Any]:
    o: dict[str, Any] = {
        "apiVersion": "stackery.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "shop", "generation": generation},
        "spec": spec,
    }
    if status is not None:
        o["status"] = status
    return o


def conds(ready: str, reason: str, stalled: str = "False", message: str = "") -> list[dict[str, str]]:
    return [
        {"type": "Ready", "status": ready, "reason": reason, "message": message, "lastTransitionTime": "2026-11-28T00:00:00Z"},
        {
            "type": "Stalled",
            "status": stalled,
            "reason": reason,
            "message": message,
            "lastTransitionTime": "2026-11-28T00:00:00Z",
        },
    ]


ZIP = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="
STACK = [
    obj(
        "StackeryTable",
        "orders",
        {"stream": {"enabled": True}},
        {
            "observedGeneration": 1,
            "conditions": conds("True", "Available"),
            "arn": "arn:aws:dynamodb:us-east-1:1:table/t",
            "externalName": "stackery-shop-orders-1a2b3c4d",
            "streamArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x",
        },
    ),
    obj(
        "StackeryFunction",
        "worker",
        {
            "code": {"zipBase64": ZIP},
            "connections": [{"kind": "StackeryTable", "name": "orders"}, {"kind": "StackeryConfigStore", "name": "cfg"}],
            "triggers": [{"table": "orders"}],
        },
        {
            "observedGeneration": 1,
            "conditions": conds("False", "WaitingForReference", message="waiting for StackeryConfigStore cfg (not found)"),
        },
    ),
    obj(
        "StackeryObjectStore",
        "site",
        {},
        {
            "observedGeneration": 1,
            "conditions": conds("False", "OwnershipConflict", "True", "owned by another object"),
            "drift": [{"field": "versioning", "desired": "Enabled", "actual": "Suspended"}],
        },
    ),
    obj(
        "StackeryCDN",
        "www",
        {"objectStore": "site", "domains": ["www.example.com"]},
        {
            "observedGeneration": 1,
            "conditions": conds("False", "PendingValidation"),
            "dnsRecords": [{"name": "_x.www.example.com", "type": "CNAME", "value": "_y.acm-validations.aws"}],
        },
    ),
]


def test_nodes_wires_and_health() -> None:
    stack = build(STACK)
    kinds = {(n.kind, n.name): n.health for n in stack.nodes.values()}
    assert kinds == {
        ("StackeryTable", "orders"): "Healthy",
        ("StackeryFunction", "worker"): "Progressing",
        ("StackeryObjectStore", "site"): "Degraded",
        ("StackeryCDN", "www"): "Progressing",
        ("StackeryConfigStore", "cfg"): "External",  # referenced, not found
    }
    wires = {(w.source.split("/", 1)[1], w.target.split("/", 1)[1], w.role) for w in stack.wires}
    assert wires == {
        ("StackeryFunction/worker", "StackeryTable/orders", "connection"),
        ("StackeryFunction/worker", "StackeryTable/orders", "trigger"),
        ("StackeryFunction/worker", "StackeryConfigStore/cfg", "connection"),
        ("StackeryCDN/www", "StackeryObjectStore/site", "origin"),
    }
    orders = stack.nodes["shop/StackeryTable/orders"]
    assert ("streamArn", "arn:aws:dynamodb:us-east-1:1:table/t/stream/x") in orders.resources
    cols = [{n.name for n in col} for col in stack.layers()]
    assert cols == [{"orders", "cfg", "site"}, {"worker", "www"}]  # what a node refers to stands left of it


def test_health_agrees_with_the_argo_cd_script() -> None:
    lupa = pytest.importorskip("lupa")
    script = (ROOT / "deploy/gitops/argocd-health.lua").read_text()
    samples = [
        *STACK,
        obj("StackeryTable", "unseen", {}, {"observedGeneration": 1, "conditions": conds("True", "Available")}, generation=2),
    ]
    for o in samples:
        lua = lupa.LuaRuntime()
        lua.globals().obj = lua.table_from(o, recursive=True)
        assert health(o)[0] == str(lua.execute(script)["status"]), o["metadata"]["name"]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_names_every_node_and_wire(fmt: str) -> None:
    text = FORMATS[fmt](build(STACK))
    for name in ("orders", "worker", "site", "www", "cfg"):
        assert name in text
    for role in ("connection", "trigger", "origin"):
        assert role in text
    if fmt in ("svg", "html"):
        root = ET.fromstring(text.split("\n", 1)[1] if fmt == "html" else text)  # well-formed XML
        ns = "{http://www.w3.org/2000/svg}"
        rects = root.iter(f"{ns}rect")
        assert len(list(rects)) == 5


def test_status_table_and_exit_code(capsys: Any, tmp_path: Path) -> None:
    f = tmp_path / "stack.yaml"
    import yaml

    f.write_text(yaml.safe_dump_all(STACK))
    out = io.StringIO()
    assert main(["status", "-f", str(f)], out) == 2  # something is Stalled
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:5] == ["NAMESPACE", "KIND", "NAME", "READY", "HEALTH"]
    site = next(line for line in lines if " site " in line)
    assert "Degraded" in site and "OwnershipConflict" in site and " 1 " in site and "owned by another object" in site
    assert not any(line.split()[1] == "ConfigStore" for line in lines[1:])  # a missing reference is not a row
    healthy = tmp_path / "ok.yaml"
    healthy.write_text(yaml.safe_dump_all(STACK[:1]))
    assert main(["status", "-f", str(healthy)], io.StringIO()) == 0


def test_why_explains_in_plain_words() -> None:
    stack = build(STACK)
    worker = explain(stack, stack.nodes["shop/StackeryFunction/worker"], [])
    assert "is Progressing (WaitingForReference)" in worker
    assert "StackeryConfigStore cfg (connection): does not exist in namespace shop" in worker
    cdn = explain(
        stack,
        stack.nodes["shop/StackeryCDN/www"],
        [{"time": "t", "type": "Normal", "reason": "Created", "message": "m", "count": 3}],
    )
    assert "_x.www.example.com CNAME _y.acm-validations.aws" in cdn
    assert "StackeryObjectStore site (origin): Degraded, OwnershipConflict" in cdn
    assert "Normal Created: m (x3)" in cdn
    site = explain(stack, stack.nodes["shop/StackeryObjectStore/site"], [])
    assert "versioning: spec Enabled, AWS Suspended" in site


def test_kind_aliases_and_manifest_reading() -> None:
    assert {kind_of(w) for w in ("function", "sfn", "StackeryFunction", "stackeryfunctions", "functions")} == {"StackeryFunction"}
    assert kind_of("pod") is None
    objs = read_files([str(ROOT / "examples")])
    assert {"StackeryCDN", "StackeryFunction", "StackeryTable", "StackeryObjectStore", "StackeryConfigStore"} <= {
        o["kind"] for o in objs
    }


def test_svg_boxes_fit_the_canvas_and_never_overlap() -> None:
    root = ET.fromstring(FORMATS["svg"](build(STACK + read_files([str(ROOT / "examples")]))))
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    boxes = [
        tuple(float(r.get(k, 0)) for k in ("x", "y", "width", "height")) for r in root.iter("{http://www.w3.org/2000/svg}rect")
    ]
    assert len(boxes) >= 10
    for i, (x, y, w, h) in enumerate(boxes):
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, "two boxes overlap"
