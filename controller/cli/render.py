"""Drawing a Stack: mermaid and Graphviz dot text, and a self-contained SVG / HTML page.

Why: users paste mermaid into Markdown, feed dot to their own tools, and open the SVG or HTML anywhere
(no browser plugin, no network, no JavaScript). The SVG lays the graph out itself: what a node refers
to stands in a column left of it, wires run right to left with their role written on them.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .model import COLOURS, Node, Stack

BOX_W, LINE_H, PAD, COL_GAP, ROW_GAP, MARGIN = 280, 16, 10, 140, 28, 30
MAX_RESOURCES = 4


def _label(node: Node) -> list[str]:
    lines = [f"{node.short_kind} {node.name}", node.health + (f" · {node.reason}" if node.reason else "")]
    if node.drift:
        lines.append(f"drift: {', '.join(str(d.get('field')) for d in node.drift)}")
    for key, value in node.resources[:MAX_RESOURCES]:
        lines.append(f"{key}: {value}")
    if len(node.resources) > MAX_RESOURCES:
        lines.append(f"… {len(node.resources) - MAX_RESOURCES} more")
    return lines


def _ids(stack: Stack) -> dict[str, str]:
    return {nid: f"n{i}" for i, nid in enumerate(sorted(stack.nodes))}


def mermaid(stack: Stack) -> str:
    ids = _ids(stack)
    out = ["flowchart LR"]
    for nid in sorted(stack.nodes):
        node = stack.nodes[nid]
        text = "<br/>".join(escape(line).replace('"', "&quot;") for line in _label(node))
        out.append(f'  {ids[nid]}["{text}"]:::{node.health}')
    for w in stack.wires:
        out.append(f"  {ids[w.source]} -- {w.role} --> {ids[w.target]}")
    for health, colour in COLOURS.items():
        out.append(f"  classDef {health} fill:{colour},color:#fff,stroke:#333")
    return "\n".join(out) + "\n"


def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(stack: Stack) -> str:
    ids = _ids(stack)
    out = ["digraph stack {", "  rankdir=RL;", '  node [shape=box, style="rounded,filled", fontcolor=white, fontname=Helvetica];']
    for nid in sorted(stack.nodes):
        node = stack.nodes[nid]
        label = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in _label(node))
        out.append(f'  {ids[nid]} [label="{label}", fillcolor={_dot_str(COLOURS[node.health])}];')
    for w in stack.wires:
        out.append(f"  {ids[w.source]} -> {ids[w.target]} [label={_dot_str(w.role)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def svg(stack: Stack) -> str:
    cols = stack.layers()
    boxes: dict[str, tuple[int, int, int]] = {}  # id -> x, y, height
    height = 0
    for c, column in enumerate(cols):
        y = MARGIN
        for node in column:
            h = PAD * 2 + LINE_H * len(_label(node))
            boxes[node.id] = (MARGIN + c * (BOX_W + COL_GAP), y, h)
            y += h + ROW_GAP
        height = max(height, y)
    width = MARGIN * 2 + max(len(cols), 1) * BOX_W + max(len(cols) - 1, 0) * COL_GAP
    height = max(height, MARGIN * 2)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        "<title>Stackery stack</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for w in stack.wires:
        sx, sy, sh = boxes[w.source]
        tx, ty, th = boxes[w.target]
        x1, y1 = sx, sy + sh / 2
        x2, y2 = tx + BOX_W, ty + th / 2
        if x2 > x1:  # same column or a cut cycle: leave and enter on the right-hand side
            x1 = sx + BOX_W
        mid = (x1 + x2) / 2
        out.append(
            f'<path d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" fill="none" '
            'stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
        out.append(f'<text x="{mid:.0f}" y="{(y1 + y2) / 2 - 4:.0f}" text-anchor="middle" fill="#333">{escape(w.role)}</text>')
    for nid, (x, y, h) in sorted(boxes.items()):
        node = stack.nodes[nid]
        out.append(f"<g><title>{escape(node.message or node.health)}</title>")
        out.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{h}" rx="8" fill={quoteattr(COLOURS[node.health])}/>')
        for i, line in enumerate(_label(node)):
            weight = ' font-weight="bold"' if i == 0 else ""
            text = line if len(line) <= 44 else line[:43] + "…"
            out.append(f'<text x="{x + PAD}" y="{y + PAD + LINE_H * (i + 1) - 4}" fill="#fff"{weight}>{escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def html(stack: Stack) -> str:
    rows = []
    for nid in sorted(stack.nodes):
        n = stack.nodes[nid]
        res = "<br/>".join(f"{escape(k)}: {escape(v)}" for k, v in n.resources)
        drift = ", ".join(escape(str(d.get("field"))) for d in n.drift)
        rows.append(
            f"<tr><td>{escape(n.namespace)}</td><td>{escape(n.short_kind)}</td><td>{escape(n.name)}</td>"
            f'<td style="color:{COLOURS[n.health]}">{escape(n.health)}</td><td>{escape(n.reason)}</td>'
            f"<td>{escape(n.message)}</td><td>{drift}</td><td>{res}</td></tr>"
        )
    wires = (
        "".join(f"<li>{escape(w.source)} — {escape(w.role)} → {escape(w.target)}</li>" for w in stack.wires) or "<li>none</li>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>'
        "<title>Stackery stack</title>"
        "<style>body{font-family:Helvetica,Arial,sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:13px}</style></head><body>"
        "<h1>Stackery stack</h1>"
        + svg(stack)
        + "<h2>Nodes</h2><table><tr><th>Namespace</th><th>Kind</th><th>Name</th><th>Health</th><th>Reason</th>"
        "<th>Message</th><th>Drift</th><th>AWS resources</th></tr>"
        + "".join(rows)
        + "</table><h2>Wires</h2><ul>"
        + wires
        + "</ul></body></html>\n"
    )


FORMATS = {"mermaid": mermaid, "dot": dot, "svg": svg, "html": html}
