"""StackeryRestApi on a real apiserver against a moto server: the example goes PendingValidation ->
Issued -> Ready, routes added and removed one by one, drift reported then corrected, admission refusals,
and a delete that leaves nothing (counted in moto)."""

from __future__ import annotations

import json
from typing import Any

import testbed
import yaml
from botocore.exceptions import ClientError

from .conftest import aws, cond, ready, wait_for, watch
from .test_objectstore_e2e import ROOT


def methods(bed: testbed.TestBed, api_id: str) -> dict[str, str]:
    """Routes ("METHOD /path" -> integration URI); CORS preflights (MOCK) as "OPTIONS /path" -> "preflight"."""
    out = {}
    for res in aws(bed, "apigateway").get_resources(restApiId=api_id, embed=["methods"])["items"]:
        for method, m in (res.get("resourceMethods") or {}).items():
            mock = m["methodIntegration"]["type"] == "MOCK"
            out[f"{method} {res['path']}"] = "preflight" if mock else m["methodIntegration"]["uri"]
    return out


def statements(bed: testbed.TestBed, fn_arn: str, api_id: str) -> list[str]:
    try:
        policy = json.loads(aws(bed, "lambda").get_policy(FunctionName=fn_arn)["Policy"])
    except ClientError:
        return []
    return [s["Sid"] for s in policy["Statement"] if s["Sid"].startswith(f"stackery-{api_id}-")]


NS = "apis"  # the example, in its own namespace and on its own domain (other tests apply it to default)
DOMAIN = "api.shop.example.com"
DOMAIN_SPEC: dict[str, Any] = {}


def example() -> str:
    docs = list(yaml.safe_load_all((ROOT / "examples/restapi.yaml").read_text()))
    for d in docs:
        d["metadata"]["namespace"] = NS
        if d["kind"] == "StackeryRestApi":
            domain = d["spec"].pop("domain")  # added once the API is Ready (below), so each step is seen
            domain["name"] = DOMAIN
            DOMAIN_SPEC.update(domain)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


def get(bed: testbed.TestBed, kind: str, name: str) -> dict[str, Any]:
    return bed.get(kind, name, NS)


def patch(bed: testbed.TestBed, body: dict[str, Any]) -> None:
    bed.kubectl("patch", "stackeryrestapi", "items-api", "-n", NS, "--type=merge", "-p", json.dumps(body))


