"""CDN: five parts — certificate (always us-east-1), origin access control, distribution, this CDN's
statement in the origin bucket's policy, and optional Route 53 records — composed by core.parts.

Creation order: certificate and origin access control, then the distribution (it needs both), then the
bucket statement and DNS records (they name the distribution). Deletion runs in reverse, each part
confirmed gone before the next. While the certificate waits for validation the distribution waits too;
during a domain change the distribution keeps its old certificate until the new one is issued.

Read budget of one drift check, custom domain: DescribeCertificate, GetOriginAccessControl (by the id in
status; ListOriginAccessControls until then), GetDistribution, ListTagsForResource, GetBucketPolicy = 5
(+1 ListResourceRecordSets with route53). The origin access control is read so that its deletion behind
the operator's back is seen (moto's GetDistribution does not echo the OAC id, so it cannot be taken
from the distribution).

moto caveat handled here: GetDistribution does not return an origin's OriginAccessControlId (nor
S3OriginConfig), so they are left out of the comparison (see summarize) instead of flapping as drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api.cdn import CDNSpec
from ..aws.clients import client, error_code, or_none
from ..core.adapter import Diff, NodeRef, ObjectRef, Reference
from ..core.conditions import Cond
from ..core.parts import Composite, Context, Seen
from ..policy import Claim
from .certificate import CertificatePart, CertSettings, CertState, validation_records
from .cloudfront import (
    CF_REGION,
    CLOUDFRONT_ZONE,
    OriginAccessPart,
    bucket_statement,
    comment,
    distribution_config,
    statement_sid,
    summarize,
)
from .common import compare, dns_name, owner_of, read_bucket_policy, replace_statements, tag_dict, tag_list, write_bucket_policy
from .dns import DnsRecordsPart

Ctx = Context[CDNSpec]


def cert_settings(ctx: Ctx) -> CertSettings:
    spec = ctx.req.spec
    cert = spec.certificate
    return CertSettings(
        domains=tuple(spec.domains),
        region=CF_REGION,
        byo_arn=spec.certificate_arn,
        required_region=CF_REGION,
        validation=cert.validation if cert else "DNS",
        validation_domain=cert.validation_domain if cert else None,
        hosted_zone_id=spec.route53.hosted_zone_id if spec.route53 else None,
    )


def origin(ctx: Ctx) -> tuple[str | None, str]:
    """(bucket, region) of the ObjectStore named by the spec, or the last recorded one while it is not Ready."""
    req = ctx.req
    store = req.nodes.get(("StackeryObjectStore", req.spec.object_store))
    if store is not None:
        return str(store["externalName"]), str(store.get("region") or req.region)
    return req.status.get("bucketName"), str(req.status.get("bucketRegion") or req.region)


CERTIFICATE: CertificatePart[CDNSpec] = CertificatePart(cert_settings)


def issued(ctx: Ctx) -> Mapping[str, Any] | None:
    state: CertState | None = ctx.of(CERTIFICATE).actual
    cert = state.cert if state else None
    return cert if cert and cert["Status"] == "ISSUED" else None


def _with_statement(policy: dict[str, Any] | None, statement: dict[str, Any] | None, uid: str) -> dict[str, Any] | None:
    """`policy` with this CDN's statement replaced (or with None removed); everybody else's kept."""
    sid = statement_sid(uid)
    return replace_statements(policy, lambda s: s == sid, [statement] if statement is not None else [])


# ------------------------------------------------------------------ parts
@dataclass(frozen=True)
class Dist:
    dist: dict[str, Any]
    etag: str | None
    cert_in_use: str | None


class DistributionPart:
    """The CloudFront distribution (AWS-assigned id in status; found again by its comment after a crash)."""

    name = "distribution"
    after: tuple[str, ...] = ("certificate", "originAccess")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def _find(self, ctx: Ctx) -> str | None:
        cf = client("cloudfront", CF_REGION)
        kwargs: dict[str, Any] = {}
        while True:
            page = cf.list_distributions(**kwargs).get("DistributionList", {})
            for d in page.get("Items", []) or []:
                if d.get("Comment") == comment(ctx.req.ref):
                    return str(d["Id"])
            if not page.get("IsTruncated"):
                return None
            kwargs["Marker"] = page["NextMarker"]

    def observe(self, ctx: Ctx) -> Seen[Dist]:
        cf = client("cloudfront", CF_REGION)
        dist_id = ctx.req.status.get("distributionId") or self._find(ctx)
        got = or_none(lambda: cf.get_distribution(Id=dist_id), "NoSuchDistribution") if dist_id else None
        if got is None:
            pending = bool(ctx.req.spec.domains) and issued(ctx) is None
            return Seen(
                exists=False,
                conditions=(
                    Cond(
                        DEPLOYED, "False", "NotCreated", "waiting for the certificate" if pending else "creating the distribution"
                    ),
                ),
            )
        dist = got["Distribution"]
        tags = tag_dict(cf.list_tags_for_resource(Resource=dist["ARN"]).get("Tags", {}).get("Items"))
        return self._seen(ctx, dist, got.get("ETag"), tags)

    def _seen(self, ctx: Ctx, dist: dict[str, Any], etag: str | None, tags: Mapping[str, str]) -> Seen[Dist]:
        req, spec = ctx.req, ctx.req.spec
        uid, owner = owner_of(tags)
        if uid is not None and uid != req.ref.uid:
            return Seen(exists=True, owner_uid=uid, owner=owner)
        cfg = dist["DistributionConfig"]
        in_use = (cfg.get("ViewerCertificate") or {}).get("ACMCertificateArn")
        cert = issued(ctx)
        # while a new certificate waits for validation, the distribution keeps the one (and aliases) it has
        use_cert = cert["CertificateArn"] if cert else in_use
        aliases = spec.domains if cert or not spec.domains else sorted((cfg.get("Aliases") or {}).get("Items") or [])
        bucket, bucket_region = origin(ctx)
        want = summarize(
            distribution_config(
                spec,
                ref=req.ref,
                bucket=bucket or "",
                bucket_region=bucket_region,
                cert_arn=use_cert if spec.domains else None,
                oac_id="",
                aliases=list(aliases),
            )
        )
        have = summarize(cfg)
        diffs = compare("tags", req.tags(), tags)
        for key in want:
            diffs += compare(f"distribution.{key}", want[key], have[key])
        deployed = dist.get("Status") == "Deployed"
        primary = spec.domains[0] if spec.domains else dist["DomainName"]
        return Seen(
            exists=True,
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            actual=Dist(dist, etag, in_use),
            identifiers={
                "arn": dist["ARN"],
                "externalName": dist["Id"],
                "region": CF_REGION,
                "distributionId": dist["Id"],
                "distributionDomainName": dist["DomainName"],
                "dnsRecords": []
                if spec.route53
                else [{"name": d, "type": "CNAME", "value": dist["DomainName"]} for d in spec.domains],
            },
            outputs={"CDN_DOMAIN_NAME": dist["DomainName"], "CDN_DISTRIBUTION_ID": dist["Id"], "CDN_URL": f"https://{primary}"},
            conditions=(
                Cond(
                    DEPLOYED,
                    "True" if deployed else "False",
                    "Deployed" if deployed else "InProgress",
                    f"{dist['DomainName']} is {dist.get('Status')}",
                ),
            ),
            waiting=None if deployed else f"distribution {dist['Id']} is deploying ({dist.get('Status')})",
            waiting_reason="DistributionInProgress",
            waiting_blocks=False,  # the bucket statement needs only its ARN
        )

    def _desired(self, ctx: Ctx) -> dict[str, Any]:
        bucket, bucket_region = origin(ctx)
        assert bucket is not None
        cert = issued(ctx)
        oac = ctx.of(OAC).actual
        assert oac is not None
        return distribution_config(
            ctx.req.spec,
            ref=ctx.req.ref,
            bucket=bucket,
            bucket_region=bucket_region,
            cert_arn=str(cert["CertificateArn"]) if cert else None,
            oac_id=oac,
            aliases=list(ctx.req.spec.domains),
        )

    def ensure(self, ctx: Ctx, seen: Seen[Dist]) -> Seen[Dist]:
        cf = client("cloudfront", CF_REGION)
        tags = ctx.req.tags()
        if not seen.exists:
            try:
                made = cf.create_distribution_with_tags(
                    DistributionConfigWithTags={"DistributionConfig": self._desired(ctx), "Tags": {"Items": tag_list(tags)}}
                )
            except Exception as exc:
                if error_code(exc) != "DistributionAlreadyExists":
                    raise
                found = self._find(ctx)
                if found is None:
                    raise
                made = cf.get_distribution(Id=found)
            return self._seen(ctx, made["Distribution"], made.get("ETag"), tags)
        assert seen.actual is not None
        dist, have_tags = seen.actual.dist, {d.field for d in seen.diffs}
        if "tags" in have_tags:
            cf.tag_resource(Resource=dist["ARN"], Tags={"Items": tag_list(tags)})
        if any(f.startswith("distribution.") for f in have_tags):
            # GetDistribution (observe) already returned the whole config and its ETag: no GetDistributionConfig
            desired = self._desired(ctx)
            cfg = {**dist["DistributionConfig"], **{k: v for k, v in desired.items() if k != "CallerReference"}}
            done = cf.update_distribution(Id=dist["Id"], IfMatch=seen.actual.etag, DistributionConfig=cfg)
            new_cert = (desired.get("ViewerCertificate") or {}).get("ACMCertificateArn")
            if new_cert != seen.actual.cert_in_use:  # switched: the replaced certificate goes
                CERTIFICATE.retire(ctx, keep=new_cert, also=(seen.actual.cert_in_use,))
            return self._seen(ctx, done["Distribution"], done.get("ETag"), tags)
        return self._seen(ctx, dist, seen.actual.etag, tags)

    def delete(self, ctx: Ctx, seen: Seen[Dist]) -> str | None:
        """Disable, wait until deployed, then delete with its ETag (the only order CloudFront accepts)."""
        assert seen.actual is not None
        cf, dist = client("cloudfront", CF_REGION), seen.actual.dist
        if dist["DistributionConfig"].get("Enabled"):
            cf.update_distribution(
                Id=dist["Id"], IfMatch=seen.actual.etag, DistributionConfig={**dist["DistributionConfig"], "Enabled": False}
            )
            return f"disabling distribution {dist['Id']}"
        if dist.get("Status") != "Deployed":
            return f"waiting for disabled distribution {dist['Id']} to deploy"
        cf.delete_distribution(Id=dist["Id"], IfMatch=seen.actual.etag)
        return None


@dataclass(frozen=True)
class Statement:
    bucket: str | None
    region: str
    previous: str | None
    previous_region: str
    policy: dict[str, Any] | None = None
    """The origin bucket's whole policy as observe read it (ensure rewrites it without reading again)."""


