"""The certificate part: an ACM certificate for a node's custom domains, shared by every kind with one.

Why: the CDN needs one in us-east-1; the Rest Api and the Load Balancer need one in their own region.
Requesting it idempotently (token from uid + domains), finding it again after a crash (owner tag),
reporting validation (exact DNS records, or the approval addresses) in the CertificateIssued condition,
switching domains without downtime (the new certificate is requested and validated while the old one
stays in use) and retiring replaced certificates are the same everywhere, so they live here once.

Read budget of one observe: DescribeCertificate (+ ListCertificates and one ListTagsForCertificate per
candidate while the status has no certificate for the spec's domains).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal

from ..aws.clients import client, or_none
from ..core.adapter import SpecT
from ..core.conditions import Cond
from ..core.parts import Context, Seen
from ..errors import InvalidSpecError, TerminalError
from .common import tag_dict, tag_list
from .dns import upsert_records

CONDITION = "CertificateIssued"
EMAIL_LOCALS = ("admin", "administrator", "hostmaster", "postmaster", "webmaster")
FAILED = {"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"}
Certificate = dict[str, Any]


@dataclass(frozen=True)
class CertSettings:
    """What a kind's spec says about its certificate."""

    domains: tuple[str, ...]
    region: str
    byo_arn: str | None = None
    validation: Literal["DNS", "EMAIL"] = "DNS"
    validation_domain: str | None = None
    hosted_zone_id: str | None = None
    """Route 53 zone where the operator writes the validation records itself."""
    required_region: str | None = None
    """Region a bring-your-own certificate must be in (us-east-1 for CloudFront)."""


@dataclass(frozen=True)
class CertState:
    cert: Certificate | None
    """The certificate for the spec's domains (issued or not)."""
    current: Certificate | None
    """The one the status recorded last pass (differs while domains change)."""


def token(uid: str, domains: list[str]) -> str:
    return hashlib.sha256(f"{uid}|{'|'.join(domains)}".encode()).hexdigest()[:32]


