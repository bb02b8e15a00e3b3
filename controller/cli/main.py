"""Command line of the kubectl plugin (installed as `kubectl-stackery`): graph, status, why.

Why: the entry point parses arguments and reads objects (from the cluster through controller.kube, or
from manifest files); model.py and render.py do the rest, so they are tested without a cluster.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

from ..registry import BY_KIND, KINDS
from .model import Node, Stack, build, condition
from .render import FORMATS

EXIT_STALLED = 2


def kind_of(word: str) -> str | None:
    """StackeryFunction from 'StackeryFunction', 'stackeryfunctions', 'function', 'sfn', ..."""
    w = word.lower()
    for info in KINDS:
        names = {info.kind.lower(), info.singular, info.plural, info.kind.lower().removeprefix("stackery"), *info.short_names}
        if w in names or w.rstrip("s") in names:
            return info.kind
    return None


def read_files(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Stackery objects from manifest files or directories (YAML, several documents, v1 Lists)."""
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        files += sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
    out: list[dict[str, Any]] = []
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if not isinstance(doc, dict):
                continue
            items = doc.get("items") if doc.get("kind") == "List" else [doc]
            out += [d for d in items or [] if isinstance(d, dict) and d.get("kind") in BY_KIND]
    return out


def read_cluster(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Any]:
    from ..kube import KubeReader  # the kubernetes client only when a cluster is read

    reader = KubeReader(args.kubeconfig, args.context)
    namespace = None if args.all_namespaces else (args.namespace or reader.current_namespace())
    objects: list[dict[str, Any]] = []
    refused: list[RuntimeError] = []
    for info in KINDS:
        try:
            objects += reader.list_objects(info.kind, namespace)
        except RuntimeError as exc:  # kube.ReadError
            if getattr(exc, "status", 0) != 403:
                raise
            refused.append(exc)
    if len(refused) == len(KINDS):
        raise refused[0]
    for err in refused:  # a kind this user may not list is left out, and said so
        print(f"kubectl stackery: {err} (left out)", file=sys.stderr)
    return objects, reader


def _load(args: argparse.Namespace) -> tuple[Stack, Any]:
    if getattr(args, "filename", None):
        return build(read_files(args.filename)), None
    objects, reader = read_cluster(args)
    return build(objects), reader


def cmd_graph(args: argparse.Namespace, out: TextIO) -> int:
    stack, _ = _load(args)
    out.write(FORMATS[args.output](stack))
    return 0


def _ready(node: Node) -> str:
    c = condition(node.obj, "Ready")
    return str(c.get("status")) if c else "-"


