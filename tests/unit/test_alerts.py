"""Alert rules: promtool unit tests, and every stackery_* series they use is one the operator exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from prometheus_client import generate_latest

from controller import metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "charts/stackery-operator/files/alerts.rules.yaml"


def test_promtool_rule_tests_pass() -> None:
    res = subprocess.run(
        ["bash", str(ROOT / "hack/promtool.sh"), "test", "rules", "tests/alerts/alerts_test.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_promtool_check_rules() -> None:
    res = subprocess.run(
        ["bash", str(ROOT / "hack/promtool.sh"), "check", "rules", str(RULES)], cwd=ROOT, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_alerts_use_exported_series_names() -> None:
    metrics.set_object_state("ns", "K", "n", ready=True, drifted=False, stalled=False)
    metrics.RECONCILE_TOTAL.labels("K", "success").inc(0)
    metrics.count_aws_call("s3", "GetBucketTagging", "success")
    metrics.CERTIFICATE_PENDING.labels("ns", "K", "n").set(0)
    metrics.CHECKS_OVERDUE.labels("K").set(0)
    exported = set(re.findall(r"^(stackery_\w+?)(?:\{| )", generate_latest(metrics.REGISTRY).decode(), re.M))
    used = set(re.findall(r"\b(stackery_\w+)\b", RULES.read_text()))
    used = {u for u in used if not u.startswith("stackery_operator")}
    assert used and used <= exported, used - exported
