"""StackeryRestApi: an API Gateway REST API (regional) whose routes invoke StackeryFunctions.

Stackery's Rest Api node: routes with Lambda proxy integrations, one stage, and an optional custom
domain whose certificate request is tracked while the customer approves it. REST (v1) APIs are used:
they carry every feature here and can be tested end to end (see docs/restapi.md).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from .cdn import DOMAIN_PATTERN, Certificate, DnsRecord, Route53
from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]
SEGMENT = r"([A-Za-z0-9._~-]+|\{[A-Za-z0-9._-]+\})"
PATH_PATTERN = rf"^/$|^(/{SEGMENT})*(/\{{[A-Za-z0-9._-]+\+\}})?$"


class Route(Model):
    """One route: method + path -> a StackeryFunction (Lambda proxy integration)."""

    method: Method = Field(description="HTTP method, or ANY.")
    path: str = Field(
        min_length=1,
        max_length=512,
        pattern=PATH_PATTERN,
        description="Resource path: /, /items, /items/{id}; a greedy /{proxy+} only as the last segment.",
    )
    function: str = Field(pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryFunction (this namespace) to invoke.")


class Throttling(Model):
    """Stage-wide throttling."""

    rate_limit: float = Field(ge=0, le=10000, description="Steady-state requests per second.")
    burst_limit: int = Field(ge=0, le=5000, description="Burst requests.")


class Cors(Model):
    """CORS preflight: an OPTIONS method (MOCK integration) on every routed path without an OPTIONS/ANY
    route of its own. The functions add Access-Control-Allow-Origin to their own (proxy) responses."""

    allow_origin: str = Field(
        max_length=256,
        pattern=r"^(\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)$",
        description="Access-Control-Allow-Origin: * or one origin (for several, answer from the function).",
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: ["Content-Type", "Authorization"],
        max_length=50,
        description="Access-Control-Allow-Headers.",
        json_schema_extra={"items": {"type": "string", "pattern": "^[A-Za-z0-9-]+$", "maxLength": 128}},
    )
    max_age_seconds: int | None = Field(default=None, ge=0, le=86400, description="Access-Control-Max-Age.")


class Domain(Model):
    """A custom domain: a regional certificate, an API Gateway domain name and a base-path mapping."""

    name: str = Field(pattern=DOMAIN_PATTERN, max_length=253, description="The domain, e.g. api.example.com.")
    base_path: str = Field(
        default="", max_length=128, pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$", description="Base path ('' = root)."
    )
    certificate: Certificate | None = Field(default=None, description="Certificate validation (default DNS).")
    certificate_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[a-f0-9-]+$",
        description="Bring your own ACM certificate (in the API's region).",
    )
    route53: Route53 | None = Field(default=None, description="Create validation and alias records in this zone.")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {"rule": "!(has(self.certificate) && has(self.certificateArn))", "message": "set certificate or certificateArn, not both"}
    ]

    @model_validator(mode="after")
    def _one_cert(self) -> Domain:
        if self.certificate is not None and self.certificate_arn is not None:
            raise ValueError("set certificate or certificateArn, not both")
        return self


class RestApiSpec(CommonSpec):
    """Desired state of the API."""

    routes: list[Route] = Field(
        min_length=1,
        max_length=100,
        description="Routes; each method + path once.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["method", "path"]},
    )
    stage_name: str = Field(default="prod", pattern=r"^[a-zA-Z0-9_]{1,128}$", description="Stage name. Immutable.")
    throttling: Throttling | None = Field(default=None, description="Stage-wide throttling (default: account limits).")
    access_logs: bool = Field(default=False, description="Access logs (JSON) to a log group this object owns.")
    access_log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 180, 365] = Field(
        default=30, description="Retention of the access log group."
    )
    description: str = Field(default="", max_length=1024, description="API description.")
    cors: Cors | None = Field(default=None, description="CORS preflight responses (default: none).")
    domain: Domain | None = Field(default=None, description="Optional custom domain.")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "!has(oldSelf.stageName) || self.stageName == oldSelf.stageName",
            "message": "stageName is immutable: create a new StackeryRestApi for another stage",
        },
    ]

    @model_validator(mode="after")
    def _unique_routes(self) -> RestApiSpec:
        keys = [(r.method, r.path) for r in self.routes]
        if len(set(keys)) != len(keys):
            raise ValueError("each method + path may appear once in routes")
        return self


class RestApiStatus(CommonStatus):
    """Observed state of the API."""

    api_id: str | None = Field(default=None, description="REST API id.")
    url: str | None = Field(default=None, description="Invoke URL of the stage (API_URL).")
    stage_name: str | None = Field(default=None, description="Stage in use.")
    deployment_id: str | None = Field(default=None, description="Deployment the stage serves.")
    route_count: int | None = Field(default=None, description="Routes in place.")
    granted_functions: list[str] | None = Field(default=None, description="Functions this API may invoke (permissions held).")
    log_group: str | None = Field(default=None, description="Access log group.")
    certificate_arn: str | None = Field(default=None, description="Certificate in use or being validated.")
    validation_records: list[DnsRecord] | None = Field(default=None, description="DNS records ACM needs for validation.")
    validation_emails: list[str] | None = Field(default=None, description="Addresses the approval mail went to (EMAIL).")
    primary_domain: str | None = Field(default=None, description="Custom domain when the certificate was last looked up.")
    mapping_base_path: str | None = Field(default=None, description="Base path mapped on the custom domain.")
    domain_target: str | None = Field(default=None, description="Point a CNAME or alias for the custom domain here.")
    domain_hosted_zone_id: str | None = Field(default=None, description="Hosted zone of domainTarget (for an alias record).")
    hosted_zone_id: str | None = Field(default=None, description="Route 53 zone holding the records the operator made.")
    dns_records: list[DnsRecord] | None = Field(default=None, description="Records you still have to create.")
