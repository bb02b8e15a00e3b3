"""Writes the Grafana dashboard (charts/stackery-operator/dashboards/stackery.json) from the panel list
below. `--check` fails when the committed file differs. Every query uses only metrics the operator
exports; tests/e2e/test_dashboard_e2e.py checks them against a live /metrics.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "charts/stackery-operator/dashboards/stackery.json"
DS = {"type": "prometheus", "uid": "${datasource}"}

# (title, type, unit, [(expr, legend)], width, height)
PANELS: list[tuple[str, str, str, list[tuple[str, str]], int, int]] = [
    (
        "Objects Ready by kind",
        "bargauge",
        "short",
        [
            ("sum by (kind) (stackery_resource_ready)", "{{kind}} ready"),
            ("count by (kind) (stackery_resource_ready)", "{{kind}} total"),
        ],
        8,
        8,
    ),
    ("Objects not Ready", "table", "short", [("stackery_resource_ready == 0", "")], 8, 8),
    ("Stalled objects (need a person)", "table", "short", [("stackery_resource_stalled == 1", "")], 8, 8),
    ("Drifted objects", "table", "short", [("stackery_resource_drifted == 1", "")], 8, 8),
    (
        "Drift found (per hour)",
        "timeseries",
        "short",
        [("sum by (kind) (increase(stackery_drift_detected_total[1h]))", "{{kind}}")],
        8,
        8,
    ),
    (
        "Certificates awaiting validation",
        "table",
        "s",
        [("max by (namespace, kind, name) (stackery_certificate_pending_seconds) > 0", "")],
        8,
        8,
    ),
    (
        "Reconcile rate by result",
        "timeseries",
        "ops",
        [("sum by (kind, result) (rate(stackery_reconcile_total[5m]))", "{{kind}} {{result}}")],
        12,
        8,
    ),
    (
        "Reconcile errors and stalls",
        "timeseries",
        "ops",
        [('sum by (kind, result) (rate(stackery_reconcile_total{result=~"error|stalled"}[5m]))', "{{kind}} {{result}}")],
        12,
        8,
    ),
    (
        "Reconcile duration percentiles",
        "timeseries",
        "s",
        [
            (
                f"histogram_quantile({q}, sum by (le, kind) (rate(stackery_reconcile_duration_seconds_bucket[5m])))",
                f"{{{{kind}}}} p{int(q * 100)}",
            )
            for q in (0.5, 0.9, 0.99)
        ],
        12,
        8,
    ),
    (
        "AWS calls by service and outcome",
        "timeseries",
        "ops",
        [("sum by (service, outcome) (rate(stackery_aws_api_calls_total[5m]))", "{{service}} {{outcome}}")],
        12,
        8,
    ),
    (
        "AWS throttling",
        "timeseries",
        "ops",
        [
            (
                'sum by (service, operation) (rate(stackery_aws_api_calls_total{outcome="throttled"}[5m]))',
                "{{service}} {{operation}}",
            )
        ],
        12,
        8,
    ),
    (
        "Time to Ready",
        "timeseries",
        "s",
        [
            (
                f"histogram_quantile({q}, sum by (le, kind) (rate(stackery_time_to_ready_seconds_bucket[1h])))",
                f"{{{{kind}}}} p{int(q * 100)}",
            )
            for q in (0.5, 0.9)
        ],
        12,
        8,
    ),
    (
        "Certificate issue time",
        "timeseries",
        "s",
        [("histogram_quantile(0.9, sum by (le, kind) (rate(stackery_certificate_issue_seconds_bucket[1h])))", "{{kind}} p90")],
        12,
        8,
    ),
]


def dashboard() -> dict[str, Any]:
    panels, x, y, row_h = [], 0, 0, 0
    for i, (title, kind, unit, queries, w, h) in enumerate(PANELS, start=1):
        if x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
        panel: dict[str, Any] = {
            "id": i,
            "title": title,
            "type": kind,
            "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {},
            "targets": [
                {
                    "refId": chr(65 + j),
                    "datasource": DS,
                    "expr": expr,
                    "legendFormat": legend,
                    **({"format": "table", "instant": True} if kind == "table" else {}),
                }
                for j, (expr, legend) in enumerate(queries)
            ],
        }
        panels.append(panel)
        x += w
        row_h = max(row_h, h)
    return {
        "title": "Stackery operator",
        "uid": "stackery-operator",
        "description": "Objects by readiness, drift, reconciles, AWS calls (throttling), certificates, time to Ready.",
        "tags": ["stackery", "kubernetes", "aws"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus", "current": {}}]
        },
        "panels": panels,
    }


def main() -> int:
    text = json.dumps(dashboard(), indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        if OUT.read_text() != text:
            print(f"{OUT} is stale: run python hack/dashboard.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
