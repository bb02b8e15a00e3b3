"""API Gateway (REST, v1) parts of a Rest Api: the API, its routes, the Lambda permissions, the access
log group and the stage (with its deployment).

Why: each is an AWS resource with its own identity and its own way of being read and changed; the Rest
Api kind (restapi.py) composes them with the shared certificate, custom-domain and DNS parts.

Identity: the API's id is AWS-assigned; it is kept in status and found again by its ownership tags
(GetRestApis lists tags) after a crash. Routes, permissions and the stage live inside or beside it and
are compared as a whole: a route is "METHOD /path" -> function ARN; a permission is one statement per
route in the function's resource policy, Sid stackery-<api id>-<hash of the route>, scoped to the API's
ARN and that route; the stage's deployment description carries a hash of the routes, so a new
deployment is made only when routes or integrations change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api.restapi import RestApiSpec
from ..aws.clients import account_id, client, or_none
from ..core.parts import Context, Seen
from .common import compare, owner_of, short_hash, tag_dict

Ctx = Context[RestApiSpec]
ROUTES_TAG = "stackery routes "


def api_of(ctx: Ctx) -> dict[str, Any] | None:
    got: dict[str, Any] | None = ctx.seen["api"].actual if "api" in ctx.seen else None
    return got


def api_id(ctx: Ctx) -> str:
    api = api_of(ctx)
    assert api is not None, "the api part comes first"
    return str(api["id"])


def function_arn(ctx: Ctx, name: str) -> str | None:
    node = ctx.req.nodes.get(("StackeryFunction", name))
    return str(node["arn"]) if node and node.get("arn") else None


def wanted_routes(ctx: Ctx) -> dict[str, str]:
    """ "METHOD /path" -> function ARN for every route whose function is known (all of them while syncing)."""
    out = {}
    for r in ctx.req.spec.routes:
        arn = function_arn(ctx, r.function)
        if arn:
            out[f"{r.method} {r.path}"] = arn
    return out


PREFLIGHT = "OPTIONS"
HEADER = "method.response.header.Access-Control-"


def wanted_preflight(ctx: Ctx) -> dict[str, dict[str, str]]:
    """path -> the preflight's response headers, for every routed path without its own OPTIONS/ANY route."""
    cors = ctx.req.spec.cors
    if cors is None:
        return {}
    by_path: dict[str, set[str]] = {}
    for r in ctx.req.spec.routes:
        by_path.setdefault(r.path, set()).add(r.method)
    out = {}
    for path, methods in sorted(by_path.items()):
        if methods & {"OPTIONS", "ANY"}:
            continue
        headers = {
            HEADER + "Allow-Origin": f"'{cors.allow_origin}'",
            HEADER + "Allow-Methods": f"'{','.join(sorted(methods | {'OPTIONS'}))}'",
            HEADER + "Allow-Headers": f"'{','.join(cors.allow_headers)}'",
        }
        if cors.max_age_seconds is not None:
            headers[HEADER + "Max-Age"] = f"'{cors.max_age_seconds}'"
        out[path] = headers
    return out


