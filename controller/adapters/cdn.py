"""CDN adapter: ACM certificate (always us-east-1), Origin Access Control, a statement in the origin
bucket's policy, and the CloudFront distribution; optional Route 53 records.

Progress is reported as node-specific conditions: CertificateIssued (with the exact DNS record or
approval addresses while pending) and DistributionDeployed. Ready needs both.

Read budget of one drift check (observe), custom domain: DescribeCertificate, GetDistribution,
ListTagsForResource, GetBucketPolicy = 4 (+1 ListResourceRecordSets with route53; +ListCertificates
and one ListTagsForCertificate per candidate while the status has no certificate for the domains).
Without a domain: 3.

moto caveat handled here: GetDistribution does not return an origin's OriginAccessControlId (nor
S3OriginConfig), so they are left out of the comparison (see summarize) instead of flapping as drift.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from .. import metrics
from ..api.cdn import CDNSpec
from ..aws.clients import client, error_code, or_none
from ..core.adapter import DeleteResult, Diff, NodeRef, ObjectRef, Observation, Reference, Request
from ..core.conditions import Cond
from ..errors import InvalidSpecError, TerminalError, WaitingError
from .common import (
    compare,
    dns_name,
    foreign,
    owner_of,
    read_bucket_policy,
    replace_statements,
    tag_dict,
    tag_list,
    write_bucket_policy,
)

Req = Request[CDNSpec]
ACM_REGION = "us-east-1"  # CloudFront only uses certificates from us-east-1, whatever the stack region
CF_REGION = "us-east-1"
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"  # the hosted zone id of every *.cloudfront.net alias target
EMAIL_LOCALS = ("admin", "administrator", "hostmaster", "postmaster", "webmaster")
FAILED = {"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"}


# ------------------------------------------------------------------ pure helpers
def cert_token(uid: str, domains: list[str]) -> str:
    return hashlib.sha256(f"{uid}|{'|'.join(domains)}".encode()).hexdigest()[:32]


def statement_sid(uid: str) -> str:
    return "StackeryCDN" + uid.replace("-", "")[:16]


def comment(ref: ObjectRef) -> str:
    return f"stackery {ref.namespace}/{ref.name} {ref.uid}"[:128]


def origin_domain(bucket: str, region: str) -> str:
    return f"{bucket}.s3.{region}.amazonaws.com"


def bucket_statement(bucket: str, distribution_arn: str, uid: str) -> dict[str, Any]:
    return {"Sid": statement_sid(uid), "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}}


def distribution_config(spec: CDNSpec, *, ref: ObjectRef, bucket: str, bucket_region: str,
                        cert_arn: str | None, oac_id: str, aliases: list[str]) -> dict[str, Any]:
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
        "Origins": {"Quantity": 1, "Items": [{
            "Id": origin_id, "DomainName": origin_domain(bucket, bucket_region),
            "OriginAccessControlId": oac_id, "S3OriginConfig": {"OriginAccessIdentity": ""},
        }]},
        "DefaultCacheBehavior": {
            "TargetOriginId": origin_id, "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": spec.cache_policy_id, "Compress": True,
        },
        "ViewerCertificate": (
            {"ACMCertificateArn": cert_arn, "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"}
            if cert_arn else {"CloudFrontDefaultCertificate": True}
        ),
    }
    if spec.spa_fallback:
        cfg["CustomErrorResponses"] = {"Quantity": 2, "Items": [
            {"ErrorCode": code, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 10}
            for code in (403, 404)]}
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


def validation_records(cert: Mapping[str, Any]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for dvo in cert.get("DomainValidationOptions", []):
        rr = dvo.get("ResourceRecord")
        if dvo.get("ValidationMethod", "DNS") == "DNS" and rr:
            seen[rr["Name"]] = {"name": rr["Name"], "type": rr["Type"], "value": rr["Value"]}
    return list(seen.values())


def validation_emails(spec: CDNSpec, cert: Mapping[str, Any]) -> list[str]:
    emails = sorted({e for dvo in cert.get("DomainValidationOptions", []) for e in dvo.get("ValidationEmails", [])})
    if emails:
        return emails
    domain = (spec.certificate.validation_domain if spec.certificate else None) or spec.domains[0].removeprefix("*.")
    return [f"{local}@{domain}" for local in EMAIL_LOCALS]


# ------------------------------------------------------------------ adapter
class CDNAdapter:
    def external_name(self, ref: ObjectRef, spec: CDNSpec) -> str:
        return dns_name("stackery", ref, max_len=64)  # the Origin Access Control's name

    def references(self, spec: CDNSpec) -> list[Reference]:
        return [NodeRef("StackeryObjectStore", spec.object_store)]

    # ---------------------------------------------------------------- certificate
    def _owned_certificates(self, req: Req, *, also: tuple[str | None, ...] = ()) -> list[dict[str, Any]]:
        """Certificates tagged with this object's uid, among the candidates: those for the spec's or the
        last recorded primary domain, or named in `also` (read: ListCertificates + their tags)."""
        acm = client("acm", ACM_REGION)
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        wanted = set(req.spec.domains) | {req.status.get("primaryDomain") or ""}
        arns = {req.status.get("certificateArn"), *also} - {None}
        while True:
            page = acm.list_certificates(**kwargs)
            for c in page.get("CertificateSummaryList", []):
                if c.get("DomainName") not in wanted and c["CertificateArn"] not in arns:
                    continue
                tags = tag_dict(acm.list_tags_for_certificate(CertificateArn=c["CertificateArn"]).get("Tags"))
                if tags.get("stackery.io/uid") == req.ref.uid:
                    out.append(c)
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]

    def _describe(self, arn: str) -> dict[str, Any] | None:
        got = or_none(lambda: client("acm", ACM_REGION).describe_certificate(CertificateArn=arn), "ResourceNotFoundException")
        return None if got is None else dict(got["Certificate"])

    def _certificate(self, req: Req) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(certificate for the spec's domains, issued or not; the one currently in status). Read-only."""
        spec = req.spec
        if spec.certificate_arn:
            if self._byo_problem(spec) is not None:
                return None, None  # reported by _cert_condition; create/update refuse (Stalled)
            cert = self._describe(spec.certificate_arn)
            return cert, cert
        if not spec.domains:
            return None, None
        current = self._describe(req.status["certificateArn"]) if req.status.get("certificateArn") else None
        want = sorted(spec.domains)
        if current is not None and sorted(current.get("SubjectAlternativeNames") or [current["DomainName"]]) == want:
            return current, current
        for c in self._owned_certificates(req):  # crash safety / domain change: find ours before requesting
            full = self._describe(c["CertificateArn"])
            if full and sorted(full.get("SubjectAlternativeNames") or [full["DomainName"]]) == want and full["Status"] not in FAILED:
                return full, current
        return None, current

    @staticmethod
    def _byo_problem(spec: CDNSpec) -> str | None:
        if spec.certificate_arn and spec.certificate_arn.split(":")[3] != ACM_REGION:
            return (f"certificateArn is in {spec.certificate_arn.split(':')[3]}; CloudFront only uses certificates in "
                    "us-east-1. Request or import the certificate in us-east-1 and use that ARN.")
        return None

    def _cert_condition(self, req: Req, cert: dict[str, Any] | None) -> tuple[Cond | None, dict[str, Any]]:
        spec = req.spec
        ids: dict[str, Any] = {}
        if not spec.domains:
            return None, ids
        problem = self._byo_problem(spec)
        if problem is not None:
            return Cond("CertificateIssued", "False", "WrongRegion", problem), ids
        if cert is None and spec.certificate_arn:
            return Cond("CertificateIssued", "False", "NotFound", f"certificateArn {spec.certificate_arn} does not exist"), ids
        if cert is None:
            return Cond("CertificateIssued", "False", "Requesting", f"a certificate for {', '.join(spec.domains)} will be requested in us-east-1"), ids
        ids["certificateArn"] = cert["CertificateArn"]
        status = cert["Status"]
        requested = cert.get("CreatedAt") or cert.get("ImportedAt")
        key = (req.ref.namespace, req.ref.kind, req.ref.name)
        if status == "ISSUED":
            was_pending = any(c.get("type") == "CertificateIssued" and c.get("status") == "False"
                              for c in req.status.get("conditions") or [])
            if was_pending and requested is not None:  # observed once, on the transition to Issued
                metrics.CERTIFICATE_ISSUE_SECONDS.labels(req.ref.kind).observe(time.time() - requested.timestamp())
            metrics.CERTIFICATE_PENDING.labels(*key).set(0)
            return Cond("CertificateIssued", "True", "Issued", f"certificate {cert['CertificateArn']} issued"), ids
        if status in FAILED:
            raise TerminalError(f"certificate {cert['CertificateArn']} is {status}: {cert.get('FailureReason', 'no reason given')}. "
                                "Fix the validation (records or approval) and change spec.domains, or delete and re-create.",
                                reason="CertificateFailed")
        if requested is not None:
            metrics.CERTIFICATE_PENDING.labels(*key).set(max(time.time() - requested.timestamp(), 1))
        if (spec.certificate and spec.certificate.validation == "EMAIL"):
            emails = validation_emails(spec, cert)
            ids["validationEmails"] = emails
            return Cond("CertificateIssued", "False", "PendingValidation",
                        f"approve the certificate in the email ACM sent to {', '.join(emails)} (and the domain's WHOIS contacts)"), ids
        records = validation_records(cert)
        ids["validationRecords"] = records
        todo = "; ".join(f"{r['name']} {r['type']} {r['value']}" for r in records) or "records not published by ACM yet"
        how = "the operator is creating it in Route 53" if spec.route53 else "create this DNS record"
        return Cond("CertificateIssued", "False", "PendingValidation", f"{how}: {todo}"), ids

    # ---------------------------------------------------------------- distribution
    def _distribution(self, req: Req) -> tuple[dict[str, Any] | None, str | None]:
        cf = client("cloudfront", CF_REGION)
        dist_id = req.status.get("distributionId")
        if not dist_id:
            dist_id = self._find_distribution(req)
        if not dist_id:
            return None, None
        got = or_none(lambda: cf.get_distribution(Id=dist_id), "NoSuchDistribution")
        if got is None:
            return None, None
        return got["Distribution"], got.get("ETag")

    def _find_distribution(self, req: Req) -> str | None:
        cf = client("cloudfront", CF_REGION)
        kwargs: dict[str, Any] = {}
        while True:
            page = cf.list_distributions(**kwargs).get("DistributionList", {})
            for d in page.get("Items", []) or []:
                if d.get("Comment") == comment(req.ref):
                    return str(d["Id"])
            if not page.get("IsTruncated"):
                return None
            kwargs["Marker"] = page["NextMarker"]

    def _oac(self, req: Req) -> str | None:
        cf = client("cloudfront", CF_REGION)
        items = cf.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", []) or []
        return next((o["Id"] for o in items if o["Name"] == req.external_name), None)

    def _origin(self, req: Req) -> tuple[str | None, str]:
        store = req.nodes.get(("StackeryObjectStore", req.spec.object_store))
        if store is not None:
            return str(store["externalName"]), str(store.get("region") or req.region)
        return req.status.get("bucketName"), str(req.status.get("bucketRegion") or req.region)

    def _records(self, req: Req, dist_domain: str | None, cert: dict[str, Any] | None) -> list[dict[str, str]]:
        """Records the domains need: validation CNAMEs (while pending) and the domains pointing at the
        distribution — CNAMEs for a person to create, or Route 53 alias A/AAAA records (valid at a zone
        apex too) when the operator manages the zone."""
        out = [r for r in (validation_records(cert) if cert and cert["Status"] != "ISSUED" else [])]
        if dist_domain:
            kinds = ("A", "AAAA") if req.spec.route53 else ("CNAME",)
            out += [{"name": d, "type": t, "value": dist_domain} for d in req.spec.domains for t in kinds]
        return out

    def observe(self, req: Req) -> Observation:
        spec = req.spec
        cert, current = self._certificate(req)
        cert_cond, ids = self._cert_condition(req, cert)
        bucket, bucket_region = self._origin(req)
        ids.update({"bucketName": bucket, "bucketRegion": bucket_region, "primaryDomain": spec.domains[0] if spec.domains else None})
        conds = [cert_cond] if cert_cond else []
        dist, etag = self._distribution(req)
        if dist is None:
            # cheapest first: a certificate _certificate() already found settles it without more calls
            owns_certs = bool(spec.domains and not spec.certificate_arn)
            residual = bool((owns_certs and (cert or current)) or self._oac(req) or
                            (bucket and statement_sid(req.ref.uid) in json.dumps(read_bucket_policy(bucket, bucket_region) or {})) or
                            (owns_certs and self._owned_certificates(req)))
            conds.append(Cond("DistributionDeployed", "False", "NotCreated",
                              "waiting for the certificate" if cert_cond and cert_cond.status != "True" else "creating the distribution"))
            return Observation(exists=False, residual=residual, identifiers=ids, conditions=tuple(conds),
                               state={"cert": cert, "current": current})
        cf = client("cloudfront", CF_REGION)
        tags = tag_dict(cf.list_tags_for_resource(Resource=dist["ARN"]).get("Tags", {}).get("Items"))
        other = foreign(req, tags)
        if other is not None:
            return other
        uid, owner = owner_of(tags)
        cfg = dist["DistributionConfig"]
        in_use = (cfg.get("ViewerCertificate") or {}).get("ACMCertificateArn")
        # while a new certificate waits for validation, the distribution keeps the one it has
        use_cert = cert["CertificateArn"] if cert and cert["Status"] == "ISSUED" else in_use
        aliases = spec.domains if (cert and cert["Status"] == "ISSUED") or not spec.domains else sorted((cfg.get("Aliases") or {}).get("Items") or [])
        want = summarize(distribution_config(spec, ref=req.ref, bucket=bucket or "", bucket_region=bucket_region,
                                             cert_arn=use_cert if spec.domains else None, oac_id="", aliases=list(aliases)))
        have = summarize(cfg)
        diffs: list[Diff] = [*compare("tags", req.tags(), tags)]
        for key in want:
            diffs += compare(f"distribution.{key}", want[key], have[key])
        if spec.domains and not spec.certificate_arn and (cert is None or cert["CertificateArn"] != in_use):
            diffs.append(Diff("certificate", ",".join(spec.domains), (current or {}).get("DomainName")))
        policy = read_bucket_policy(bucket, bucket_region) if bucket else None
        ours = next((s for s in (policy or {}).get("Statement", []) if s.get("Sid") == statement_sid(req.ref.uid)), None)
        diffs += compare("bucketPolicy", bucket_statement(bucket or "", dist["ARN"], req.ref.uid), ours)
        previous = req.status.get("bucketName")
        if previous and previous != bucket:
            diffs.append(Diff("previousBucketPolicy", None, previous))
        records = self._records(req, dist["DomainName"], cert)
        if spec.route53:
            diffs += compare("dnsRecords", records, self._route53_records(req, records))
        deployed = dist.get("Status") == "Deployed"
        conds.append(Cond("DistributionDeployed", "True" if deployed else "False", "Deployed" if deployed else "InProgress",
                          f"{dist['DomainName']} is {dist.get('Status')}"))
        primary = spec.domains[0] if spec.domains else dist["DomainName"]
        ids.update({"arn": dist["ARN"], "externalName": dist["Id"], "region": CF_REGION, "distributionId": dist["Id"],
                    "distributionDomainName": dist["DomainName"],
                    "dnsRecords": [] if spec.route53 else [r for r in records if r["value"] == dist["DomainName"]]})
        waiting = None
        reason = "DistributionInProgress"
        if cert_cond is not None and cert_cond.status != "True":
            waiting, reason = cert_cond.message, cert_cond.reason
        elif not deployed:
            waiting = f"distribution {dist['Id']} is deploying ({dist.get('Status')})"
        return Observation(
            exists=True, owner_uid=uid, owner=owner, diffs=tuple(diffs), identifiers=ids, conditions=tuple(conds),
            outputs={"CDN_DOMAIN_NAME": dist["DomainName"], "CDN_DISTRIBUTION_ID": dist["Id"], "CDN_URL": f"https://{primary}"},
            state={"dist": dist, "etag": etag, "cert": cert, "current": current, "policy": policy, "records": records,
                   "bucket": bucket, "bucketRegion": bucket_region, "previousBucket": previous,
                   "previousBucketRegion": req.status.get("bucketRegion") or req.region, "certInUse": in_use},
            waiting=waiting, waiting_reason=reason,
        )

    # ---------------------------------------------------------------- writes
    def _request_certificate(self, req: Req) -> dict[str, Any]:
        spec = req.spec
        acm = client("acm", ACM_REGION)
        kwargs: dict[str, Any] = {
            "DomainName": spec.domains[0], "ValidationMethod": spec.certificate.validation if spec.certificate else "DNS",
            "IdempotencyToken": cert_token(req.ref.uid, sorted(spec.domains)), "Tags": tag_list(req.tags()),
        }
        if len(spec.domains) > 1:
            kwargs["SubjectAlternativeNames"] = spec.domains
        if spec.certificate and spec.certificate.validation == "EMAIL":
            vd = spec.certificate.validation_domain or spec.domains[0].removeprefix("*.")
            kwargs["DomainValidationOptions"] = [{"DomainName": d, "ValidationDomain": vd} for d in spec.domains]
        arn = acm.request_certificate(**kwargs)["CertificateArn"]
        cert = self._describe(arn)
        assert cert is not None
        return cert

    def _ensure_issued(self, req: Req, cert: dict[str, Any] | None) -> str | None:
        """ARN of an issued certificate for the domains; requests one and raises WaitingError until issued."""
        spec = req.spec
        if not spec.domains:
            return None
        if spec.certificate_arn:
            problem = self._byo_problem(spec)
            if problem is not None:
                raise InvalidSpecError(problem)
            if cert is None:
                raise InvalidSpecError(f"certificateArn {spec.certificate_arn} does not exist")
            if cert["Status"] != "ISSUED":
                raise WaitingError(f"certificate {spec.certificate_arn} is {cert['Status']}", reason="PendingValidation")
            return spec.certificate_arn
        if cert is None:
            cert = self._request_certificate(req)
        if cert["Status"] != "ISSUED":
            if spec.route53:
                self._upsert_records(req, validation_records(cert))
            cond, _ = self._cert_condition(req, cert)
            raise WaitingError(cond.message if cond else "certificate pending", reason="PendingValidation")
        return str(cert["CertificateArn"])

    def _ensure_oac(self, req: Req) -> str:
        found = self._oac(req)
        if found:
            return found
        cf = client("cloudfront", CF_REGION)
        return str(cf.create_origin_access_control(OriginAccessControlConfig={
            "Name": req.external_name, "Description": f"stackery {req.ref.namespace}/{req.ref.name} {req.ref.uid}"[:256],
            "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3",
        })["OriginAccessControl"]["Id"])

    @staticmethod
    def _put_statement(bucket: str, region: str, statement: dict[str, Any] | None, uid: str) -> None:
        """Replace (or with None remove) only this CDN's statement in the bucket policy."""
        sid = statement_sid(uid)
        write_bucket_policy(bucket, region, replace_statements(read_bucket_policy(bucket, region), lambda s: s == sid,
                                                               [statement] if statement is not None else []))

    def create(self, req: Req) -> None:
        cert, _ = self._certificate(req)
        cert_arn = self._ensure_issued(req, cert)
        oac = self._ensure_oac(req)
        bucket, bucket_region = self._origin(req)
        assert bucket is not None
        cfg = distribution_config(req.spec, ref=req.ref, bucket=bucket, bucket_region=bucket_region, cert_arn=cert_arn,
                                  oac_id=oac, aliases=list(req.spec.domains))
        cf = client("cloudfront", CF_REGION)
        try:
            made = cf.create_distribution_with_tags(DistributionConfigWithTags={
                "DistributionConfig": cfg, "Tags": {"Items": tag_list(req.tags())}})["Distribution"]
            arn = made["ARN"]
        except Exception as exc:
            if error_code(exc) != "DistributionAlreadyExists":
                raise
            dist_id = self._find_distribution(req)
            if dist_id is None:
                raise
            arn = cf.get_distribution(Id=dist_id)["Distribution"]["ARN"]
        self._put_statement(bucket, bucket_region, bucket_statement(bucket, arn, req.ref.uid), req.ref.uid)

    def update(self, req: Req, obs: Observation) -> None:
        st = obs.state
        changed = {d.field for d in obs.diffs}
        cf = client("cloudfront", CF_REGION)
        dist = st["dist"]
        if "tags" in changed:
            cf.tag_resource(Resource=dist["ARN"], Tags={"Items": tag_list(req.tags())})
        if "bucketPolicy" in changed:
            self._put_statement(st["bucket"], st["bucketRegion"], bucket_statement(st["bucket"], dist["ARN"], req.ref.uid), req.ref.uid)
        if "previousBucketPolicy" in changed:
            self._put_statement(st["previousBucket"], str(st["previousBucketRegion"]), None, req.ref.uid)
        if "dnsRecords" in changed:
            self._upsert_records(req, st["records"])
        switching = "certificate" in changed
        if switching or any(f.startswith("distribution.") for f in changed):
            cert_arn = self._ensure_issued(req, st["cert"]) if req.spec.domains else None  # waits while pending
            got = cf.get_distribution_config(Id=dist["Id"])
            desired = distribution_config(req.spec, ref=req.ref, bucket=st["bucket"], bucket_region=st["bucketRegion"],
                                          cert_arn=cert_arn, oac_id=self._ensure_oac(req), aliases=list(req.spec.domains))
            cfg = {**got["DistributionConfig"], **{k: v for k, v in desired.items() if k != "CallerReference"}}
            cf.update_distribution(Id=dist["Id"], IfMatch=got["ETag"], DistributionConfig=cfg)
            if switching:
                self._retire_certificates(req, keep=cert_arn, also=(st["certInUse"],))

    def _retire_certificates(self, req: Req, *, keep: str | None, also: tuple[str | None, ...] = ()) -> None:
        acm = client("acm", ACM_REGION)
        for c in self._owned_certificates(req, also=also):
            if c["CertificateArn"] != keep and not req.spec.certificate_arn:
                try:
                    acm.delete_certificate(CertificateArn=c["CertificateArn"])
                except Exception as exc:
                    if error_code(exc) != "ResourceNotFoundException":
                        raise

    def _route53_records(self, req: Req, wanted: list[dict[str, str]]) -> list[dict[str, str]]:
        """The wanted records as they are in the zone (same shape), in wanted order; missing ones left out."""
        assert req.spec.route53 is not None
        r53 = client("route53", "us-east-1")
        have = r53.list_resource_record_sets(HostedZoneId=req.spec.route53.hosted_zone_id).get("ResourceRecordSets", [])
        index = {(rr["Name"].rstrip(".").lower(), rr["Type"]): rr for rr in have}
        out = []
        for w in wanted:
            rr = index.get((w["name"].rstrip(".").lower(), w["type"]))
            if rr is None:
                continue
            value = (rr.get("AliasTarget") or {}).get("DNSName") or (rr.get("ResourceRecords") or [{}])[0].get("Value", "")
            same = value.rstrip(".").lower() == w["value"].rstrip(".").lower()
            out.append({**w, "value": w["value"] if same else value})
        return out

    def _upsert_records(self, req: Req, records: list[dict[str, str]]) -> None:
        if not req.spec.route53 or not records:
            return
        changes = []
        for r in records:
            rrset: dict[str, Any] = {"Name": r["name"], "Type": r["type"]}
            if r["type"] in ("A", "AAAA"):
                rrset["AliasTarget"] = {"HostedZoneId": CLOUDFRONT_ZONE, "DNSName": r["value"], "EvaluateTargetHealth": False}
            else:
                rrset.update(TTL=300, ResourceRecords=[{"Value": r["value"]}])
            changes.append({"Action": "UPSERT", "ResourceRecordSet": rrset})
        client("route53", "us-east-1").change_resource_record_sets(
            HostedZoneId=req.spec.route53.hosted_zone_id,
            ChangeBatch={"Comment": f"stackery {req.ref.namespace}/{req.ref.name}", "Changes": changes})

    def delete(self, req: Req, obs: Observation) -> DeleteResult:
        """The only safe order: disable, wait until deployed, delete (with its ETag), then the
        certificate, the OAC and our bucket-policy statement."""
        cf = client("cloudfront", CF_REGION)
        dist, etag = self._distribution(req)
        in_use = ((dist or {}).get("DistributionConfig", {}).get("ViewerCertificate") or {}).get("ACMCertificateArn")
        if dist is not None:
            if dist["DistributionConfig"].get("Enabled"):
                got = cf.get_distribution_config(Id=dist["Id"])
                cfg = {**got["DistributionConfig"], "Enabled": False}
                cf.update_distribution(Id=dist["Id"], IfMatch=got["ETag"], DistributionConfig=cfg)
                return DeleteResult(done=False, message=f"disabling distribution {dist['Id']}")
            if dist.get("Status") != "Deployed":
                return DeleteResult(done=False, message=f"waiting for disabled distribution {dist['Id']} to deploy")
            cf.delete_distribution(Id=dist["Id"], IfMatch=etag)
        self._retire_certificates(req, keep=None, also=(in_use,))
        oac = self._oac(req)
        if oac:
            got = cf.get_origin_access_control(Id=oac)
            cf.delete_origin_access_control(Id=oac, IfMatch=got["ETag"])
        bucket, region = self._origin(req)
        if bucket:
            self._put_statement(bucket, region, None, req.ref.uid)
        return DeleteResult(done=True)
