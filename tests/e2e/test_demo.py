"""`DEMO_EXIT=1 make demo` ends by itself with every example Ready (the newcomer's first command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_exits_by_itself_when_everything_is_ready() -> None:
    env = {**os.environ, "DEMO_EXIT": "1", "DEMO_TIMEOUT": "120"}
    res = subprocess.run(
        [sys.executable, str(ROOT / "hack/demo.py")], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Every example is Ready." in res.stdout
    for name in (
        "StackeryObjectStore/uploads",
        "StackeryObjectStore/site",
        "StackeryConfigStore/app-config",
        "StackeryDockerService/orders-api",
        "StackeryLoadBalancer/web",
    ):
        assert f"{name}" in res.stdout
