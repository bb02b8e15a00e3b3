"""The test bed's binary lookup: without Go and without KUBEBUILDER_ASSETS it fails and says what to install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "hack/build-kube.sh")], env=env, capture_output=True, text=True, timeout=60)


def test_no_go_and_no_assets_says_what_to_install(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STACKERY_CACHE": str(tmp_path / "cache")}
    if any(Path(p, "go").exists() for p in env["PATH"].split(":")):
        env["PATH"] = "/bin"
    res = run(env)
    assert res.returncode == 1
    assert "Install Go" in res.stderr and "KUBEBUILDER_ASSETS" in res.stderr


def test_kubebuilder_assets_is_used_as_is(tmp_path: Path) -> None:
    for name in ("kube-apiserver", "etcd", "kubectl"):
        f = tmp_path / name
        f.write_text("#!/bin/sh\n")
        f.chmod(0o755)
    res = run({**os.environ, "KUBEBUILDER_ASSETS": str(tmp_path)})
    assert res.returncode == 0 and res.stdout.strip() == str(tmp_path)
    (tmp_path / "etcd").unlink()
    res = run({**os.environ, "KUBEBUILDER_ASSETS": str(tmp_path)})
    assert res.returncode == 1 and "no executable 'etcd'" in res.stderr
