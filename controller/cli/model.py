"""The stack as a graph: nodes (Stackery objects), wires (what each spec refers to) and, per node, the
AWS resources its status names — built from plain object dicts, with no cluster access.

Why: Stackery users saw their stack on a canvas; here it is a set of objects. Every picture and table
of the plugin (mermaid, dot, SVG, HTML, status, why) is drawn from this one model, and the wires come
from each kind's own `references()`, so a new kind appears with its wires without touching the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..core.adapter import NodeRef, SecretKey
from ..registry import BY_KIND

Health = str  # Healthy | Progressing | Degraded | Declared
COLOURS: dict[Health, str] = {
    "Healthy": "#2e7d32",
    "Progressing": "#1565c0",
    "Degraded": "#c62828",
    "Declared": "#757575",
    "External": "#9e9e9e",
}
"""Argo CD's health colours (deploy/gitops/argocd-health.lua decides the same way); Declared: from a
manifest, never reconciled; External: a referenced Secret or a missing node."""

_BOOKKEEPING = frozenset(
    {
        "conditions",
        "observedGeneration",
        "drift",
        "lastSyncTime",
        "nextCheckAt",
        "failures",
        "readyAt",
        "pendingCreate",
        "lastHandledConfiguration",
        "kopf",
        "resourceName",
        "resourceRegion",
        "region",
        "environmentKeys",
        "dnsRecords",
        "parameterCount",
        "primaryDomain",
    }
)


@dataclass
class Node:
    kind: str
    name: str
    namespace: str
    health: Health
    reason: str = ""
    message: str = ""
    drift: list[dict[str, Any]] = field(default_factory=list)
    resources: list[tuple[str, str]] = field(default_factory=list)
    """(status key, value) of the AWS identifiers in status: arn, externalName, distributionId, ..."""
    next_check: str = ""
    obj: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"

    @property
    def short_kind(self) -> str:
        return self.kind.removeprefix("Stackery")


@dataclass(frozen=True)
class Wire:
    source: str
    target: str
    role: str


@dataclass
class Stack:
    nodes: dict[str, Node]
    wires: list[Wire]

    def layers(self) -> list[list[Node]]:
        """Columns for drawing: what a node refers to stands left of it (longest path; cycles cut)."""
        deps: dict[str, set[str]] = {n: set() for n in self.nodes}
        for w in self.wires:
            deps[w.source].add(w.target)
        depth: dict[str, int] = {}

        def visit(n: str, stack: frozenset[str]) -> int:
            if n in depth:
                return depth[n]
            if n in stack:
                return 0
            d = 1 + max((visit(t, stack | {n}) for t in deps[n]), default=-1)
            depth[n] = d
            return d

        for n in sorted(self.nodes):
            visit(n, frozenset())
        cols: list[list[Node]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for n in sorted(self.nodes):
            cols[depth[n]].append(self.nodes[n])
        return cols


def condition(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def health(obj: Mapping[str, Any]) -> tuple[Health, str, str]:
    """(health, reason, message) exactly as the Argo CD health script decides it."""
    status = obj.get("status") or {}
    if not status.get("conditions"):
        return ("Declared", "", "not reconciled yet") if not status else ("Progressing", "", "waiting for the operator")
    generation = (obj.get("metadata") or {}).get("generation")
    if status.get("observedGeneration") != generation:
        return "Progressing", "", f"the operator has not seen generation {generation} yet"
    stalled = condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return "Degraded", str(stalled.get("reason", "")), str(stalled.get("message", ""))
    ready = condition(obj, "Ready") or {}
    if ready.get("status") == "True":
        return "Healthy", str(ready.get("reason", "")), str(ready.get("message", ""))
    return "Progressing", str(ready.get("reason", "")), str(ready.get("message", ""))


def _resources(status: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key, value in status.items():
        if key in _BOOKKEEPING or not isinstance(value, str) or not value:
            continue
        if key in ("arn", "externalName", "path") or key.endswith(("Arn", "Id", "Name", "Url")):
            out.append((key, value))
    return out


def references(kind: str, spec: Mapping[str, Any]) -> list[NodeRef | SecretKey]:
    """What the spec refers to, from the kind's own adapter; [] for a spec the model refuses."""
    info = BY_KIND.get(kind)
    if info is None:
        return []
    try:
        parsed = info.spec_model.model_validate(dict(spec))
    except ValidationError:
        return []
    return list(info.adapter.references(parsed))


def build(objects: Iterable[Mapping[str, Any]]) -> Stack:
    nodes: dict[str, Node] = {}
    pending: list[tuple[Node, list[NodeRef | SecretKey]]] = []
    for obj in objects:
        kind = str(obj.get("kind", ""))
        if kind not in BY_KIND:
            continue
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        h, reason, message = health(obj)
        node = Node(
            kind=kind,
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace") or "default"),
            health=h,
            reason=reason,
            message=message,
            drift=list(status.get("drift") or []),
            resources=_resources(status),
            next_check=str(status.get("nextCheckAt") or ""),
            obj=obj,
        )
        nodes[node.id] = node
        pending.append((node, references(kind, obj.get("spec") or {})))
    wires: list[Wire] = []
    for node, refs in pending:
        for ref in refs:
            if isinstance(ref, SecretKey):
                target = Node("Secret", ref.name, node.namespace, "External")
            else:
                target = Node(ref.kind, ref.name, node.namespace, "External", message="not found")
            if target.id not in nodes:
                nodes[target.id] = target
            role = "secret" if isinstance(ref, SecretKey) else ref.role
            wire = Wire(node.id, target.id, role)
            if wire not in wires:
                wires.append(wire)
    return Stack(nodes=nodes, wires=wires)