class BucketStatementPart:
    """This CDN's read grant in the origin bucket's policy (Sid from the uid; other statements untouched)."""

    name = "bucketPolicy"
    after: tuple[str, ...] = ("distribution",)

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[Statement]:
        req = ctx.req
        bucket, region = origin(ctx)
        prev = req.status.get("bucketName")
        policy = read_bucket_policy(bucket, region) if bucket else None
        state = Statement(
            bucket, region, prev if prev and prev != bucket else None, str(req.status.get("bucketRegion") or req.region), policy
        )
        ids = {"bucketName": bucket, "bucketRegion": region}
        ours = next((s for s in (policy or {}).get("Statement", []) if s.get("Sid") == statement_sid(req.ref.uid)), None)
        dist = ctx.of(DISTRIBUTION).actual
        diffs = compare("bucketPolicy", bucket_statement(bucket or "", dist.dist["ARN"], req.ref.uid), ours) if dist else []
        if state.previous:
            diffs.append(Diff("previousBucketPolicy", None, state.previous))
        return Seen(
            exists=ours is not None or state.previous is not None,
            actual=state,
            owner_uid=req.ref.uid,
            diffs=tuple(diffs),
            identifiers=ids,
        )

    def ensure(self, ctx: Ctx, seen: Seen[Statement]) -> Seen[Statement]:
        st, uid, dist = seen.actual, ctx.req.ref.uid, ctx.of(DISTRIBUTION).actual
        assert st is not None and st.bucket is not None and dist is not None
        policy = _with_statement(st.policy, bucket_statement(st.bucket, dist.dist["ARN"], uid), uid)
        write_bucket_policy(st.bucket, st.region, policy)
        if st.previous:  # not read by observe: read here, once
            write_bucket_policy(
                st.previous, st.previous_region, _with_statement(read_bucket_policy(st.previous, st.previous_region), None, uid)
            )
        return Seen(
            exists=True,
            actual=Statement(st.bucket, st.region, None, st.region, policy),
            owner_uid=uid,
            identifiers=seen.identifiers,
        )

    def delete(self, ctx: Ctx, seen: Seen[Statement]) -> str | None:
        st, uid = seen.actual, ctx.req.ref.uid
        assert st is not None
        if st.bucket:
            write_bucket_policy(st.bucket, st.region, _with_statement(st.policy, None, uid))
        if st.previous:
            write_bucket_policy(
                st.previous, st.previous_region, _with_statement(read_bucket_policy(st.previous, st.previous_region), None, uid)
            )
        return None


