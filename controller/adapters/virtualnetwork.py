"""Virtual Network: eight parts — VPC, subnets (public + private per zone), internet gateway, NAT
gateways (+ addresses), route tables, gateway endpoints and the default security group — composed by
core.parts (EC2 parts in vpc.py and vpcrouting.py).

Creation order: VPC; subnets, internet gateway and the default group's rules; NAT gateways (waited
for); route tables (public -> internet gateway, each private -> its zone's NAT gateway); endpoints.
Optional: the execute-api interface endpoint and flow logs (vpcextras.py). Deletion runs in reverse,
each part confirmed gone before the next: flow logs, endpoints, route tables, NAT gateways (waited
until deleted, then their addresses released), internet gateway, subnets, VPC.

Read budget of one drift check: DescribeVpcs, DescribeVpcAttribute, DescribeSubnets,
DescribeInternetGateways, DescribeNatGateways, DescribeAddresses, DescribeRouteTables,
DescribeSecurityGroups = 8 (+1 DescribeVpcEndpoints with endpoints). Zones are chosen once
(DescribeAvailabilityZones) and recorded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..api.virtualnetwork import VirtualNetworkSpec
from ..core.adapter import ObjectRef, Observation, Reference
from ..core.parts import Composite, Context
from ..policy import Claim
from .common import dns_name
from .vpc import InternetGatewayPart, Subnets, SubnetsPart, VpcPart
from .vpcextras import ExecuteApiEndpointPart, FlowLogsPart
from .vpcrouting import (
    DefaultSecurityGroupPart,
    EndpointsPart,
    NatGatewaysPart,
    Nats,
    RouteTablesPart,
    address_of,
)

Ctx = Context[VirtualNetworkSpec]


def zones(ctx: Ctx) -> list[dict[str, Any]]:
    """status.zones: every id of each zone, from what the parts saw (pure)."""
    subnets: Subnets | None = ctx.seen["subnets"].actual if "subnets" in ctx.seen else None
    if subnets is None:
        return []
    nats: Nats | None = ctx.seen["natGateways"].actual if "natGateways" in ctx.seen else None
    tables: dict[str, Any] = (ctx.seen["routeTables"].actual if "routeTables" in ctx.seen else None) or {}
    out = []
    for z in subnets.zone_ids:
        nat = (nats.gateways if nats else {}).get(z)
        out.append(
            {
                "zoneId": z,
                "zoneName": subnets.zone_names.get(z) or None,
                "publicSubnetId": subnets.subnet("public", z),
                "privateSubnetId": subnets.subnet("private", z),
                "natGatewayId": nat["NatGatewayId"] if nat else None,
                "elasticIp": address_of(nats, z),
                "privateRouteTableId": (tables.get(f"rt-private-{z}") or {}).get("RouteTableId"),
            }
        )
    return out


class VirtualNetworkAdapter(Composite[VirtualNetworkSpec]):
    def __init__(self) -> None:
        super().__init__(
            [
                VpcPart(),
                SubnetsPart(),
                InternetGatewayPart(),
                DefaultSecurityGroupPart(),
                NatGatewaysPart(),
                RouteTablesPart(),
                EndpointsPart(),
                ExecuteApiEndpointPart(),
                FlowLogsPart(),  # declared last: deleted first
            ],
            primary="vpc",
        )

    def summary(self, ctx: Ctx) -> Observation[Context[VirtualNetworkSpec]]:
        obs = super().summary(ctx)
        if not obs.exists:
            return obs
        return replace(obs, identifiers={**obs.identifiers, "zones": zones(ctx)})

    def external_name(self, ref: ObjectRef, spec: VirtualNetworkSpec) -> str:
        return dns_name("stackery", ref, max_len=128)  # the VPC's Name; its id is AWS-assigned

    def references(self, spec: VirtualNetworkSpec) -> list[Reference]:
        return []

    def claims(self, spec: VirtualNetworkSpec) -> list[Claim]:
        return []