def _table(rows: Iterable[Sequence[str]], out: TextIO) -> None:
    rows = [list(r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() + "\n")


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    stack, _ = _load(args)
    nodes = [n for n in sorted(stack.nodes.values(), key=lambda n: n.id) if n.health != "External"]
    rows: list[Sequence[str]] = [("NAMESPACE", "KIND", "NAME", "READY", "HEALTH", "REASON", "DRIFT", "NEXT CHECK", "MESSAGE")]
    for n in nodes:
        message = "" if n.health == "Healthy" else n.message
        rows.append(
            (
                n.namespace,
                n.short_kind,
                n.name,
                _ready(n),
                n.health,
                n.reason or "-",
                str(len(n.drift)),
                n.next_check or "-",
                message,
            )
        )
    if not nodes:
        out.write("no Stackery objects found\n")
        return 0
    _table(rows, out)
    return EXIT_STALLED if any(n.health == "Degraded" for n in nodes) else 0


def _waiting_for(stack: Stack, node: Node) -> list[str]:
    out = []
    for w in stack.wires:
        if w.source != node.id:
            continue
        target = stack.nodes[w.target]
        if target.kind == "Secret":
            continue
        if target.health == "External":
            out.append(f"{target.kind} {target.name} ({w.role}): does not exist in namespace {node.namespace}")
        elif target.health != "Healthy":
            out.append(
                f"{target.kind} {target.name} ({w.role}): {target.health}"
                + (f", {target.reason}: {target.message}" if target.reason else "")
            )
    return out


def explain(stack: Stack, node: Node, events: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"{node.kind} {node.namespace}/{node.name} is {node.health}" + (f" ({node.reason})" if node.reason else "") + "."]
    if node.message and node.health != "Healthy":
        lines.append(f"  {node.message}")
    waiting = _waiting_for(stack, node)
    if waiting:
        lines.append("It refers to nodes that are not Ready:")
        lines += [f"  - {w}" for w in waiting]
    records = (node.obj.get("status") or {}).get("dnsRecords") or []
    if records:
        lines.append("Create these DNS records so the certificate can be issued (or the domain reaches the CDN):")
        lines += [f"  - {r.get('name')} {r.get('type', 'CNAME')} {r.get('value')}" for r in records]
    if node.drift:
        lines.append("AWS differs from the spec (drift):")
        lines += [f"  - {d.get('field')}: spec {d.get('desired')!s}, AWS {d.get('actual')!s}" for d in node.drift]
    conds = (node.obj.get("status") or {}).get("conditions") or []
    if conds:
        lines.append("Conditions:")
        for c in conds:
            msg = f": {c.get('message')}" if c.get("message") else ""
            lines.append(f"  {c.get('type')}={c.get('status')} {c.get('reason')} since {c.get('lastTransitionTime')}{msg}")
    if node.resources:
        lines.append("AWS resources:")
        lines += [f"  {k}: {v}" for k, v in node.resources]
    if node.next_check:
        lines.append(f"Next check: {node.next_check}")
    if events:
        lines.append("Recent events:")
        for e in list(events)[-10:]:
            count = f" (x{e.get('count')})" if (e.get("count") or 1) > 1 else ""
            lines.append(f"  {e.get('time')} {e.get('type')} {e.get('reason')}: {e.get('message')}{count}")
    return "\n".join(lines) + "\n"


def cmd_why(args: argparse.Namespace, out: TextIO) -> int:
    word, _, name = args.target.partition("/")
    kind = kind_of(word)
    if kind is None or not name:
        out.write(f"expected KIND/NAME with a Stackery kind, e.g. function/worker; got {args.target!r}\n")
        return 1
    stack, reader = _load(args)
    namespace = args.namespace or (reader.current_namespace() if reader else "default")
    node = stack.nodes.get(f"{namespace}/{kind}/{name}")
    if node is None or node.health == "External":
        out.write(f"{kind} {namespace}/{name} not found\n")
        return 1
    events = reader.events(namespace, kind, name) if reader else []
    out.write(explain(stack, node, events))
    return EXIT_STALLED if node.health == "Degraded" else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubectl stackery", description="See a Stackery stack: graph, status, why.")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context")
    sub = p.add_subparsers(dest="command", required=True)

    def scoped(sp: argparse.ArgumentParser) -> None:
        g = sp.add_mutually_exclusive_group()
        g.add_argument("-n", "--namespace", help="namespace (default: the context's)")
        g.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
        sp.add_argument("-f", "--filename", action="append", help="read manifests (file or directory) instead of the cluster")

    g = sub.add_parser("graph", help="nodes, wires and AWS resources as mermaid, dot, svg or html")
    scoped(g)
    g.add_argument("-o", "--output", choices=sorted(FORMATS), default="mermaid")
    g.set_defaults(run=cmd_graph)
    s = sub.add_parser("status", help="one line per node; exit 2 when something is Stalled")
    scoped(s)
    s.set_defaults(run=cmd_status)
    w = sub.add_parser("why", help="explain one node: conditions, what it waits for, drift, events")
    scoped(w)
    w.add_argument("target", metavar="KIND/NAME")
    w.set_defaults(run=cmd_why)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args, out))
    except (RuntimeError, OSError, yaml.YAMLError) as exc:  # kube.ReadError, unreadable files, bad YAML
        print(f"kubectl stackery: {exc}", file=sys.stderr)
        return 1


def main_exit() -> None:
    """The console script: exit with main()'s status."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
