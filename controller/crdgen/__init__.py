"""CRDs generated from the pydantic models (apiextensions.k8s.io/v1, structural schemas).

Why: the models are the single source of truth; hand-edited CRD YAML in two places drifts (Dask's
lesson). pydantic's JSON Schema is close to OpenAPI v3 but the apiserver rejects $ref, anyOf with
null, titles are noise and Optional needs nullable; this module turns one into the other and adds
CEL rules (x-kubernetes-validations) declared on the models as `cel_rules`.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from .. import GROUP, VERSION
from ..registry import KINDS, KindInfo


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
            extra = {k: v for k, v in node.items() if k != "$ref"}
            target.update(extra)
            return _resolve(target, defs)
        return {k: _resolve(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, defs) for v in node]
    return node


def _structural(node: Any) -> Any:
    """Strip/convert what the apiserver refuses: titles, anyOf-null, default null, const, false additionalProperties."""
    if isinstance(node, list):
        return [_structural(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    any_of = node.get("anyOf")
    if any_of is not None:
        non_null = [s for s in any_of if s.get("type") != "null"]
        if len(non_null) == 1 and len(non_null) < len(any_of):
            merged = {**non_null[0], **{k: v for k, v in node.items() if k != "anyOf"}}
            merged["nullable"] = True
            node = merged
    node.pop("title", None)
    node.pop("propertyNames", None)  # not structural; key rules are CEL (cel_rules) instead
    if "default" in node and node["default"] is None:
        node.pop("default")
    if node.get("additionalProperties") is False:
        node.pop("additionalProperties")
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "properties":
            out[k] = {pk: _structural(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties") and isinstance(v, dict):
            out[k] = _structural(v)
        else:
            out[k] = v
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
        and "x-kubernetes-preserve-unknown-fields" not in out
    ):
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _cel(model: type[BaseModel], schema: dict[str, Any]) -> None:
    """Attach each nested model's `cel_rules` to its schema node (walks the model tree)."""
    rules = getattr(model, "cel_rules", None)
    if rules:
        schema["x-kubernetes-validations"] = [dict(r) for r in rules]
    props = schema.get("properties", {})
    for name, field in model.model_fields.items():
        alias = field.alias or name
        sub = props.get(alias)
        if sub is None:
            continue
        ann = field.annotation
        for candidate in _models_in(ann):
            target = sub
            if target.get("type") == "array":
                target = target["items"]
            elif target.get("type") == "object" and "additionalProperties" in target and "properties" not in target:
                target = target["additionalProperties"]
            _cel(candidate, target)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    return found


def openapi(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    schema = _structural(_resolve(raw, defs))
    _cel(model, schema)
    return schema


def crd(info: KindInfo) -> dict[str, Any]:
    spec_schema = openapi(info.spec_model)
    status_schema = openapi(info.status_model)
    status_schema["x-kubernetes-preserve-unknown-fields"] = True  # kind-specific status may grow
    conds = status_schema["properties"]["conditions"]
    conds["x-kubernetes-list-type"] = "map"
    conds["x-kubernetes-list-map-keys"] = ["type"]
    spec_schema.setdefault("description", info.description)
    if not spec_schema.get("required"):
        spec_schema["default"] = {}  # `spec:` may be omitted when every field has a default
    columns = [
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Synced", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Synced")].status'},
        {"name": "Reason", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].reason'},
        *info.printer_columns,
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{info.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "stackery-operator"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": ["stackery", "all-stackery"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": info.description,
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def all_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD document."""
    return {f"{GROUP}_{info.plural}.yaml": crd(info) for info in KINDS}
