"""Rest Api: nine parts — certificate (regional, shared part), access log group, the REST API, its routes,
the Lambda permissions, the stage (+ deployment), the custom domain, its base-path mapping and optional
Route 53 records — composed by core.parts.

Creation order: certificate and log group, API, routes, permissions, stage (a deployment only when the
routes' hash changes), then domain (after the certificate is issued), mapping, records. Deletion runs
in reverse, each part confirmed gone before the next: records, mapping, domain, stage, permissions,
routes (with the API), API, log group, certificate.

Read budget of one drift check: GetRestApi, GetResources (methods embedded), one GetPolicy per routed
function, GetStage + GetDeployment, DescribeLogGroups + ListTagsLogGroup (access logs), and with a
domain DescribeCertificate, GetDomainName, GetBasePathMappings (+1 ListResourceRecordSets with route53).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api.restapi import RestApiSpec
from ..aws.clients import client, error_code, or_none
from ..core.adapter import NodeRef, ObjectRef, Reference
from ..core.parts import Composite, Context, Seen
from ..core.wiring import Access, GrantContext, Statement, Wiring
from ..policy import Claim
from .apigateway import (
    ROUTES_TAG,
    ApiPart,
    LogGroupPart,
    PermissionsPart,
    RoutesPart,
    api_id,
    api_of,
    routes_hash,
    tags_of,
    wanted_preflight,
    wanted_routes,
)
from .certificate import CertificatePart, CertSettings, CertState
from .common import compare, dns_name, owner_of
from .dns import DnsRecordsPart

Ctx = Context[RestApiSpec]
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",'
    '"httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status",'
    '"responseLength":"$context.responseLength","integrationError":"$context.integrationErrorMessage"}'
)


def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    return [
        {"Action": ["execute-api:Invoke"], "Resource": [f"arn:aws:execute-api:{ctx.region}:{ctx.account}:{status['apiId']}/*"]}
    ]


WIRING = Wiring(env=(("API_URL", "url"), ("API_ID", "apiId")), grants=grants)


def cert_settings(ctx: Ctx) -> CertSettings:
    d = ctx.req.spec.domain
    return CertSettings(
        domains=(d.name,) if d else (),
        region=ctx.req.region,
        byo_arn=d.certificate_arn if d else None,
        required_region=ctx.req.region,
        validation=d.certificate.validation if d and d.certificate else "DNS",
        validation_domain=d.certificate.validation_domain if d and d.certificate else None,
        hosted_zone_id=d.route53.hosted_zone_id if d and d.route53 else None,
    )


CERTIFICATE: CertificatePart[RestApiSpec] = CertificatePart(cert_settings)


def issued_arn(ctx: Ctx) -> str | None:
    state: CertState | None = ctx.of(CERTIFICATE).actual
    cert = state.cert if state else None
    return str(cert["CertificateArn"]) if cert and cert["Status"] == "ISSUED" else None


def domain_name(ctx: Ctx) -> str | None:
    """The spec's domain, or (after it was removed from the spec) the one recorded, so it is cleaned up."""
    d = ctx.req.spec.domain
    return d.name if d else ctx.req.status.get("primaryDomain")


# ------------------------------------------------------------------ stage
@dataclass(frozen=True)
class Stage:
    stage: dict[str, Any]
    routes_hash: str


