"""ConfigStore adapter against moto (in-process)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from controller.adapters.configstore import ConfigStoreAdapter
from controller.api.configstore import ConfigStoreSpec
from controller.aws.errors import classify
from controller.core.adapter import ObjectRef, SecretKey
from controller.core.reconciler import Reconciler

from .fakes import FakeCluster, Obj, test_settings
from .helpers import api_calls, converge, delta, request, writes

A = ConfigStoreAdapter()
SECRET = "hunter2-very-secret"


def req(spec: dict[str, Any], **kw: Any) -> Any:
    kw.setdefault("inputs", {"db/password": SECRET})
    return request(ConfigStoreSpec, spec, adapter=A, name="app", kind="StackeryConfigStore", **kw)


def ssm() -> Any:
    return boto3.client("ssm", region_name="us-east-1")


SPEC = {"parameters": {"LOG_LEVEL": {"value": "info"}, "db/password": {"secretKeyRef": {"name": "db", "key": "password"}}}}


def ensure(r: Any) -> Any:
    return converge(A, r)


def params() -> dict[str, tuple[str, str]]:
    out = ssm().get_parameters_by_path(Path="/team-a/app", Recursive=True, WithDecryption=True)["Parameters"]
    return {p["Name"]: (p["Value"], p["Type"]) for p in out}


def test_default_path_and_types(aws: None) -> None:
    r = req(SPEC)
    assert r.external_name == "/team-a/app/"
    assert A.references(r.spec) == [SecretKey("db", "password")]
    ensure(r)
    assert params() == {"/team-a/app/LOG_LEVEL": ("info", "String"), "/team-a/app/db/password": (SECRET, "SecureString")}
    tags = ssm().list_tags_for_resource(ResourceType="Parameter", ResourceId="/team-a/app/LOG_LEVEL")["TagList"]
    assert {"Key": "stackery.io/uid", "Value": "uid-1"} in tags
    obs = A.observe(r)
    assert obs.diffs == () and obs.identifiers["parameterCount"] == 2
    assert obs.outputs == {"CONFIG_PATH": "/team-a/app/"}


def test_secret_values_never_in_diffs(aws: None) -> None:
    r = req(SPEC)
    ensure(r)
    ssm().put_parameter(Name="/team-a/app/db/password", Value="tampered", Type="SecureString", Overwrite=True)
    changed = req(SPEC, inputs={"db/password": "rotated-secret"})
    obs = A.observe(changed)
    assert [d.field for d in obs.diffs] == ["parameters.db/password"]
    text = json.dumps([d.__dict__ for d in obs.diffs])
    assert SECRET not in text and "rotated-secret" not in text and "tampered" not in text
    A.update(changed, obs)
    assert params()["/team-a/app/db/password"] == ("rotated-secret", "SecureString")


def test_value_change_key_removal_and_drift(aws: None) -> None:
    r = req(SPEC)
    ensure(r)
    r2 = req({"parameters": {"LOG_LEVEL": {"value": "debug"}}})
    obs = A.observe(r2)
    assert sorted(d.field for d in obs.diffs) == ["parameters.LOG_LEVEL", "parameters.db/password"]
    A.update(r2, obs)
    assert params() == {"/team-a/app/LOG_LEVEL": ("debug", "String")}
    ssm().put_parameter(Name="/team-a/app/LOG_LEVEL", Value="trace", Type="String", Overwrite=True)
    obs = A.observe(r2)
    assert [(d.field, d.desired, d.actual) for d in obs.diffs] == [("parameters.LOG_LEVEL", "debug", "trace")]


def test_unowned_parameters_are_left_alone_and_conflicts_refused(aws: None) -> None:
    ssm().put_parameter(Name="/team-a/app/HANDMADE", Value="x", Type="String")
    r = req({"parameters": {"A": {"value": "1"}}})
    ensure(r)
    assert params()["/team-a/app/HANDMADE"] == ("x", "String")  # not in spec, not ours: untouched
    assert A.observe(r).diffs == ()
    A.delete(r, A.observe(r))
    assert list(params()) == ["/team-a/app/HANDMADE"]
    # a key we want that someone else made: not ours unless adopted
    r2 = req({"parameters": {"HANDMADE": {"value": "y"}}})
    obs = A.observe(r2)
    assert obs.exists and obs.owner_uid is None
    adopted = req({"parameters": {"HANDMADE": {"value": "y"}}}, adopt=True)
    obs = A.observe(adopted)
    A.update(adopted, obs)
    assert params()["/team-a/app/HANDMADE"] == ("y", "String")
    assert A.observe(adopted).diffs == ()
    other = req({"parameters": {"HANDMADE": {"value": "z"}}}, uid="uid-2")
    assert A.observe(other).owner_uid == "uid-1"


def test_in_sync_resync_makes_zero_mutating_calls(aws: None) -> None:
    settings = test_settings()
    cluster = FakeCluster(secrets={("team-a", "db", "password"): SECRET})
    rec = Reconciler(
        kind="StackeryConfigStore", spec_model=ConfigStoreSpec, adapter=A, cluster=cluster, settings=settings, classify=classify
    )
    obj = Obj(spec=dict(SPEC), ref=ObjectRef("StackeryConfigStore", "team-a", "app", "uid-1"))
    obj.status.update(rec.reconcile(obj.managed()).status)
    assert obj.cond("Ready")["status"] == "True"
    assert SECRET not in json.dumps(obj.status)
    before = api_calls()
    obj.status.update(rec.reconcile(obj.managed()).status)
    calls = delta(before, api_calls())
    assert writes(calls) == {}
    assert calls == {"GetParametersByPath": 1, "ListTagsForResource": 2}  # the documented read budget


@pytest.mark.parametrize(
    "bad",
    [
        {"parameters": {"A": {}}},
        {"parameters": {"A": {"value": "x", "secretKeyRef": {"name": "s", "key": "k"}}}},
        {"path": "no-leading-slash/"},
        {"parameters": {"A": {"value": "x", "extra": 1}}},
    ],
)
def test_invalid_specs_rejected_by_model(bad: dict[str, Any]) -> None:
    # the apiserver rejects these first (CEL/OpenAPI, see e2e); the model is the second line
    with pytest.raises(ValueError):
        ConfigStoreSpec.model_validate(bad)


def test_aws_validation_error_names_the_parameter_key(aws: None) -> None:
    """AWS refuses one parameter (injected with a botocore before-call hook: moto accepts the value):
    the message names the key at fault and the error is terminal, not retried."""
    from botocore.exceptions import ClientError

    from controller.aws.clients import client
    from controller.errors import TerminalError

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params["Name"].endswith("/BAD"):
            raise ClientError(
                {
                    "Error": {"Code": "ValidationException", "Message": "value rejected"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "PutParameter",
            )

    client("ssm", "us-east-1").meta.events.register("before-parameter-build.ssm.PutParameter", refuse)
    r = req({"parameters": {"BAD": {"value": "x"}, "GOOD": {"value": "y"}}})
    with pytest.raises(TerminalError) as err:
        A.create(r)
    assert err.value.reason == "InvalidParameter"
    assert err.value.message.startswith("spec.parameters.BAD (") and "ValidationException" in err.value.message
