"""StackeryConfigStore with a Secret-sourced value, on a real apiserver."""

from __future__ import annotations

import json
from pathlib import Path

import testbed

from .conftest import aws, ready, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_secret_sourced_parameter_follows_the_secret(bed: testbed.TestBed) -> None:
    bed.kubectl("apply", "-f", str(ROOT / "examples/configstore.yaml"))
    obj = wait_for(lambda: ready(bed, "stackeryconfigstore", "app-config"), what="app-config Ready")
    assert obj["status"]["path"] == "/default/app-config/" and obj["status"]["parameterCount"] == 2
    ssm = aws(bed, "ssm")
    p = ssm.get_parameter(Name="/default/app-config/db/password", WithDecryption=True)["Parameter"]
    assert p["Type"] == "SecureString" and p["Value"] == "correct-horse-battery-staple"
    assert ssm.get_parameter(Name="/default/app-config/LOG_LEVEL")["Parameter"]["Value"] == "info"

    bed.kubectl("patch", "secret", "app-db", "--type=merge", "-p", '{"stringData": {"password": "rotated-value"}}')
    wait_for(
        lambda: (
            ssm.get_parameter(Name="/default/app-config/db/password", WithDecryption=True)["Parameter"]["Value"]
            == "rotated-value"
        ),
        timeout=60,
        what="parameter follows the Secret",
    )

    # the secret value never shows up in status, events or metrics
    everything = (
        json.dumps(bed.get("stackeryconfigstore", "app-config"))
        + bed.kubectl("get", "events", "-o", "json").stdout
        + bed.metrics()
    )
    assert "rotated-value" not in everything and "correct-horse" not in everything

    # removing a key removes its parameter
    bed.kubectl(
        "patch",
        "stackeryconfigstore",
        "app-config",
        "--type=json",
        "-p",
        '[{"op": "remove", "path": "/spec/parameters/LOG_LEVEL"}]',
    )
    wait_for(
        lambda: (
            [x["Name"] for x in ssm.get_parameters_by_path(Path="/default/app-config", Recursive=True)["Parameters"]]
            == ["/default/app-config/db/password"]
        ),
        what="LOG_LEVEL removed",
    )


def test_missing_secret_waits_then_proceeds(bed: testbed.TestBed) -> None:
    store = {
        "apiVersion": "stackery.io/v1alpha1",
        "kind": "StackeryConfigStore",
        "metadata": {"name": "late", "namespace": "default"},
        "spec": {"parameters": {"token": {"secretKeyRef": {"name": "late-secret", "key": "token"}}}},
    }
    bed.kubectl("apply", "-f", "-", input=json.dumps(store))
    obj = wait_for(
        lambda: (o := bed.get("stackeryconfigstore", "late")).get("status", {}).get("conditions") and o,
        what="late has conditions",
    )
    ready_cond = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready_cond["reason"] == "WaitingForReference" and "late-secret" in ready_cond["message"]
    bed.kubectl("create", "secret", "generic", "late-secret", "--from-literal=token=abc")
    wait_for(lambda: ready(bed, "stackeryconfigstore", "late"), timeout=60, what="late Ready")
    bed.kubectl("delete", "stackeryconfigstore", "late", "--timeout=60s")
    assert aws(bed, "ssm").get_parameters_by_path(Path="/default/late", Recursive=True)["Parameters"] == []


def test_admission_rejects_ambiguous_parameter(bed: testbed.TestBed) -> None:
    store = {
        "apiVersion": "stackery.io/v1alpha1",
        "kind": "StackeryConfigStore",
        "metadata": {"name": "ambiguous", "namespace": "default"},
        "spec": {"parameters": {"A": {"value": "x", "secretKeyRef": {"name": "s", "key": "k"}}, "bad key!": {"value": "y"}}},
    }
    res = bed.kubectl("apply", "-f", "-", input=json.dumps(store), check=False)
    assert res.returncode != 0
    assert "set exactly one of value or secretKeyRef" in res.stderr
    assert "parameter keys may contain" in res.stderr