def routes_hash(routes: Mapping[str, str], preflight: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """What a deployment serves: routes and preflight responses (a change of either needs a new one)."""
    items = [f"{k}={v}" for k, v in sorted(routes.items())]
    items += [f"{p}:{sorted(h.items())}" for p, h in sorted((preflight or {}).items())]
    return short_hash(*items, length=16)


def integration_uri(region: str, fn_arn: str) -> str:
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{fn_arn}/invocations"


# ------------------------------------------------------------------ the API
class ApiPart:
    """The REST API itself (regional), tagged; primary part."""

    name = "api"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def _find(self, ctx: Ctx) -> dict[str, Any] | None:
        ag = client("apigateway", ctx.req.region)
        known = ctx.req.status.get("apiId")
        if known:
            got = or_none(lambda: ag.get_rest_api(restApiId=known), "NotFoundException")
            return dict(got) if got else None
        kwargs: dict[str, Any] = {"limit": 500}
        while True:  # crash safety: the id never reached status; the tags say which API is ours
            page = ag.get_rest_apis(**kwargs)
            for api in page.get("items", []):
                if (api.get("tags") or {}).get("stackery.io/uid") == ctx.req.ref.uid:
                    return dict(api)
            if not page.get("position"):
                return None
            kwargs["position"] = page["position"]

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        api = self._find(ctx)
        if api is None:
            return Seen(exists=False)
        return self._seen(ctx, api)

    def _seen(self, ctx: Ctx, api: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        tags = dict(api.get("tags") or {})
        uid, owner = owner_of(tags)
        region = ctx.req.region
        return Seen(
            exists=True,
            actual=dict(api),
            owner_uid=uid,
            owner=owner,
            diffs=(
                *compare("tags", ctx.req.tags(), tags),
                *compare("description", ctx.req.spec.description, api.get("description") or ""),
            ),
            identifiers={
                "apiId": api["id"],
                "arn": f"arn:aws:apigateway:{region}::/restapis/{api['id']}",
                "externalName": api.get("name"),
                "region": region,
            },
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        ag = client("apigateway", ctx.req.region)
        tags = ctx.req.tags()
        if not seen.exists:
            api = ag.create_rest_api(
                name=ctx.req.external_name,
                description=ctx.req.spec.description,
                endpointConfiguration={"types": ["REGIONAL"]},
                tags=tags,
            )
            return self._seen(ctx, {**api, "tags": tags})
        api = dict(seen.actual or {})
        fields = {d.field.split(".")[0] for d in seen.diffs}
        arn = seen.identifiers["arn"]
        if "tags" in fields:
            ag.tag_resource(resourceArn=arn, tags=tags)
            extra = sorted(set(api.get("tags") or {}) - set(tags))
            if extra:
                ag.untag_resource(resourceArn=arn, tagKeys=extra)
        if "description" in fields:
            ag.update_rest_api(
                restApiId=api["id"],
                patchOperations=[{"op": "replace", "path": "/description", "value": ctx.req.spec.description}],
            )
        return self._seen(ctx, {**api, "tags": tags, "description": ctx.req.spec.description})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        or_none(lambda: client("apigateway", ctx.req.region).delete_rest_api(restApiId=api_id(ctx)), "NotFoundException")
        return None


# ------------------------------------------------------------------ routes
@dataclass(frozen=True)
class Routes:
    have: dict[str, str]
    """"METHOD /path" -> function ARN found."""
    preflight: dict[str, dict[str, str]]
    """path -> response headers of the CORS preflight (OPTIONS with a MOCK integration) found there."""
    resources: dict[str, str]
    """path -> resource id."""
    methods: dict[str, set[str]]
    """path -> methods on it."""


class RoutesPart:
    """Resources, methods and AWS_PROXY integrations: exactly the spec's routes."""

    name = "routes"
    after: tuple[str, ...] = ("api",)

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[Routes]:
        if api_of(ctx) is None:
            return Seen(exists=False)
        items = client("apigateway", ctx.req.region).get_resources(restApiId=api_id(ctx), embed=["methods"], limit=500)
        have: dict[str, str] = {}
        resources: dict[str, str] = {}
        methods: dict[str, set[str]] = {}
        preflight: dict[str, dict[str, str]] = {}
        for res in items.get("items", []):
            resources[res["path"]] = res["id"]
            for method, m in (res.get("resourceMethods") or {}).items():
                methods.setdefault(res["path"], set()).add(method)
                integration = m.get("methodIntegration") or {}
                if method == PREFLIGHT and integration.get("type") == "MOCK":
                    answer = (integration.get("integrationResponses") or {}).get("200") or {}
                    preflight[res["path"]] = dict(answer.get("responseParameters") or {})
                    continue
                uri = integration.get("uri", "")
                arn = uri.split("/functions/", 1)[1].rsplit("/invocations", 1)[0] if "/functions/" in uri else uri
                have[f"{method} {res['path']}"] = arn
        want = wanted_routes(ctx)
        return Seen(
            exists=bool(have),
            actual=Routes(have, preflight, resources, methods),
            owner_uid=ctx.req.ref.uid,  # inside our API
            diffs=(*compare("routes", want, have), *compare("cors", wanted_preflight(ctx), preflight)),
            identifiers={"routeCount": len(have)},
        )

    def ensure(self, ctx: Ctx, seen: Seen[Routes]) -> Seen[Routes]:
        ag, aid, region = client("apigateway", ctx.req.region), api_id(ctx), ctx.req.region
        state = seen.actual or Routes({}, {}, {}, {})
        resources, methods = dict(state.resources), {k: set(v) for k, v in state.methods.items()}
        if "/" not in resources:
            root = ag.get_resources(restApiId=aid, limit=500)["items"]
            resources.update({r["path"]: r["id"] for r in root})
        want = wanted_routes(ctx)
        for key, arn in sorted(want.items()):
            if state.have.get(key) == arn:
                continue
            method, path = key.split(" ", 1)
            rid = self._resource(ag, aid, resources, path)
            if method not in methods.get(path, set()):
                ag.put_method(restApiId=aid, resourceId=rid, httpMethod=method, authorizationType="NONE")
                methods.setdefault(path, set()).add(method)
            ag.put_integration(
                restApiId=aid,
                resourceId=rid,
                httpMethod=method,
                type="AWS_PROXY",
                integrationHttpMethod="POST",
                uri=integration_uri(region, arn),
            )
        for key in sorted(set(state.have) - set(want)):
            method, path = key.split(" ", 1)
            ag.delete_method(restApiId=aid, resourceId=resources[path], httpMethod=method)
            methods[path].discard(method)
        preflight = wanted_preflight(ctx)
        for path, headers in preflight.items():
            if state.preflight.get(path) != headers:
                self._preflight(ag, aid, resources, methods, path, headers, replace=path in state.preflight)
        for path in sorted(set(state.preflight) - set(preflight)):
            ag.delete_method(restApiId=aid, resourceId=resources[path], httpMethod=PREFLIGHT)
            methods[path].discard(PREFLIGHT)
        # resources left with no method and no child go too (deepest first); the root stays
        for path in sorted(resources, key=len, reverse=True):
            if path != "/" and not methods.get(path) and not any(p.startswith(path + "/") for p in resources):
                ag.delete_resource(restApiId=aid, resourceId=resources.pop(path))
        return Seen(
            exists=bool(want),
            actual=Routes(dict(want), preflight, resources, methods),
            owner_uid=ctx.req.ref.uid,
            identifiers={"routeCount": len(want)},
        )

    def _preflight(
        self,
        ag: Any,
        aid: str,
        resources: dict[str, str],
        methods: dict[str, set[str]],
        path: str,
        headers: dict[str, str],
        *,
        replace: bool,
    ) -> None:
        """OPTIONS answered by API Gateway itself (MOCK) with the CORS headers; replaced whole when changed."""
        rid = self._resource(ag, aid, resources, path)
        if replace:
            ag.delete_method(restApiId=aid, resourceId=rid, httpMethod=PREFLIGHT)
        ag.put_method(restApiId=aid, resourceId=rid, httpMethod=PREFLIGHT, authorizationType="NONE")
        ag.put_integration(
            restApiId=aid,
            resourceId=rid,
            httpMethod=PREFLIGHT,
            type="MOCK",
            requestTemplates={"application/json": '{"statusCode": 200}'},
        )
        ag.put_method_response(
            restApiId=aid,
            resourceId=rid,
            httpMethod=PREFLIGHT,
            statusCode="200",
            responseParameters=dict.fromkeys(headers, False),
        )
        ag.put_integration_response(
            restApiId=aid, resourceId=rid, httpMethod=PREFLIGHT, statusCode="200", responseParameters=headers
        )
        methods.setdefault(path, set()).add(PREFLIGHT)

    @staticmethod
    def _resource(ag: Any, aid: str, resources: dict[str, str], path: str) -> str:
        """The resource id of `path`, creating missing segments from the nearest existing parent."""
        if path in resources:
            return resources[path]
        parent, _, part = path.rpartition("/")
        parent_id = RoutesPart._resource(ag, aid, resources, parent or "/")
        made = ag.create_resource(restApiId=aid, parentId=parent_id, pathPart=part)
        resources[path] = made["id"]
        return str(made["id"])

    def delete(self, ctx: Ctx, seen: Seen[Routes]) -> str | None:
        """Every resource, deepest first (moto does not cascade to children), and the root's methods; the
        API goes next."""
        ag, aid = client("apigateway", ctx.req.region), api_id(ctx)
        state = seen.actual or Routes({}, {}, {}, {})
        for path in sorted(state.resources, key=len, reverse=True):
            if path != "/":
                ag.delete_resource(restApiId=aid, resourceId=state.resources[path])
        for method in sorted(state.methods.get("/", set())):
            ag.delete_method(restApiId=aid, resourceId=state.resources["/"], httpMethod=method)
        return None


# ------------------------------------------------------------------ Lambda permissions
def statement_id(aid: str, key: str) -> str:
    return f"stackery-{aid}-{short_hash(key)}"


def source_arn(ctx: Ctx, aid: str, key: str) -> str:
    method, path = key.split(" ", 1)
    return f"arn:aws:execute-api:{ctx.req.region}:{account_id(ctx.req.region)}:{aid}/*/{'*' if method == 'ANY' else method}{path}"


@dataclass(frozen=True)
class Grants:
    have: dict[str, tuple[str, str]]
    """Sid -> (function ARN, SourceArn) of this API's statements."""


class PermissionsPart:
    """One lambda:InvokeFunction statement per route, in the routed function's resource policy."""

    name = "permissions"
    after: tuple[str, ...] = ("routes",)

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[Grants]:
        if api_of(ctx) is None:
            return Seen(exists=False)
        aid = api_id(ctx)
        lam = client("lambda", ctx.req.region)
        functions = set(wanted_routes(ctx).values()) | set(ctx.req.status.get("grantedFunctions") or [])
        have: dict[str, tuple[str, str]] = {}
        for fn in sorted(functions):
            got = or_none(lambda fn=fn: lam.get_policy(FunctionName=fn), "ResourceNotFoundException")  # type: ignore[misc]
            for st in json.loads(got["Policy"])["Statement"] if got else []:
                if str(st.get("Sid", "")).startswith(f"stackery-{aid}-"):
                    src = ((st.get("Condition") or {}).get("ArnLike") or {}).get("AWS:SourceArn", "")
                    have[st["Sid"]] = (fn, src)
        want = self._want(ctx, aid)
        return Seen(
            exists=bool(have),
            actual=Grants(have),
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(compare("permissions", sorted(want), sorted(have))),
            identifiers={"grantedFunctions": sorted({fn for fn, _ in have.values()})},
        )

    def _want(self, ctx: Ctx, aid: str) -> dict[str, tuple[str, str]]:
        return {statement_id(aid, k): (fn, source_arn(ctx, aid, k)) for k, fn in wanted_routes(ctx).items()}

    def ensure(self, ctx: Ctx, seen: Seen[Grants]) -> Seen[Grants]:
        aid, lam = api_id(ctx), client("lambda", ctx.req.region)
        have = dict(seen.actual.have) if seen.actual else {}
        want = self._want(ctx, aid)
        for sid, (fn, _) in sorted(have.items()):
            if want.get(sid) != have[sid]:
                self._remove(lam, fn, sid)
        for sid, (fn, src) in sorted(want.items()):
            if have.get(sid) != (fn, src):
                lam.add_permission(
                    FunctionName=fn,
                    StatementId=sid,
                    Action="lambda:InvokeFunction",
                    Principal="apigateway.amazonaws.com",
                    SourceArn=src,
                )
        return Seen(
            exists=bool(want),
            actual=Grants(want),
            owner_uid=ctx.req.ref.uid,
            identifiers={"grantedFunctions": sorted({fn for fn, _ in want.values()})},
        )

    @staticmethod
    def _remove(lam: Any, fn: str, sid: str) -> None:
        or_none(lambda: lam.remove_permission(FunctionName=fn, StatementId=sid), "ResourceNotFoundException")

    def delete(self, ctx: Ctx, seen: Seen[Grants]) -> str | None:
        lam = client("lambda", ctx.req.region)
        for sid, (fn, _) in sorted((seen.actual.have if seen.actual else {}).items()):
            self._remove(lam, fn, sid)
        return None


# ------------------------------------------------------------------ access log group
def log_group_name(ctx: Ctx) -> str:
    return f"/aws/apigateway/{ctx.req.external_name}"


class LogGroupPart:
    """The CloudWatch Logs group the stage writes access logs to (owned, tagged, with a retention)."""

    name = "logGroup"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return ctx.req.spec.access_logs

    def observe(self, ctx: Ctx) -> Seen[str]:
        if not self.wanted(ctx) and not ctx.req.status.get("logGroup"):
            return Seen(exists=False)  # never had one: no read (one recorded is read so it is removed)
        logs, name = client("logs", ctx.req.region), log_group_name(ctx)
        found = [g for g in logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", []) if g["logGroupName"] == name]
        if not found:
            return Seen(exists=False)
        tags = logs.list_tags_log_group(logGroupName=name).get("tags", {})
        uid, owner = owner_of(tags)
        arn = str(found[0]["arn"]).removesuffix(":*")
        return Seen(
            exists=True,
            actual=arn,
            owner_uid=uid,
            owner=owner,
            diffs=tuple(
                compare("accessLogRetentionDays", ctx.req.spec.access_log_retention_days, found[0].get("retentionInDays"))
            ),
            identifiers={"logGroup": name},
        )

    def ensure(self, ctx: Ctx, seen: Seen[str]) -> Seen[str]:
        logs, name = client("logs", ctx.req.region), log_group_name(ctx)
        if not seen.exists:
            or_none(lambda: logs.create_log_group(logGroupName=name, tags=ctx.req.tags()), "ResourceAlreadyExistsException")
        logs.put_retention_policy(logGroupName=name, retentionInDays=ctx.req.spec.access_log_retention_days)
        arn = seen.actual or f"arn:aws:logs:{ctx.req.region}:{account_id(ctx.req.region)}:log-group:{name}"
        return Seen(exists=True, actual=arn, owner_uid=ctx.req.ref.uid, identifiers={"logGroup": name})

    def delete(self, ctx: Ctx, seen: Seen[str]) -> str | None:
        or_none(
            lambda: client("logs", ctx.req.region).delete_log_group(logGroupName=log_group_name(ctx)), "ResourceNotFoundException"
        )
        return None


def tags_of(raw: Any) -> dict[str, str]:
    return tag_dict(raw) if isinstance(raw, list) else dict(raw or {})