def validation_records(cert: Mapping[str, Any]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for dvo in cert.get("DomainValidationOptions", []):
        rr = dvo.get("ResourceRecord")
        if dvo.get("ValidationMethod", "DNS") == "DNS" and rr:
            seen[rr["Name"]] = {"name": rr["Name"], "type": rr["Type"], "value": rr["Value"]}
    return list(seen.values())


def validation_emails(cs: CertSettings, cert: Mapping[str, Any]) -> list[str]:
    emails = sorted({e for dvo in cert.get("DomainValidationOptions", []) for e in dvo.get("ValidationEmails", [])})
    if emails:
        return emails
    domain = cs.validation_domain or cs.domains[0].removeprefix("*.")
    return [f"{local}@{domain}" for local in EMAIL_LOCALS]


class CertificatePart(Generic[SpecT]):
    """Part "certificate". `settings` reads the kind's spec; nothing else is kind-specific."""

    name = "certificate"
    after: tuple[str, ...] = ()

    def __init__(self, settings: Callable[[Context[SpecT]], CertSettings]) -> None:
        self.settings = settings

    def wanted(self, ctx: Context[SpecT]) -> bool:
        return bool(self.settings(ctx).domains)

    # ---------------------------------------------------------------- reads
    def _describe(self, cs: CertSettings, arn: str) -> Certificate | None:
        got = or_none(lambda: client("acm", cs.region).describe_certificate(CertificateArn=arn), "ResourceNotFoundException")
        return None if got is None else dict(got["Certificate"])

    def owned(self, ctx: Context[SpecT], *, also: tuple[str | None, ...] = ()) -> list[dict[str, Any]]:
        """Certificates tagged with this object's uid among the candidates: those for the spec's or the last
        recorded primary domain, or named in status/`also` (ListCertificates + their tags)."""
        cs, status = self.settings(ctx), ctx.req.status
        acm = client("acm", cs.region)
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        wanted = set(cs.domains) | {status.get("primaryDomain") or ""}
        arns = {status.get("certificateArn"), *also} - {None}
        while True:
            page = acm.list_certificates(**kwargs)
            for c in page.get("CertificateSummaryList", []):
                if c.get("DomainName") not in wanted and c["CertificateArn"] not in arns:
                    continue
                tags = tag_dict(acm.list_tags_for_certificate(CertificateArn=c["CertificateArn"]).get("Tags"))
                if tags.get("stackery.io/uid") == ctx.req.ref.uid:
                    out.append(c)
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]

    def byo_problem(self, cs: CertSettings) -> str | None:
        if cs.byo_arn and cs.required_region and cs.byo_arn.split(":")[3] != cs.required_region:
            return (
                f"certificateArn is in {cs.byo_arn.split(':')[3]}; this node only uses certificates in "
                f"{cs.required_region}. Request or import the certificate in {cs.required_region} and use that ARN."
            )
        return None

    def _find(self, ctx: Context[SpecT], cs: CertSettings) -> CertState:
        if cs.byo_arn:
            cert = None if self.byo_problem(cs) else self._describe(cs, cs.byo_arn)
            return CertState(cert, cert)
        status = ctx.req.status
        current = self._describe(cs, status["certificateArn"]) if status.get("certificateArn") else None
        want = sorted(cs.domains)
        if current is not None and sorted(current.get("SubjectAlternativeNames") or [current["DomainName"]]) == want:
            return CertState(current, current)
        for c in self.owned(ctx):  # crash safety / domain change: find ours before requesting
            full = self._describe(cs, c["CertificateArn"])
            if (
                full
                and sorted(full.get("SubjectAlternativeNames") or [full["DomainName"]]) == want
                and full["Status"] not in FAILED
            ):
                return CertState(full, current)
        return CertState(None, current)

    def observe(self, ctx: Context[SpecT]) -> Seen[CertState]:
        cs = self.settings(ctx)
        if not cs.domains:
            return Seen(exists=False)
        state = self._find(ctx, cs)
        return self._seen(ctx, cs, state)

    def _seen(self, ctx: Context[SpecT], cs: CertSettings, state: CertState) -> Seen[CertState]:
        """Condition, identifiers and waiting message for what was found (pure)."""
        ids: dict[str, Any] = {"primaryDomain": cs.domains[0]}
        cert = state.cert
        problem = self.byo_problem(cs)
        if problem is not None:
            return Seen(
                exists=False, actual=state, identifiers=ids, conditions=(Cond(CONDITION, "False", "WrongRegion", problem),)
            )
        if cert is None:
            msg = (
                f"certificateArn {cs.byo_arn} does not exist"
                if cs.byo_arn
                else f"a certificate for {', '.join(cs.domains)} will be requested in {cs.region}"
            )
            return Seen(
                exists=False,
                actual=state,
                identifiers=ids,
                conditions=(Cond(CONDITION, "False", "NotFound" if cs.byo_arn else "Requesting", msg),),
            )
        ids["certificateArn"] = cert["CertificateArn"]
        requested = cert.get("CreatedAt") or cert.get("ImportedAt")
        since = requested.timestamp() if requested is not None else None
        owner = ctx.req.ref.uid  # requested with our tags and token, or named by the spec (bring your own)
        external = bool(cs.byo_arn)
        if cert["Status"] == "ISSUED":
            cond = Cond(CONDITION, "True", "Issued", f"certificate {cert['CertificateArn']} issued", since=since)
            return Seen(exists=True, actual=state, owner_uid=owner, identifiers=ids, conditions=(cond,), external=external)
        if cert["Status"] in FAILED:
            raise TerminalError(
                f"certificate {cert['CertificateArn']} is {cert['Status']}: {cert.get('FailureReason', 'no reason given')}. "
                "Fix the validation (records or approval) and change spec.domains, or delete and re-create.",
                reason="CertificateFailed",
            )
        if cs.validation == "EMAIL":
            emails = validation_emails(cs, cert)
            ids["validationEmails"] = emails
            msg = f"approve the certificate in the email ACM sent to {', '.join(emails)} (and the domain's WHOIS contacts)"
        else:
            records = validation_records(cert)
            ids["validationRecords"] = records
            todo = "; ".join(f"{r['name']} {r['type']} {r['value']}" for r in records) or "records not published by ACM yet"
            how = "the operator is creating it in Route 53" if cs.hosted_zone_id else "create this DNS record"
            msg = f"{how}: {todo}"
        if cs.byo_arn:
            msg = f"certificate {cs.byo_arn} is {cert['Status']}"
        cond = Cond(CONDITION, "False", "PendingValidation", msg, since=since)
        return Seen(
            exists=True,
            actual=state,
            owner_uid=owner,
            identifiers=ids,
            conditions=(cond,),
            waiting=msg,
            waiting_reason="PendingValidation",
            external=external,
        )

    # ---------------------------------------------------------------- writes
    def ensure(self, ctx: Context[SpecT], seen: Seen[CertState]) -> Seen[CertState]:
        cs = self.settings(ctx)
        problem = self.byo_problem(cs)
        if problem is not None:
            raise InvalidSpecError(problem)
        state = seen.actual or CertState(None, None)
        if cs.byo_arn:
            if state.cert is None:
                raise InvalidSpecError(f"certificateArn {cs.byo_arn} does not exist")
            return seen
        cert = state.cert
        if cert is None:
            cert = self._request(ctx, cs)
        if cert["Status"] != "ISSUED" and cs.hosted_zone_id and cs.validation == "DNS":
            upsert_records(
                cs.hosted_zone_id,
                validation_records(cert),
                f"stackery {ctx.req.ref.namespace}/{ctx.req.ref.name} certificate validation",
            )
        return self._seen(ctx, cs, CertState(cert, state.current))

    def _request(self, ctx: Context[SpecT], cs: CertSettings) -> Certificate:
        acm = client("acm", cs.region)
        kwargs: dict[str, Any] = {
            "DomainName": cs.domains[0],
            "ValidationMethod": cs.validation,
            "IdempotencyToken": token(ctx.req.ref.uid, sorted(cs.domains)),
            "Tags": tag_list(ctx.req.tags()),
        }
        if len(cs.domains) > 1:
            kwargs["SubjectAlternativeNames"] = list(cs.domains)
        if cs.validation == "EMAIL":
            vd = cs.validation_domain or cs.domains[0].removeprefix("*.")
            kwargs["DomainValidationOptions"] = [{"DomainName": d, "ValidationDomain": vd} for d in cs.domains]
        arn = acm.request_certificate(**kwargs)["CertificateArn"]
        cert = self._describe(cs, arn)  # validation records / addresses are only in the description
        assert cert is not None
        return cert

    def retire(self, ctx: Context[SpecT], *, keep: str | None, also: tuple[str | None, ...] = ()) -> None:
        """Delete this object's certificates other than `keep` (never a bring-your-own one)."""
        cs = self.settings(ctx)
        if cs.byo_arn:
            return
        acm = client("acm", cs.region)
        for c in self.owned(ctx, also=also):
            if c["CertificateArn"] == keep:
                continue
            or_none(partial(acm.delete_certificate, CertificateArn=c["CertificateArn"]), "ResourceNotFoundException")

    def delete(self, ctx: Context[SpecT], seen: Seen[CertState]) -> str | None:
        self.retire(ctx, keep=None, also=(seen.actual.cert["CertificateArn"] if seen.actual and seen.actual.cert else None,))
        return None
