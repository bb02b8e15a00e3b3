"""Rest Api adapter against moto (in-process): routes and permissions follow the spec exactly, a new
deployment only when routes change, drift (a route deleted, throttling changed), custom domain, the
delete order (recorded), the in-sync read budget, and admission rules in the model."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from controller.adapters.function import FunctionAdapter
from controller.adapters.restapi import RestApiAdapter
from controller.api.function import FunctionSpec
from controller.api.restapi import RestApiSpec
from controller.core.adapter import ObjectRef, Request

from .helpers import api_calls, converge, delta, writes

A = RestApiAdapter()
REF = ObjectRef("StackeryRestApi", "shop", "api", "uid-api")


def zip_b64() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return {'statusCode': 200}\n")
    return base64.b64encode(buf.getvalue()).decode()


def make_function(name: str) -> dict[str, Any]:
    fa = FunctionAdapter()
    ref = ObjectRef("StackeryFunction", "shop", name, f"uid-{name}")
    spec = FunctionSpec.model_validate({"code": {"zipBase64": zip_b64()}})
    r = Request(ref=ref, spec=spec, region="us-east-1", external_name=fa.external_name(ref, spec))
    return dict(converge(fa, r).identifiers)


class Api:
    """Carries status between passes like the reconciler does."""

    def __init__(self, spec: dict[str, Any], functions: dict[str, dict[str, Any]]) -> None:
        self.spec, self.functions, self.status = spec, functions, {}

    def req(self) -> Any:
        parsed = RestApiSpec.model_validate(self.spec)
        nodes = {("StackeryFunction", k): v for k, v in self.functions.items()}
        return Request(
            ref=REF, spec=parsed, region="us-east-1", external_name=A.external_name(REF, parsed), nodes=nodes, status=self.status
        )

    def sync(self) -> Any:
        obs = converge(A, self.req())
        self.status.update(obs.identifiers)
        return obs


def ag() -> Any:
    return boto3.client("apigateway", region_name="us-east-1")


def routes(api_id: str) -> dict[str, str]:
    out = {}
    for res in ag().get_resources(restApiId=api_id, embed=["methods"])["items"]:
        for method, m in (res.get("resourceMethods") or {}).items():
            if m["methodIntegration"]["type"] != "MOCK":  # a CORS preflight is not a route
                out[f"{method} {res['path']}"] = m["methodIntegration"]["uri"].split("function:")[1].split("/")[0]
    return out


def sids(fn_arn: str) -> list[str]:
    try:
        policy = boto3.client("lambda", region_name="us-east-1").get_policy(FunctionName=fn_arn)["Policy"]
    except ClientError:
        return []
    return sorted(s["Sid"] for s in json.loads(policy)["Statement"])


@pytest.fixture
def fns(aws: None) -> dict[str, dict[str, Any]]:
    return {"list": make_function("list"), "put": make_function("put")}


def test_routes_permissions_and_deployments_follow_the_spec(fns: dict[str, dict[str, Any]]) -> None:
    api = Api({"routes": [{"method": "GET", "path": "/items", "function": "list"}]}, fns)
    obs = api.sync()
    assert obs.diffs == () and obs.exists
    aid = obs.identifiers["apiId"]
    assert obs.outputs["API_URL"] == f"https://{aid}.execute-api.us-east-1.amazonaws.com/prod"
    assert routes(aid) == {"GET /items": fns["list"]["externalName"]}
    assert len(sids(fns["list"]["arn"])) == 1
    first_deployment = obs.identifiers["deploymentId"]
    assert api.sync().identifiers["deploymentId"] == first_deployment  # nothing changed: no new deployment

    # adding a route adds exactly its integration and permission, and one new deployment
    api.spec["routes"].append({"method": "PUT", "path": "/items/{id}", "function": "put"})
    before = api_calls()
    obs = api.sync()
    made = writes(delta(before, api_calls()))
    assert made["AddPermission"] == 1 and made["PutIntegration"] == 1 and made["CreateDeployment"] == 1
    assert routes(aid) == {"GET /items": fns["list"]["externalName"], "PUT /items/{id}": fns["put"]["externalName"]}
    assert len(sids(fns["put"]["arn"])) == 1 and obs.identifiers["deploymentId"] != first_deployment
    assert [d["id"] for d in ag().get_deployments(restApiId=aid)["items"]] == [obs.identifiers["deploymentId"]]

    # removing it removes exactly its method, permission and (now empty) resource
    api.spec["routes"].pop()
    before = api_calls()
    api.sync()
    made = writes(delta(before, api_calls()))
    assert made["RemovePermission"] == 1 and made["DeleteMethod"] == 1 and "AddPermission" not in made
    assert routes(aid) == {"GET /items": fns["list"]["externalName"]}
    assert sids(fns["put"]["arn"]) == [] and len(sids(fns["list"]["arn"])) == 1
    assert {r["path"] for r in ag().get_resources(restApiId=aid)["items"]} == {"/", "/items"}


def test_drift_route_deleted_and_throttling_changed(fns: dict[str, dict[str, Any]]) -> None:
    api = Api(
        {"routes": [{"method": "GET", "path": "/items", "function": "list"}], "throttling": {"rateLimit": 50, "burstLimit": 100}},
        fns,
    )
    aid = api.sync().identifiers["apiId"]
    res = next(r for r in ag().get_resources(restApiId=aid)["items"] if r["path"] == "/items")
    ag().delete_method(restApiId=aid, resourceId=res["id"], httpMethod="GET")
    ag().update_stage(
        restApiId=aid, stageName="prod", patchOperations=[{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "5"}]
    )
    obs = A.observe(api.req())
    assert {d.field for d in obs.diffs} >= {"routes", "throttling"}
    assert api.sync().diffs == ()
    assert routes(aid) == {"GET /items": fns["list"]["externalName"]}
    assert ag().get_stage(restApiId=aid, stageName="prod")["methodSettings"]["*/*"]["throttlingRateLimit"] == 50.0


def test_custom_domain_certificate_mapping_and_alias(fns: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 0)
    r53 = boto3.client("route53", region_name="us-east-1")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="t")["HostedZone"]["Id"].split("/")[-1]
    api = Api(
        {
            "routes": [{"method": "ANY", "path": "/{proxy+}", "function": "list"}],
            "domain": {"name": "api.example.com", "basePath": "v1", "route53": {"hostedZoneId": zone}},
        },
        fns,
    )
    obs = api.sync()
    assert obs.diffs == () and obs.waiting is None
    target = obs.identifiers["domainTarget"]
    assert target.endswith(".execute-api.us-east-1.amazonaws.com")
    mappings = ag().get_base_path_mappings(domainName="api.example.com")["items"]
    assert [(m["basePath"], m["restApiId"], m["stage"]) for m in mappings] == [("v1", obs.identifiers["apiId"], "prod")]
    records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    alias = next(r for r in records if r["Name"].rstrip(".") == "api.example.com" and r["Type"] == "A")
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == target
    assert alias["AliasTarget"]["HostedZoneId"] == obs.identifiers["domainHostedZoneId"]
    # an ANY route's permission covers every method of exactly that route
    policy = json.loads(boto3.client("lambda", region_name="us-east-1").get_policy(FunctionName=fns["list"]["arn"])["Policy"])
    src = policy["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"]
    assert src.endswith(f":{obs.identifiers['apiId']}/*/*/{{proxy+}}")


def test_delete_runs_dependents_first_and_leaves_nothing(fns: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded order of the delete calls (moto would accept any order, so the order is checked here)."""
    from botocore.client import BaseClient
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 0)
    api = Api(
        {
            "routes": [{"method": "GET", "path": "/items", "function": "list"}],
            "accessLogs": True,
            "domain": {"name": "api.example.com"},
        },
        fns,
    )
    api.sync()
    calls: list[str] = []
    real = BaseClient._make_api_call  # type: ignore[attr-defined]

    def spy(self: Any, op: str, params: dict[str, Any]) -> Any:
        if op.startswith(("Delete", "Remove")):
            calls.append(op)
        return real(self, op, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    res = A.delete(api.req(), A.observe(api.req()))
    assert res.done and res.confirmed
    assert calls == [
        "DeleteBasePathMapping",
        "DeleteDomainName",
        "DeleteStage",
        "RemovePermission",
        "DeleteResource",
        "DeleteRestApi",
        "DeleteLogGroup",
        "DeleteCertificate",
    ]
    assert ag().get_rest_apis()["items"] == [] and ag().get_domain_names()["items"] == []
    assert sids(fns["list"]["arn"]) == []


def test_in_sync_check_is_read_only_within_budget(fns: dict[str, dict[str, Any]]) -> None:
    api = Api(
        {"routes": [{"method": "GET", "path": "/a", "function": "list"}, {"method": "GET", "path": "/b", "function": "put"}]}, fns
    )
    api.sync()
    before = api_calls()
    assert A.observe(api.req()).diffs == ()
    calls = delta(before, api_calls())
    # GetRestApi, GetResources, GetPolicy x2 (one per routed function), GetStage, GetDeployment
    assert writes(calls) == {} and sum(calls.values()) == 6, dict(calls)


@pytest.mark.parametrize(
    "bad",
    [
        {"routes": []},
        {"routes": [{"method": "FETCH", "path": "/a", "function": "f"}]},
        {"routes": [{"method": "GET", "path": "a", "function": "f"}]},
        {"routes": [{"method": "GET", "path": "/{proxy+}/x", "function": "f"}]},
        {"routes": [{"method": "GET", "path": "/a//b", "function": "f"}]},
        {"routes": [{"method": "GET", "path": "/a", "function": "f"}, {"method": "GET", "path": "/a", "function": "g"}]},
        {"routes": [{"method": "GET", "path": "/a", "function": "f"}], "domain": {"name": "Not A Domain"}},
    ],
)
def test_invalid_specs_rejected_by_model(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RestApiSpec.model_validate(bad)


def preflight(api_id: str) -> dict[str, dict[str, str]]:
    out = {}
    for res in ag().get_resources(restApiId=api_id, embed=["methods"])["items"]:
        m = (res.get("resourceMethods") or {}).get("OPTIONS")
        if m and m["methodIntegration"]["type"] == "MOCK":
            out[res["path"]] = m["methodIntegration"]["integrationResponses"]["200"]["responseParameters"]
    return out


def test_cors_preflight_follows_the_spec(fns: dict[str, dict[str, Any]]) -> None:
    spec: dict[str, Any] = {
        "routes": [
            {"method": "GET", "path": "/items", "function": "list"},
            {"method": "POST", "path": "/items", "function": "put"},
            {"method": "ANY", "path": "/raw", "function": "list"},  # its function answers OPTIONS itself
        ],
        "cors": {"allowOrigin": "https://app.example.com", "maxAgeSeconds": 600},
    }
    api = Api(spec, fns)
    obs = api.sync()
    aid, first = obs.identifiers["apiId"], obs.identifiers["deploymentId"]
    got = preflight(aid)
    assert set(got) == {"/items"}
    assert got["/items"]["method.response.header.Access-Control-Allow-Origin"] == "'https://app.example.com'"
    assert got["/items"]["method.response.header.Access-Control-Allow-Methods"] == "'GET,OPTIONS,POST'"
    assert got["/items"]["method.response.header.Access-Control-Max-Age"] == "'600'"
    assert routes(aid).keys() == {"GET /items", "POST /items", "ANY /raw"}  # the preflight is not a route
    # a changed origin replaces the preflight and is deployed
    spec["cors"]["allowOrigin"] = "*"
    obs = api.sync()
    assert preflight(aid)["/items"]["method.response.header.Access-Control-Allow-Origin"] == "'*'"
    assert obs.identifiers["deploymentId"] != first
    # no cors: no preflight, the routes and their resource stay
    del spec["cors"]
    api.sync()
    assert preflight(aid) == {} and routes(aid).keys() == {"GET /items", "POST /items", "ANY /raw"}


def test_a_function_connected_to_the_api_gets_its_url_and_invoke_permission() -> None:
    from controller.adapters.function import environment, policy_document
    from controller.registry import WIRING

    status = {"apiId": "a1b2c3", "url": "https://a1b2c3.execute-api.us-east-1.amazonaws.com/prod"}
    spec = FunctionSpec.model_validate(
        {"code": {"zipBase64": zip_b64()}, "connections": [{"kind": "StackeryRestApi", "name": "items-api"}]}
    )
    nodes = {("StackeryRestApi", "items-api"): status}
    assert environment(spec, nodes, WIRING) == {"API_URL": status["url"], "API_ID": "a1b2c3"}
    doc = policy_document(spec, nodes, WIRING, function_name="f", region="us-east-1", account="123456789012")
    grant = next(s for s in doc["Statement"] if s["Sid"].startswith("Connection1"))
    assert grant["Action"] == ["execute-api:Invoke"]
    assert grant["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3/*"]