class StagePart:
    name = "stage"
    after: tuple[str, ...] = ("routes", "permissions", "logGroup")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[Stage]:
        if api_of(ctx) is None:
            return Seen(exists=False)
        ag, aid, name = client("apigateway", ctx.req.region), api_id(ctx), ctx.req.spec.stage_name
        stage = or_none(lambda: ag.get_stage(restApiId=aid, stageName=name), "NotFoundException")
        if stage is None:
            return Seen(exists=False)
        dep = or_none(lambda: ag.get_deployment(restApiId=aid, deploymentId=stage["deploymentId"]), "NotFoundException")
        have_hash = str((dep or {}).get("description") or "").removeprefix(ROUTES_TAG)
        return self._seen(ctx, dict(stage), have_hash)

    def _want(self, ctx: Ctx) -> dict[str, Any]:
        spec = ctx.req.spec
        lg = ctx.seen.get("logGroup")
        return {
            "deployment": routes_hash(wanted_routes(ctx), wanted_preflight(ctx)),
            "throttling": {"rateLimit": float(spec.throttling.rate_limit), "burstLimit": spec.throttling.burst_limit}
            if spec.throttling
            else None,
            "accessLogs": lg.actual if spec.access_logs and lg is not None and lg.exists else None,
        }

    def _seen(self, ctx: Ctx, stage: Mapping[str, Any], have_hash: str) -> Seen[Stage]:
        want = self._want(ctx)
        settings = (stage.get("methodSettings") or {}).get("*/*") or {}
        have_throttle = (
            {"rateLimit": float(settings.get("throttlingRateLimit", 0)), "burstLimit": settings.get("throttlingBurstLimit")}
            if settings
            else None
        )
        diffs = [
            *compare("deployment", want["deployment"], have_hash),
            *compare("tags", ctx.req.tags(), tags_of(stage.get("tags"))),
        ]
        if want["throttling"] is not None:  # unset: the stage's throttling is not managed
            diffs += compare("throttling", want["throttling"], have_throttle)
        diffs += compare("accessLogs", want["accessLogs"], (stage.get("accessLogSettings") or {}).get("destinationArn"))
        aid, region, name = api_id(ctx), ctx.req.region, ctx.req.spec.stage_name
        url = f"https://{aid}.execute-api.{region}.amazonaws.com/{name}"
        return Seen(
            exists=True,
            actual=Stage(dict(stage), have_hash),
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={"stageName": name, "deploymentId": stage.get("deploymentId"), "url": url},
            outputs={"API_URL": url, "API_ID": aid},
        )

    def ensure(self, ctx: Ctx, seen: Seen[Stage]) -> Seen[Stage]:
        ag, aid, name = client("apigateway", ctx.req.region), api_id(ctx), ctx.req.spec.stage_name
        want = self._want(ctx)
        fields = {d.field for d in seen.diffs}
        stage = dict(seen.actual.stage) if seen.actual else {}
        if not seen.exists or "deployment" in fields:
            dep = ag.create_deployment(restApiId=aid, description=ROUTES_TAG + want["deployment"])
            if not seen.exists:
                stage = ag.create_stage(restApiId=aid, stageName=name, deploymentId=dep["id"], tags=ctx.req.tags())
            else:
                old = stage.get("deploymentId")
                stage = ag.update_stage(
                    restApiId=aid,
                    stageName=name,
                    patchOperations=[{"op": "replace", "path": "/deploymentId", "value": dep["id"]}],
                )
                if old:  # the stage no longer serves it: no deployment piles up per change
                    try:
                        ag.delete_deployment(restApiId=aid, deploymentId=old)
                    except Exception as exc:
                        if error_code(exc) not in ("NotFoundException", "BadRequestException"):
                            raise
        ops: list[dict[str, str]] = []
        if want["throttling"] is not None and (not seen.exists or "throttling" in fields):
            ops += [
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(want["throttling"]["rateLimit"])},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(want["throttling"]["burstLimit"])},
            ]
        if want["accessLogs"] and (not seen.exists or "accessLogs" in fields):
            ops += [
                {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": want["accessLogs"]},
                {"op": "replace", "path": "/accessLogSettings/format", "value": ACCESS_LOG_FORMAT},
            ]
        elif not want["accessLogs"] and "accessLogs" in fields:
            ops.append({"op": "remove", "path": "/accessLogSettings"})
        if ops:
            stage = ag.update_stage(restApiId=aid, stageName=name, patchOperations=ops)
        if seen.exists and "tags" in fields:
            arn = f"arn:aws:apigateway:{ctx.req.region}::/restapis/{aid}/stages/{name}"
            ag.tag_resource(resourceArn=arn, tags=ctx.req.tags())
        return self._seen(ctx, {**stage, "tags": ctx.req.tags()}, want["deployment"])

    def delete(self, ctx: Ctx, seen: Seen[Stage]) -> str | None:
        or_none(
            lambda: client("apigateway", ctx.req.region).delete_stage(restApiId=api_id(ctx), stageName=ctx.req.spec.stage_name),
            "NotFoundException",
        )
        return None


# ------------------------------------------------------------------ custom domain
class DomainPart:
    """The API Gateway custom domain name (regional, TLS 1.2) on the issued certificate."""

    name = "domain"
    after: tuple[str, ...] = ("certificate",)

    def wanted(self, ctx: Ctx) -> bool:
        return ctx.req.spec.domain is not None

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        name = domain_name(ctx)
        if not name:
            return Seen(exists=False)
        got = or_none(lambda: client("apigateway", ctx.req.region).get_domain_name(domainName=name), "NotFoundException")
        return Seen(exists=False) if got is None else self._seen(ctx, dict(got))

    def _seen(self, ctx: Ctx, dom: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        tags = tags_of(dom.get("tags"))
        uid, owner = owner_of(tags)
        cert = issued_arn(ctx)
        diffs = compare("domain.certificate", cert, dom.get("regionalCertificateArn")) if cert else []
        target = dom.get("regionalDomainName")
        route53 = ctx.req.spec.domain.route53 if ctx.req.spec.domain else None
        return Seen(
            exists=True,
            actual=dict(dom),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "domainTarget": target,
                "domainHostedZoneId": dom.get("regionalHostedZoneId"),
                "dnsRecords": [] if route53 else [{"name": dom["domainName"], "type": "CNAME", "value": target}],
            },
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        ag, name, cert = client("apigateway", ctx.req.region), domain_name(ctx), issued_arn(ctx)
        assert name and cert, "the certificate part is issued before the domain is made"
        if not seen.exists:
            dom = ag.create_domain_name(
                domainName=name,
                regionalCertificateArn=cert,
                endpointConfiguration={"types": ["REGIONAL"]},
                securityPolicy="TLS_1_2",
                tags=ctx.req.tags(),
            )
            return self._seen(ctx, {**dom, "tags": ctx.req.tags()})
        old = (seen.actual or {}).get("regionalCertificateArn")
        dom = ag.update_domain_name(
            domainName=name, patchOperations=[{"op": "replace", "path": "/regionalCertificateArn", "value": cert}]
        )
        CERTIFICATE.retire(ctx, keep=cert, also=(old,))
        return self._seen(ctx, {**dom, "tags": tags_of((seen.actual or {}).get("tags"))})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        or_none(
            lambda: client("apigateway", ctx.req.region).delete_domain_name(domainName=str(domain_name(ctx))), "NotFoundException"
        )
        return None


class MappingPart:
    """The base-path mapping from the custom domain to this API's stage."""

    name = "mapping"
    after: tuple[str, ...] = ("domain", "stage")

    def wanted(self, ctx: Ctx) -> bool:
        return ctx.req.spec.domain is not None

    def _want(self, ctx: Ctx) -> dict[str, str]:
        d = ctx.req.spec.domain
        return {"basePath": (d.base_path if d else "") or "(none)", "stage": ctx.req.spec.stage_name}

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        name = domain_name(ctx)
        if not name or api_of(ctx) is None or not ctx.of(DOMAIN).exists:
            return Seen(exists=False)
        try:
            items = client("apigateway", ctx.req.region).get_base_path_mappings(domainName=name).get("items", [])
        except Exception as exc:
            # moto cannot list the mappings of a domain that never had one (KeyError in process, HTTP 500 in
            # server mode; AWS answers an empty list). Reading it as "none" is safe: the create that follows
            # treats ConflictException (it was there after all) as done.
            if not (isinstance(exc, KeyError) or error_code(exc) in ("500", "InternalFailure", "InternalServerError")):
                raise
            items = []
        ours = next((m for m in items if m.get("restApiId") == api_id(ctx)), None)
        if ours is None:
            return Seen(exists=False)
        have = {"basePath": ours.get("basePath") or "(none)", "stage": ours.get("stage")}
        return Seen(
            exists=True,
            actual=dict(ours),
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(compare("mapping", self._want(ctx), have)),
            identifiers={"mappingBasePath": have["basePath"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        if seen.exists:
            self.delete(ctx, seen)
        want = self._want(ctx)
        kwargs: dict[str, Any] = {"domainName": domain_name(ctx), "restApiId": api_id(ctx), "stage": want["stage"]}
        if want["basePath"] != "(none)":
            kwargs["basePath"] = want["basePath"]
        try:
            made = dict(client("apigateway", ctx.req.region).create_base_path_mapping(**kwargs))
        except Exception as exc:
            if error_code(exc) != "ConflictException":  # made by a pass whose status write was lost
                raise
            made = {"basePath": want["basePath"], "restApiId": api_id(ctx), "stage": want["stage"]}
        return Seen(exists=True, actual=made, owner_uid=ctx.req.ref.uid, identifiers={"mappingBasePath": want["basePath"]})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        try:
            client("apigateway", ctx.req.region).delete_base_path_mapping(
                domainName=str(domain_name(ctx)), basePath=(seen.actual or {}).get("basePath") or "(none)"
            )
        except Exception as exc:
            if error_code(exc) != "NotFoundException":
                raise
        return None


DOMAIN = DomainPart()


def _records(ctx: Ctx) -> list[dict[str, str]]:
    dom = ctx.of(DOMAIN).actual
    name = domain_name(ctx)
    return [{"name": name, "type": "A", "value": str(dom["regionalDomainName"])}] if dom and name else []


def _zone(ctx: Ctx) -> str | None:
    d = ctx.req.spec.domain
    return d.route53.hosted_zone_id if d and d.route53 else None


def _alias_zone(ctx: Ctx) -> str:
    dom = ctx.of(DOMAIN).actual or {}
    return str(dom.get("regionalHostedZoneId") or "")


class RestApiAdapter(Composite[RestApiSpec]):
    def __init__(self) -> None:
        records = DnsRecordsPart(_records, _zone, after=("domain",), alias_zone=_alias_zone)
        parts: list[Any] = [
            CERTIFICATE,
            LogGroupPart(),
            ApiPart(),
            RoutesPart(),
            PermissionsPart(),
            StagePart(),
            DOMAIN,
            MappingPart(),
            records,
        ]
        super().__init__(parts, primary="api")

    def external_name(self, ref: ObjectRef, spec: RestApiSpec) -> str:
        return dns_name("stackery", ref, max_len=128)  # the API's name (ids are AWS-assigned)

    def references(self, spec: RestApiSpec) -> list[Reference]:
        return [NodeRef("StackeryFunction", r.function, role=f"{r.method} {r.path}") for r in spec.routes]

    def claims(self, spec: RestApiSpec) -> list[Claim]:
        d = spec.domain
        if d is None:
            return []
        claims = [Claim("domain", "spec.domain.name", d.name)]
        if d.certificate_arn:
            claims.append(Claim("certificate", "spec.domain.certificateArn", d.certificate_arn))
        if d.route53 is not None:
            claims.append(Claim("hostedZone", "spec.domain.route53.hostedZoneId", d.route53.hosted_zone_id))
        return claims
