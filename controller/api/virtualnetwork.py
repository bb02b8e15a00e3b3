"""StackeryVirtualNetwork: a VPC with a public and a private subnet per zone, an internet gateway, NAT
gateways, route tables, optional gateway endpoints, and the default security group stripped.

Stackery's Virtual Network node: "a Virtual Network with private and public subnets", databases and
containers in the private ones, load balancers in the public ones. Each zone is chosen by ZoneId (the
same physical zone in every account) and recorded in status, so the layout never moves.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from .common import CommonSpec, CommonStatus, Model

CIDR_PATTERN = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/(1[6-9]|2[0-4])$"


class Endpoints(Model):
    """Gateway endpoints on the private route tables (traffic to S3 / DynamoDB stays off the NAT)."""

    s3: bool = Field(default=False, description="Gateway endpoint for S3.")
    dynamodb: bool = Field(default=False, description="Gateway endpoint for DynamoDB (Stackery's DynamoDBEndpoint).")
    execute_api: bool = Field(
        default=False,
        description="Interface endpoint for API Gateway in the private subnets, private DNS on, HTTPS from the VPC only (Stackery's APIGatewayEndpoint).",
    )


class FlowLogs(Model):
    """VPC flow logs to a log group this network owns."""

    enabled: bool = Field(default=False, description="Record flow logs.")
    traffic: Literal["REJECT", "ACCEPT", "ALL"] = Field(default="REJECT", description="Which traffic is recorded.")
    retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 180, 365] = Field(default=30, description="Retention of the log group.")


class VirtualNetworkSpec(CommonSpec):
    """Desired network."""

    cidr: str = Field(
        default="10.0.0.0/16", pattern=CIDR_PATTERN, description="VPC address range, /16 to /24 (Stackery's IPRange). Immutable."
    )
    zones: Literal[2, 3] = Field(default=2, description="Availability zones (one public + one private subnet each). Immutable.")
    nat_gateways: Literal["PerZone", "Single", "None"] = Field(
        default="PerZone",
        description="PerZone (Stackery's default: one per zone, survives a zone outage), Single (cheaper) or None (private subnets have no internet route).",
    )
    endpoints: Endpoints = Field(default_factory=Endpoints, description="Gateway endpoints.")
    flow_logs: FlowLogs = Field(default_factory=FlowLogs, description="Optional flow logs.")
    restrict_default_security_group: bool = Field(
        default=True, description="Remove every rule of the VPC's default security group (nothing can use it by accident)."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "!has(oldSelf.cidr) || (has(self.cidr) && self.cidr == oldSelf.cidr)",
            "message": "cidr is immutable: create a new StackeryVirtualNetwork",
        },
        {
            "rule": "!has(oldSelf.zones) || (has(self.zones) && self.zones == oldSelf.zones)",
            "message": "zones is immutable: create a new StackeryVirtualNetwork",
        },
    ]

    @field_validator("cidr")
    @classmethod
    def _network(cls, v: str) -> str:
        try:
            net = ipaddress.ip_network(v, strict=True)
        except ValueError:
            raise ValueError(f"cidr {v} is not a network address (host bits set?): e.g. 10.0.0.0/16") from None
        if not net.is_private:
            raise ValueError(f"cidr {v} is not a private range (10/8, 172.16/12, 192.168/16)")
        return v


class Zone(Model):
    """One zone's resources."""

    zone_id: str = Field(description="Availability zone id (e.g. use1-az1).")
    zone_name: str | None = Field(default=None, description="Its name in this account (e.g. us-east-1a).")
    public_subnet_id: str | None = Field(default=None, description="Public subnet.")
    private_subnet_id: str | None = Field(default=None, description="Private subnet.")
    nat_gateway_id: str | None = Field(default=None, description="NAT gateway in this zone's public subnet.")
    elastic_ip: str | None = Field(default=None, description="The NAT gateway's public address.")
    private_route_table_id: str | None = Field(default=None, description="Route table of the private subnet.")


class VirtualNetworkStatus(CommonStatus):
    """Observed network."""

    vpc_id: str | None = Field(default=None, description="VPC id.")
    cidr: str | None = Field(default=None, description="VPC address range.")
    zones: list[Zone] | None = Field(default=None, description="Per zone: subnets, NAT gateway, address, route table.")
    internet_gateway_id: str | None = Field(default=None, description="Internet gateway.")
    public_route_table_id: str | None = Field(default=None, description="Route table of the public subnets.")
    endpoint_ids: dict[str, str] | None = Field(default=None, description="Gateway endpoints by service.")
    execute_api_endpoint_id: str | None = Field(default=None, description="The execute-api interface endpoint.")
    flow_log_id: str | None = Field(default=None, description="The VPC's flow log.")
