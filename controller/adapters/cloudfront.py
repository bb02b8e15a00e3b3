"""CloudFront pieces of the CDN: the distribution config we want, the part of it we compare, the
bucket-policy statement that lets one distribution read its origin, and the origin access control part.

Why: kept apart from the CDN's composition (cdn.py) so the desired-state rules can be read and tested
without the rest, and the origin access control can serve any kind that fronts a bucket with CloudFront.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic

from ..api.cdn import CDNSpec
from ..aws.clients import client, or_none
from ..core.adapter import ObjectRef, SpecT
from ..core.parts import Context, Seen

CF_REGION = "us-east-1"  # CloudFront and its certificates live in us-east-1, whatever the stack region
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"  # the hosted zone id of every *.cloudfront.net alias target


def statement_sid(uid: str) -> str:
    return "StackeryCDN" + uid.replace("-", "")[:16]


def comment(ref: ObjectRef) -> str:
    return f"stackery {ref.namespace}/{ref.name} {ref.uid}"[:128]


def origin_domain(bucket: str, region: str) -> str:
    return f"{bucket}.s3.{region}.amazonaws.com"


def bucket_statement(bucket: str, distribution_arn: str, uid: str) -> dict[str, Any]:
    return {
        "Sid": statement_sid(uid),
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


def distribution_config(
    spec: CDNSpec, *, ref: ObjectRef, bucket: str, bucket_region: str, cert_arn: str | None, oac_id: str, aliases: list[str]
) -> dict[str, Any]:
    origin_id = "objectstore"
    cfg: dict[str, Any] = {
        "CallerReference": f"stackery-{ref.uid}",
        "Comment": comment(ref),
        "Enabled": True,
        "DefaultRootObject": spec.default_root_object,
        "PriceClass": spec.price_class,
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
        "Aliases": {"Quantity": len(aliases), "Items": aliases} if aliases else {"Quantity": 0},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": origin_id,
                    "DomainName": origin_domain(bucket, bucket_region),
                    "OriginAccessControlId": oac_id,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": origin_id,
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": spec.cache_policy_id,
            "Compress": True,
        },
        "ViewerCertificate": (
            {"ACMCertificateArn": cert_arn, "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"}
            if cert_arn
            else {"CloudFrontDefaultCertificate": True}
        ),
    }
    if spec.spa_fallback:
        cfg["CustomErrorResponses"] = {
            "Quantity": 2,
            "Items": [
                {"ErrorCode": code, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 10}
                for code in (403, 404)
            ],
        }
    else:
        cfg["CustomErrorResponses"] = {"Quantity": 0}
    return cfg


def summarize(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The settings we manage, normalised. OriginAccessControlId is left out on purpose: moto does not
    return it, so comparing it would report drift forever."""
    origins = (cfg.get("Origins") or {}).get("Items") or [{}]
    vc = cfg.get("ViewerCertificate") or {}
    errors = (cfg.get("CustomErrorResponses") or {}).get("Items") or []
    beh = cfg.get("DefaultCacheBehavior") or {}
    return {
        "enabled": bool(cfg.get("Enabled")),
        "aliases": sorted((cfg.get("Aliases") or {}).get("Items") or []),
        "certificate": vc.get("ACMCertificateArn") or None,
        "origin": origins[0].get("DomainName"),
        "priceClass": cfg.get("PriceClass"),
        "defaultRootObject": cfg.get("DefaultRootObject") or "",
        "cachePolicyId": beh.get("CachePolicyId"),
        "viewerProtocolPolicy": beh.get("ViewerProtocolPolicy"),
        "errorResponses": sorted((int(e["ErrorCode"]), e.get("ResponsePagePath"), str(e.get("ResponseCode"))) for e in errors),
    }


class OriginAccessPart(Generic[SpecT]):
    """The origin access control CloudFront signs bucket requests with (deterministic name, id in status)."""

    name = "originAccess"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Context[SpecT]) -> bool:
        return True

    def observe(self, ctx: Context[SpecT]) -> Seen[str]:
        cf = client("cloudfront", CF_REGION)
        oid = ctx.req.status.get("originAccessControlId")
        found: Mapping[str, Any] | None = None
        if oid:
            got = or_none(lambda: cf.get_origin_access_control(Id=oid), "NoSuchOriginAccessControl")
            found = (got or {}).get("OriginAccessControl", {}).get("OriginAccessControlConfig")
            if found is not None:
                found = {**found, "Id": oid}
        else:
            items = cf.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", []) or []
            found = next((o for o in items if o["Name"] == ctx.req.external_name), None)
        if found is None:
            return Seen(exists=False)
        ours = ctx.req.ref.uid in str(found.get("Description") or "")
        return Seen(
            exists=True,
            actual=str(found["Id"]),
            owner_uid=ctx.req.ref.uid if ours else None,
            identifiers={"originAccessControlId": found["Id"]},
        )

    def ensure(self, ctx: Context[SpecT], seen: Seen[str]) -> Seen[str]:
        if seen.exists:
            return seen
        ref = ctx.req.ref
        made = client("cloudfront", CF_REGION).create_origin_access_control(
            OriginAccessControlConfig={
                "Name": ctx.req.external_name,
                "Description": f"stackery {ref.namespace}/{ref.name} {ref.uid}"[:256],
                "SigningProtocol": "sigv4",
                "SigningBehavior": "always",
                "OriginAccessControlOriginType": "s3",
            }
        )["OriginAccessControl"]
        return Seen(exists=True, actual=str(made["Id"]), owner_uid=ref.uid, identifiers={"originAccessControlId": made["Id"]})

    def delete(self, ctx: Context[SpecT], seen: Seen[str]) -> str | None:
        cf = client("cloudfront", CF_REGION)
        got = or_none(lambda: cf.get_origin_access_control(Id=seen.actual), "NoSuchOriginAccessControl")
        if got is not None:
            cf.delete_origin_access_control(Id=seen.actual, IfMatch=got["ETag"])
        return None
