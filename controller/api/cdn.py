"""StackeryCDN: CloudFront in front of one StackeryObjectStore, with an optional custom domain.

Stackery's CDN node: "connect it to an Object Store, tell us what domain to run on, deploy. Your site
admin gets an email to approve the SSL cert; then the CDN is up. The only step remaining is a DNS
record." One object does all of it — certificate (always us-east-1), origin access control, bucket
policy statement, distribution — and its conditions say at every moment what it waits for and what
you have to do.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model

DOMAIN_PATTERN = r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


class Certificate(Model):
    """How ACM validates the certificate it issues for the domains."""

    validation: Literal["DNS", "EMAIL"] = Field(
        default="DNS", description="DNS (create the CNAME shown in status) or EMAIL (approve the mail)."
    )
    validation_domain: str | None = Field(
        default=None,
        pattern=DOMAIN_PATTERN,
        max_length=253,
        description="EMAIL only: the domain whose admin addresses receive the approval mail.",
    )


class Route53(Model):
    """Let the operator create the validation and alias records in a Route 53 hosted zone."""

    hosted_zone_id: str = Field(pattern=r"^[A-Z0-9]{1,32}$", description="Hosted zone id (e.g. Z123ABC).")


class CDNSpec(CommonSpec):
    """Desired state of the CDN."""

    object_store: str = Field(
        pattern=K8S_NAME_PATTERN, max_length=253, description="The StackeryObjectStore to serve (exactly one)."
    )
    domains: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Custom domains; the first is primary, the rest are aliases.",
        json_schema_extra={"x-kubernetes-list-type": "set", "items": {"type": "string", "maxLength": 253}},
    )
    certificate: Certificate | None = Field(default=None, description="Certificate validation (default DNS) for the domains.")
    certificate_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[a-f0-9-]+$",
        description="Bring your own ACM certificate (must be in us-east-1, must cover the domains).",
    )
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = Field(
        default="PriceClass_100", description="Edge locations used."
    )
    default_root_object: str = Field(default="index.html", max_length=255, description="Object served for /.")
    cache_policy_id: str = Field(
        default=CACHING_OPTIMIZED, max_length=64, description="Cache policy (default Managed-CachingOptimized)."
    )
    spa_fallback: bool = Field(default=False, description="Serve /index.html with 200 for 403/404 (single-page apps).")
    route53: Route53 | None = Field(default=None, description="Create validation and alias records automatically.")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "!has(self.domains) || self.domains.all(d, d.matches('^([*][.])?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?[.])+[a-z][a-z0-9-]{0,61}[a-z0-9]$'))",
            "message": "domains must be lowercase DNS names like www.example.com (a leading *. is allowed)",
        },
        {
            "rule": "!(has(self.certificate) && has(self.certificateArn))",
            "message": "set certificate (ACM issues one) or certificateArn (bring your own), not both",
        },
        {
            "rule": "(has(self.domains) && size(self.domains) > 0) || (!has(self.certificate) && !has(self.certificateArn))",
            "message": "certificate and certificateArn need domains",
        },
        {
            "rule": "!has(self.certificate) || !has(self.certificate.validationDomain) || self.certificate.validation == 'EMAIL'",
            "message": "certificate.validationDomain is for EMAIL validation only",
        },
    ]

    @model_validator(mode="after")
    def _consistent(self) -> CDNSpec:
        if self.certificate is not None and self.certificate_arn is not None:
            raise ValueError("set certificate or certificateArn, not both")
        if not self.domains and (self.certificate is not None or self.certificate_arn is not None):
            raise ValueError("certificate and certificateArn need domains")
        return self


class DnsRecord(Model):
    """A DNS record to create."""

    name: str = Field(description="Record name.")
    type: str = Field(description="Record type.")
    value: str = Field(description="Record value.")


class CDNStatus(CommonStatus):
    """Observed state of the CDN."""

    certificate_arn: str | None = Field(default=None, description="Certificate in use or being validated (us-east-1).")
    validation_records: list[DnsRecord] | None = Field(default=None, description="DNS records ACM needs for validation.")
    validation_emails: list[str] | None = Field(default=None, description="Addresses the approval mail went to (EMAIL).")
    distribution_id: str | None = Field(default=None, description="CloudFront distribution id.")
    distribution_domain_name: str | None = Field(default=None, description="dxxxx.cloudfront.net")
    dns_records: list[DnsRecord] | None = Field(default=None, description="Records you still have to create (domain -> CNAME).")
    bucket_name: str | None = Field(default=None, description="Origin bucket.")
    bucket_region: str | None = Field(default=None, description="Region of the origin bucket.")
    primary_domain: str | None = Field(default=None, description="First of spec.domains when the certificate was last looked up.")
    origin_access_control_id: str | None = Field(default=None, description="CloudFront origin access control id.")
    hosted_zone_id: str | None = Field(default=None, description="Route 53 zone holding the records the operator made.")