def test_restapi_example_domain_routes_drift_and_delete(bed: testbed.TestBed) -> None:
    bed.kubectl("create", "namespace", NS)  # before the watch: kubectl does not watch a namespace not there yet
    progress = watch(bed, "stackeryrestapi", "items-api", NS)
    try:
        bed.kubectl("apply", "-f", "-", input=example())
        wait_for(lambda: ready(bed, "stackeryrestapi", "items-api", NS), timeout=120, what="RestApi Ready")
        # the custom domain: a certificate is requested (PendingValidation, the record shown), then issued
        # (moto issues it after 3 s), then the domain, mapping and Ready
        patch(bed, {"spec": {"domain": DOMAIN_SPEC}})
        api = wait_for(
            lambda: (o := ready(bed, "stackeryrestapi", "items-api", NS)) and o["status"].get("domainTarget") and o,
            timeout=120,
            what="RestApi Ready on its domain",
        )
    finally:
        progress.terminate()
        seen = progress.communicate(timeout=10)[0]
    assert "PendingValidation" in seen and "CNAME" in seen and "Issued" in seen, seen
    st = api["status"]
    aid = st["apiId"]
    assert st["url"] == f"https://{aid}.execute-api.us-east-1.amazonaws.com/prod" and st["routeCount"] == 2
    assert st["domainTarget"].endswith(".amazonaws.com") and st["dnsRecords"][0]["name"] == DOMAIN
    assert cond(api, "CertificateIssued")["reason"] == "Issued"
    cm = json.loads(bed.kubectl("get", "configmap", "items-api-outputs", "-n", NS, "-o", "json").stdout)["data"]
    assert cm == {"API_URL": st["url"], "API_ID": aid}
    fns = {n: get(bed, "stackeryfunction", n)["status"]["arn"] for n in ("list-items", "health")}
    assert set(methods(bed, aid)) == {"GET /items", "GET /health", "OPTIONS /items", "OPTIONS /health"}
    assert methods(bed, aid)["OPTIONS /items"] == "preflight"  # CORS answered by API Gateway (MOCK)
    assert len(statements(bed, fns["list-items"], aid)) == 1 and len(statements(bed, fns["health"], aid)) == 1

    # adding a route adds exactly its integration and its permission; removing it removes exactly those
    routes = [
        {"method": "GET", "path": "/items", "function": "list-items"},
        {"method": "GET", "path": "/health", "function": "health"},
    ]
    patch(bed, {"spec": {"routes": [*routes, {"method": "POST", "path": "/items/{id}", "function": "list-items"}]}})
    wait_for(lambda: ready(bed, "stackeryrestapi", "items-api", NS), what="route added")
    assert {k for k, v in methods(bed, aid).items() if v != "preflight"} == {"GET /items", "GET /health", "POST /items/{id}"}
    assert len(statements(bed, fns["list-items"], aid)) == 2
    patch(bed, {"spec": {"routes": routes}})
    wait_for(lambda: ready(bed, "stackeryrestapi", "items-api", NS), what="route removed")
    assert set(methods(bed, aid)) == {"GET /items", "GET /health", "OPTIONS /items", "OPTIONS /health"}
    assert len(statements(bed, fns["list-items"], aid)) == 1 and len(statements(bed, fns["health"], aid)) == 1

    # drift behind the operator's back: reported with Report, put back with Correct
    patch(bed, {"spec": {"driftPolicy": "Report"}})
    wait_for(lambda: ready(bed, "stackeryrestapi", "items-api", NS), what="Report")
    ag = aws(bed, "apigateway")
    res = next(r for r in ag.get_resources(restApiId=aid)["items"] if r["path"] == "/health")
    ag.delete_method(restApiId=aid, resourceId=res["id"], httpMethod="GET")
    ag.update_stage(
        restApiId=aid, stageName="prod", patchOperations=[{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "1"}]
    )
    drifted = wait_for(
        lambda: (
            (o := get(bed, "stackeryrestapi", "items-api"))
            and {d["field"] for d in o["status"].get("drift", [])} >= {"routes", "throttling"}
            and o
        ),
        timeout=60,
        what="drift reported",
    )
    assert cond(drifted, "Synced")["reason"] == "DriftDetected"
    patch(bed, {"spec": {"driftPolicy": "Correct"}})
    wait_for(lambda: "GET /health" in methods(bed, aid), timeout=60, what="route put back")
    wait_for(
        lambda: ag.get_stage(restApiId=aid, stageName="prod")["methodSettings"]["*/*"]["throttlingRateLimit"] == 50.0,
        timeout=60,
        what="throttling put back",
    )

    # invalid routes never reach the operator
    bad = get(bed, "stackeryrestapi", "items-api")
    for route, words in (
        ({"method": "FETCH", "path": "/x", "function": "health"}, "FETCH"),
        ({"method": "GET", "path": "x", "function": "health"}, "path"),
    ):
        res2 = bed.kubectl(
            "patch",
            "stackeryrestapi",
            "items-api",
            "-n",
            NS,
            "--type=merge",
            "-p",
            json.dumps({"spec": {"routes": [route]}}),
            check=False,
        )
        assert res2.returncode != 0 and words in res2.stderr, res2.stderr
    assert bad["metadata"]["generation"] == get(bed, "stackeryrestapi", "items-api")["metadata"]["generation"]

    # delete: nothing of the API is left, the functions keep no permission
    cert = st["certificateArn"]
    bed.kubectl("delete", "stackeryrestapi", "items-api", "-n", NS, "--timeout=90s")
    assert aid not in {a["id"] for a in ag.get_rest_apis()["items"]}
    assert st["grantedFunctions"] and sorted(st["grantedFunctions"]) == sorted(fns.values())
    assert DOMAIN not in {d["domainName"] for d in ag.get_domain_names()["items"]}
    assert cert not in {c["CertificateArn"] for c in aws(bed, "acm").list_certificates()["CertificateSummaryList"]}
    assert statements(bed, fns["list-items"], aid) == [] and statements(bed, fns["health"], aid) == []
    logs = aws(bed, "logs").describe_log_groups(logGroupNamePrefix="/aws/apigateway/")["logGroups"]
    assert not [g for g in logs if f"-{NS}-items-api" in g["logGroupName"]]
