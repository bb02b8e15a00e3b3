"""CRDs generated from the models: structural, documented, guarded by --check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from controller.crdgen import all_crds

ROOT = Path(__file__).resolve().parents[2]
CRDS = all_crds()


def walk(node: Any, path: str = "") -> Any:
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


@pytest.mark.parametrize("name", sorted(CRDS))
def test_structural(name: str) -> None:
    schema = CRDS[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in walk(schema):
        assert not {"$ref", "$defs", "anyOf", "title", "propertyNames"} & set(node), path
        if node.get("type") == "object" and path != ".properties.metadata":
            assert "properties" in node or "additionalProperties" in node or node.get("x-kubernetes-preserve-unknown-fields"), (
                path
            )


@pytest.mark.parametrize("name", sorted(CRDS))
def test_every_spec_field_is_described(name: str) -> None:
    spec = CRDS[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    missing = []
    for path, node in walk(spec):
        for prop, sub in (node.get("properties") or {}).items():
            if "description" not in sub:
                missing.append(f"{path}.{prop}")
    assert missing == []


@pytest.mark.parametrize("name", sorted(CRDS))
def test_conventions(name: str) -> None:
    crd = CRDS[name]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert "stackery" in crd["spec"]["names"]["categories"]
    assert [c["name"] for c in version["additionalPrinterColumns"]][:3] == ["Ready", "Synced", "Reason"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for common in ("region", "deletionPolicy", "managementPolicy", "driftPolicy", "tags", "outputs"):
        assert common in spec["properties"]
    rules = [r["rule"] for r in spec["x-kubernetes-validations"]]
    assert any("oldSelf.region" in r for r in rules)
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["properties"]["conditions"]["x-kubernetes-list-map-keys"] == ["type"]


def test_nested_cel_rules_attached() -> None:
    spec = CRDS["stackery.io_stackeryconfigstores.yaml"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    param = spec["properties"]["parameters"]["additionalProperties"]
    assert param["x-kubernetes-validations"][0]["message"] == "set exactly one of value or secretKeyRef"


def test_check_mode_detects_stale_files(tmp_path: Path) -> None:
    gen = [sys.executable, "-m", "controller.crdgen", "--out", str(tmp_path)]
    subprocess.run(gen, check=True, cwd=ROOT, capture_output=True)
    assert subprocess.run([*gen, "--check"], cwd=ROOT, capture_output=True).returncode == 0
    f = next(tmp_path.glob("*.yaml"))
    f.write_text(f.read_text().replace("Immutable", "Mutable"))
    res = subprocess.run([*gen, "--check"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 1 and "make crds" in res.stderr


def test_committed_crds_match_models() -> None:
    res = subprocess.run([sys.executable, "-m", "controller.crdgen", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


def test_chart_rbac_covers_every_kind() -> None:
    from controller.registry import KINDS

    helpers = (ROOT / "charts/stackery-operator/templates/_helpers.tpl").read_text()
    for info in KINDS:
        assert f'"{info.plural}"' in helpers and f'"{info.plural}/status"' in helpers, info.plural
