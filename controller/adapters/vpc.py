"""EC2 parts of a Virtual Network: VPC, subnets, internet gateway, NAT gateways (+ their addresses),
route tables, gateway endpoints and the default security group.

Why: each is an EC2 resource with an AWS-assigned id. Every one is created with its tags in the same
call (TagSpecifications: ownership + `stackery.io/part`), so after a crash that lost the status write it
is found again by one tag filter instead of being created twice — moto ignores ClientToken on NAT
gateways, route tables and endpoints, and so does the operator's crash safety: it never relies on it.
describe_nat_gateways ignores tag filters (in moto), so NAT gateways are listed by VPC and their tags
checked here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.virtualnetwork import VirtualNetworkSpec
from ..aws.clients import client, error_code, or_none
from ..core.parts import PART_TAG, Context, Seen, part_tags
from .common import compare, owner_of, tag_dict, tag_list

Ctx = Context[VirtualNetworkSpec]
GONE = (
    "NotFound",
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidAllocationID.NotFound",
    "Gateway.NotAttached",
    "InvalidAssociationID.NotFound",
    "InvalidVpcEndpointId.NotFound",
    "NatGatewayNotFound",
)


def ec2(ctx: Ctx) -> Any:
    return client("ec2", ctx.req.region)


def tag_spec(ctx: Ctx, rtype: str, part: str) -> list[dict[str, Any]]:
    return [{"ResourceType": rtype, "Tags": tag_list(part_tags(ctx.req, part))}]


def part_of(resource: Mapping[str, Any]) -> str | None:
    return tag_dict(resource.get("Tags")).get(PART_TAG)


def ours(ctx: Ctx, resource: Mapping[str, Any]) -> bool:
    return tag_dict(resource.get("Tags")).get("stackery.io/uid") == ctx.req.ref.uid


def vpc_id(ctx: Ctx) -> str | None:
    vpc = ctx.seen.get("vpc")
    return str(vpc.actual["VpcId"]) if vpc is not None and vpc.actual else None


# ------------------------------------------------------------------ layout
@dataclass(frozen=True)
class Slot:
    tier: str  # public | private
    zone_id: str
    cidr: str

    @property
    def part(self) -> str:
        return f"{self.tier}-{self.zone_id}"


def layout(spec: VirtualNetworkSpec, zone_ids: list[str]) -> list[Slot]:
    """Private subnets take the first blocks, public ones the next (Stackery's order), equal sizes."""
    net = ipaddress.ip_network(spec.cidr)
    blocks = list(net.subnets(prefixlen_diff=2 if spec.zones == 2 else 3))
    slots = [Slot("private", z, str(blocks[i])) for i, z in enumerate(zone_ids)]
    return slots + [Slot("public", z, str(blocks[len(zone_ids) + i])) for i, z in enumerate(zone_ids)]


def nat_zones(ctx: Ctx, zone_ids: list[str]) -> list[str]:
    mode = ctx.req.spec.nat_gateways
    return [] if mode == "None" else zone_ids[:1] if mode == "Single" else list(zone_ids)


# ------------------------------------------------------------------ VPC
class VpcPart:
    name = "vpc"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        known = ctx.req.status.get("vpcId")
        filters = (
            [{"Name": "vpc-id", "Values": [known]}]
            if known
            else [
                {"Name": "tag:stackery.io/uid", "Values": [ctx.req.ref.uid]},
                {"Name": f"tag:{PART_TAG}", "Values": ["vpc"]},
            ]
        )
        found = ec2(ctx).describe_vpcs(Filters=filters).get("Vpcs", [])
        if not found:
            return Seen(exists=False)
        vpc = found[0]
        hostnames = ec2(ctx).describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
        return self._seen(ctx, vpc, bool(hostnames["EnableDnsHostnames"]["Value"]))

    def _seen(self, ctx: Ctx, vpc: Mapping[str, Any], hostnames: bool) -> Seen[dict[str, Any]]:
        tags = tag_dict(vpc.get("Tags"))
        uid, owner = owner_of(tags)
        want_tags = part_tags(ctx.req, "vpc")
        return Seen(
            exists=True,
            actual=dict(vpc),
            owner_uid=uid,
            owner=owner,
            diffs=(*compare("tags", want_tags, tags), *compare("dnsHostnames", True, hostnames)),
            identifiers={"vpcId": vpc["VpcId"], "externalName": vpc["VpcId"], "cidr": vpc["CidrBlock"], "region": ctx.req.region},
            outputs={"VPC_ID": vpc["VpcId"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        e = ec2(ctx)
        if not seen.exists:
            vpc = e.create_vpc(CidrBlock=ctx.req.spec.cidr, TagSpecifications=tag_spec(ctx, "vpc", "vpc"))["Vpc"]
        else:
            vpc = dict(seen.actual or {})
            if any(d.field == "tags" for d in seen.diffs):
                want = part_tags(ctx.req, "vpc")
                e.create_tags(Resources=[vpc["VpcId"]], Tags=tag_list(want))
                extra = sorted(set(tag_dict(vpc.get("Tags"))) - set(want))
                if extra:
                    e.delete_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": k} for k in extra])
        e.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsSupport={"Value": True})
        e.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": True})
        return self._seen(ctx, {**vpc, "Tags": tag_list(part_tags(ctx.req, "vpc"))}, True)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        try:
            ec2(ctx).delete_vpc(VpcId=str(vpc_id(ctx)))
        except Exception as exc:
            if error_code(exc) == "DependencyViolation":
                return f"VPC {vpc_id(ctx)} still has dependencies (AWS is releasing them); retrying"
            if error_code(exc) not in GONE:
                raise
        return None


# ------------------------------------------------------------------ subnets
@dataclass(frozen=True)
class Subnets:
    zone_ids: list[str]
    zone_names: dict[str, str]
    by_part: dict[str, dict[str, Any]] = field(default_factory=dict)

    def subnet(self, tier: str, zone_id: str) -> str | None:
        s = self.by_part.get(f"{tier}-{zone_id}")
        return str(s["SubnetId"]) if s else None


class SubnetsPart:
    name = "subnets"
    after: tuple[str, ...] = ("vpc",)

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def _zones(self, ctx: Ctx) -> tuple[list[str], dict[str, str]]:
        """The recorded zones, or (first time) the first N available zones by ZoneId."""
        recorded = ctx.req.status.get("zones") or []
        if recorded:
            return [z["zoneId"] for z in recorded], {z["zoneId"]: z.get("zoneName") or "" for z in recorded}
        got = ec2(ctx).describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}, {"Name": "zone-type", "Values": ["availability-zone"]}]
        )["AvailabilityZones"]
        zones = sorted(got, key=lambda z: z["ZoneId"])[: ctx.req.spec.zones]
        if len(zones) < ctx.req.spec.zones:
            from ..errors import TerminalError

            raise TerminalError(
                f"region {ctx.req.region} has {len(zones)} available zones; spec.zones asks for {ctx.req.spec.zones}"
            )
        return [z["ZoneId"] for z in zones], {z["ZoneId"]: z["ZoneName"] for z in zones}

    def observe(self, ctx: Ctx) -> Seen[Subnets]:
        vid = vpc_id(ctx)
        if vid is None:
            return Seen(exists=False)
        zone_ids, names = self._zones(ctx)
        found = ec2(ctx).describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}]).get("Subnets", [])
        return self._seen(ctx, Subnets(zone_ids, names, {p: s for s in found if ours(ctx, s) and (p := part_of(s))}))

    def _seen(self, ctx: Ctx, state: Subnets) -> Seen[Subnets]:
        diffs = []
        for slot in layout(ctx.req.spec, state.zone_ids):
            s = state.by_part.get(slot.part)
            if s is None:
                diffs += compare(f"subnets.{slot.part}", slot.cidr, None)
            else:  # public subnets give instances a public address; private ones never
                want = slot.tier == "public"
                diffs += compare(f"subnets.{slot.part}.mapPublicIpOnLaunch", want, bool(s.get("MapPublicIpOnLaunch")))
        ids = {t: ",".join(x for z in state.zone_ids if (x := state.subnet(t, z))) for t in ("public", "private")}
        return Seen(
            exists=bool(state.by_part),
            actual=state,
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            outputs={"PUBLIC_SUBNET_IDS": ids["public"], "PRIVATE_SUBNET_IDS": ids["private"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[Subnets]) -> Seen[Subnets]:
        e, vid = ec2(ctx), str(vpc_id(ctx))
        state = seen.actual or Subnets(*self._zones(ctx))
        by_part = dict(state.by_part)
        for slot in layout(ctx.req.spec, state.zone_ids):
            s = by_part.get(slot.part)
            if s is None:
                s = e.create_subnet(
                    VpcId=vid,
                    CidrBlock=slot.cidr,
                    AvailabilityZoneId=slot.zone_id,
                    TagSpecifications=tag_spec(ctx, "subnet", slot.part),
                )["Subnet"]
            public = slot.tier == "public"
            if bool(s.get("MapPublicIpOnLaunch")) != public:
                e.modify_subnet_attribute(SubnetId=s["SubnetId"], MapPublicIpOnLaunch={"Value": public})
                s = {**s, "MapPublicIpOnLaunch": public}
            by_part[slot.part] = s
        return self._seen(ctx, Subnets(state.zone_ids, state.zone_names, by_part))

    def delete(self, ctx: Ctx, seen: Seen[Subnets]) -> str | None:
        for s in (seen.actual.by_part if seen.actual else {}).values():
            try:
                ec2(ctx).delete_subnet(SubnetId=s["SubnetId"])
            except Exception as exc:
                if error_code(exc) == "DependencyViolation":
                    return f"subnet {s['SubnetId']} still has network interfaces (AWS is releasing them); retrying"
                if error_code(exc) not in GONE:
                    raise
        return None


# ------------------------------------------------------------------ internet gateway
class InternetGatewayPart:
    name = "internetGateway"
    after: tuple[str, ...] = ("vpc",)

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        vid = vpc_id(ctx)
        if vid is None:
            return Seen(exists=False)
        e = ec2(ctx)
        found = e.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vid]}]).get("InternetGateways", [])
        if not found:  # made, then the process died before attaching it
            found = e.describe_internet_gateways(
                Filters=[
                    {"Name": "tag:stackery.io/uid", "Values": [ctx.req.ref.uid]},
                    {"Name": f"tag:{PART_TAG}", "Values": ["igw"]},
                ]
            ).get("InternetGateways", [])
        if not found:
            return Seen(exists=False)
        igw = found[0]
        attached = any(a.get("VpcId") == vid for a in igw.get("Attachments", []))
        uid, owner = owner_of(tag_dict(igw.get("Tags")))
        return Seen(
            exists=True,
            actual=dict(igw),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(compare("internetGateway.attached", True, attached)),
            identifiers={"internetGatewayId": igw["InternetGatewayId"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        e, vid = ec2(ctx), str(vpc_id(ctx))
        igw = (
            dict(seen.actual)
            if seen.actual
            else e.create_internet_gateway(TagSpecifications=tag_spec(ctx, "internet-gateway", "igw"))["InternetGateway"]
        )
        if not any(a.get("VpcId") == vid for a in igw.get("Attachments", [])):
            e.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vid)
        return Seen(
            exists=True,
            actual={**igw, "Attachments": [{"VpcId": vid, "State": "available"}]},
            owner_uid=ctx.req.ref.uid,
            identifiers={"internetGatewayId": igw["InternetGatewayId"]},
        )

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        igw = str((seen.actual or {})["InternetGatewayId"])
        vid = vpc_id(ctx)
        if vid:
            or_none(lambda: ec2(ctx).detach_internet_gateway(InternetGatewayId=igw, VpcId=vid), *GONE)
        or_none(lambda: ec2(ctx).delete_internet_gateway(InternetGatewayId=igw), *GONE)
        return None
