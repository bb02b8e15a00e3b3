"""StackeryLoadBalancer: an internet-facing Application Load Balancer in a Virtual Network's public subnets.

Stackery v1: "when you place a Load Balancer in the Virtual Network, the Load Balancer is provisioned
inside a public subnet … then routes traffic to Docker Services running in private subnets of the same
Virtual Network." Routes send a host and/or path to a StackeryDockerService (an ip target group with the
service's health check; the load balancer carries the service's client group, so the service admits
traffic from the load balancer and nobody else) or to a StackeryFunction (a lambda target group and the
invoke permission). With domains, HTTPS uses a certificate from the same certificate part the CDN and the
Rest Api use, and HTTP redirects to HTTPS.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from .bastion import CIDR4
from .cdn import DOMAIN_PATTERN, Certificate, DnsRecord, Route53
from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model

SSL_POLICY_PATTERN = r"^ELBSecurityPolicy-[A-Za-z0-9-]+$"


class Route(Model):
    """Requests matching hosts and/or paths go to one Docker Service or Function (first match wins, in order)."""

    paths: list[str] = Field(
        default_factory=list,
        max_length=5,
        description='Path patterns, e.g. "/api/*" (ALB wildcards * and ?).',
        json_schema_extra={"items": {"type": "string", "pattern": r"^/[ -~]{0,127}$"}},
    )
    hosts: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="Host headers, e.g. api.example.com.",
        json_schema_extra={"items": {"type": "string", "pattern": r"^[a-z0-9*?.-]{1,128}$"}},
    )
    docker_service: str | None = Field(
        default=None, pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryDockerService (same network) to send to."
    )
    function: str | None = Field(
        default=None, pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryFunction to invoke."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "has(self.dockerService) != has(self.function)",
            "message": "a route sends to exactly one of dockerService or function",
        },
        {
            "rule": "(has(self.paths) && size(self.paths) > 0) || (has(self.hosts) && size(self.hosts) > 0)",
            "message": 'a route needs paths, hosts or both (use paths: ["/*"] for everything)',
        },
    ]

    @model_validator(mode="after")
    def _one(self) -> Route:
        if (self.docker_service is None) == (self.function is None):
            raise ValueError("a route sends to exactly one of dockerService or function")
        if not self.paths and not self.hosts:
            raise ValueError('a route needs paths, hosts or both (use paths: ["/*"] for everything)')
        return self


class LoadBalancerSpec(CommonSpec):
    """Desired load balancer."""

    virtual_network: str = Field(
        pattern=K8S_NAME_PATTERN, max_length=253, description="The StackeryVirtualNetwork (its public subnets). Immutable."
    )
    allowed_cidrs: list[str] = Field(
        default_factory=lambda: ["0.0.0.0/0"],
        min_length=1,
        max_length=50,
        description="Who may reach ports 80/443 (default everyone: the load balancer is public by intent).",
        json_schema_extra={"items": {"type": "string", "pattern": CIDR4}},
    )
    domains: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Domains served over HTTPS with an ACM certificate the operator requests (HTTP then redirects to HTTPS).",
        json_schema_extra={"items": {"type": "string", "pattern": DOMAIN_PATTERN, "maxLength": 253}},
    )
    certificate: Certificate | None = Field(default=None, description="Certificate validation for domains (default DNS).")
    certificate_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[a-f0-9-]+$",
        description="Bring your own ACM certificate (in the load balancer's region) instead of domains.",
    )
    route53: Route53 | None = Field(default=None, description="Create the certificate's validation records in this zone.")
    ssl_policy: str = Field(
        default="ELBSecurityPolicy-TLS13-1-2-2021-06", pattern=SSL_POLICY_PATTERN, description="TLS policy of the HTTPS listener."
    )
    idle_timeout_seconds: int = Field(default=60, ge=1, le=4000, description="Idle connection timeout.")
    deletion_protection: bool = Field(
        default=False,
        description="Refuse to delete (Stalled, DeletionProtected) until set false; also set on the AWS load balancer.",
    )
    routes: list[Route] = Field(default_factory=list, max_length=50, description="Where requests go, first match first.")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "!(has(self.domains) && size(self.domains) > 0 && has(self.certificateArn))",
            "message": "set domains or certificateArn, not both",
        },
        {
            "rule": "self.virtualNetwork == oldSelf.virtualNetwork",
            "message": "virtualNetwork is immutable: create a new StackeryLoadBalancer",
        },
    ]

    @model_validator(mode="after")
    def _rules(self) -> LoadBalancerSpec:
        if self.domains and self.certificate_arn:
            raise ValueError("set domains or certificateArn, not both")
        return self

    @property
    def https(self) -> bool:
        return bool(self.domains or self.certificate_arn)


class RouteStatus(Model):
    """One route as it is in AWS."""

    priority: int = Field(description="Listener rule priority (route order).")
    target: str = Field(description="Kind/name it sends to.")
    target_group_arn: str | None = Field(default=None, description="Target group.")


class LoadBalancerStatus(CommonStatus):
    """Observed load balancer."""

    dns_name: str | None = Field(default=None, description="DNS name (LB_DNS_NAME): point a CNAME or alias record here.")
    canonical_hosted_zone_id: str | None = Field(default=None, description="Hosted zone id for Route 53 alias records.")
    state: str | None = Field(default=None, description="provisioning, active, failed.")
    security_group_id: str | None = Field(
        default=None, description="The load balancer's own group (ports 80/443 from allowedCidrs)."
    )
    vpc_id: str | None = Field(default=None, description="VPC it is in.")
    listeners: list[str] | None = Field(default=None, description="Listeners, e.g. HTTP:80, HTTPS:443.")
    routes: list[RouteStatus] | None = Field(default=None, description="Routes in AWS.")
    certificate_arn: str | None = Field(default=None, description="Certificate in use or being validated.")
    validation_records: list[DnsRecord] | None = Field(default=None, description="DNS records ACM needs for validation.")
    validation_emails: list[str] | None = Field(default=None, description="Addresses the approval mail went to (EMAIL).")
    primary_domain: str | None = Field(default=None, description="First domain when the certificate was last looked up.")