def _cdn_records(ctx: Ctx) -> list[dict[str, str]]:
    """Validation CNAMEs while the certificate is pending, then alias A/AAAA records from each domain to
    the distribution (valid at a zone apex too)."""
    state: CertState | None = ctx.of(CERTIFICATE).actual
    cert = state.cert if state else None
    out = validation_records(cert) if cert and cert["Status"] != "ISSUED" else []
    dist = ctx.of(DISTRIBUTION).actual
    if dist is not None:
        out += [{"name": d, "type": t, "value": dist.dist["DomainName"]} for d in ctx.req.spec.domains for t in ("A", "AAAA")]
    return out


def _zone(ctx: Ctx) -> str | None:
    return ctx.req.spec.route53.hosted_zone_id if ctx.req.spec.route53 and ctx.req.spec.domains else None


DEPLOYED = "DistributionDeployed"
OAC = OriginAccessPart[CDNSpec]()
DISTRIBUTION = DistributionPart()


class CDNAdapter(Composite[CDNSpec]):
    def __init__(self) -> None:
        records = DnsRecordsPart(_cdn_records, _zone, after=("distribution",), alias_zone=CLOUDFRONT_ZONE)
        super().__init__([CERTIFICATE, OAC, DISTRIBUTION, BucketStatementPart(), records], primary="distribution")

    def external_name(self, ref: ObjectRef, spec: CDNSpec) -> str:
        return dns_name("stackery", ref, max_len=64)  # the origin access control's name

    def references(self, spec: CDNSpec) -> list[Reference]:
        return [NodeRef("StackeryObjectStore", spec.object_store, role="origin")]

    def claims(self, spec: CDNSpec) -> list[Claim]:
        claims = [Claim("domain", f"spec.domains[{i}]", d) for i, d in enumerate(spec.domains)]
        if spec.certificate_arn:
            claims.append(Claim("certificate", "spec.certificateArn", spec.certificate_arn))
        if spec.route53 is not None:
            claims.append(Claim("hostedZone", "spec.route53.hostedZoneId", spec.route53.hosted_zone_id))
        return claims
