"""How traffic leaves a Virtual Network: NAT gateways with their addresses, route tables, gateway
endpoints, and the default security group kept empty.

Why: these parts carry the network's only waits and its only delete-order rule that AWS enforces late:
a NAT gateway takes minutes to start and to go, and its address cannot be released (nor the gateway
detached) until it is gone. The part waits for both instead of sleeping (moto shows neither: NAT
gateways are available and deleted at once; tests/unit/test_virtualnetwork.py proves the waits with a
recording fake).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..aws.clients import or_none
from ..core.parts import Seen
from .common import compare
from .vpc import GONE, Ctx, Subnets, ec2, nat_zones, ours, part_of, tag_spec, vpc_id

LIVE = ("pending", "available")


def subnets_of(ctx: Ctx) -> Subnets | None:
    s = ctx.seen.get("subnets")
    got: Subnets | None = s.actual if s is not None else None
    return got


# ------------------------------------------------------------------ NAT gateways
@dataclass(frozen=True)
class Nats:
    gateways: dict[str, dict[str, Any]]
    """zone id -> NAT gateway (not deleted) with this object's tags."""
    addresses: dict[str, dict[str, Any]]
    """zone id -> Elastic IP allocated for that zone's NAT gateway."""
    deleting: tuple[str, ...] = ()


class NatGatewaysPart:
    name = "natGateways"
    after: tuple[str, ...] = ("subnets", "internetGateway")

    def wanted(self, ctx: Ctx) -> bool:
        return ctx.req.spec.nat_gateways != "None"

    def observe(self, ctx: Ctx) -> Seen[Nats]:
        vid = vpc_id(ctx)
        if vid is None:
            return Seen(exists=False)
        e = ec2(ctx)
        found = e.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vid]}]).get("NatGateways", [])
        gateways, deleting = {}, []
        for n in found:  # tag filters are ignored by describe_nat_gateways (moto): checked here
            if not ours(ctx, n) or n.get("State") in ("deleted", "failed"):
                continue
            zone = str(part_of(n) or "").removeprefix("nat-")
            if n.get("State") == "deleting":
                deleting.append(n["NatGatewayId"])
            else:
                gateways[zone] = n
        addrs = e.describe_addresses(Filters=[{"Name": "tag:stackery.io/uid", "Values": [ctx.req.ref.uid]}]).get("Addresses", [])
        addresses = {str(part_of(a) or "").removeprefix("nat-"): a for a in addrs}
        return self._seen(ctx, Nats(gateways, addresses, tuple(deleting)))

    def _seen(self, ctx: Ctx, nats: Nats) -> Seen[Nats]:
        subnets = subnets_of(ctx)
        want = nat_zones(ctx, subnets.zone_ids if subnets else [])
        diffs = compare("natGateways", sorted(want), sorted(nats.gateways))
        spare = sorted(z for z in nats.addresses if z not in want and z not in nats.gateways)
        if spare and not nats.deleting:  # the address of a gateway that went (PerZone -> Single)
            diffs += compare("natGateways.addresses", [], spare)
        pending = [n["NatGatewayId"] for n in nats.gateways.values() if n.get("State") == "pending"]
        return Seen(
            exists=bool(nats.gateways or nats.addresses or nats.deleting),
            actual=nats,
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            waiting=f"NAT gateways starting: {', '.join(pending)}" if pending else None,
            waiting_reason="NatGatewayPending",
            deleting=bool(nats.deleting) and not nats.gateways,
        )

    def ensure(self, ctx: Ctx, seen: Seen[Nats]) -> Seen[Nats]:
        e, subnets = ec2(ctx), subnets_of(ctx)
        assert subnets is not None
        nats = seen.actual or Nats({}, {})
        gateways, addresses = dict(nats.gateways), dict(nats.addresses)
        want = nat_zones(ctx, subnets.zone_ids)
        for zone in want:
            if zone in gateways:
                continue
            addr = addresses.get(zone) or e.allocate_address(
                Domain="vpc", TagSpecifications=tag_spec(ctx, "elastic-ip", f"nat-{zone}")
            )
            addresses[zone] = addr
            made = e.create_nat_gateway(
                SubnetId=subnets.subnet("public", zone),
                AllocationId=addr["AllocationId"],
                ClientToken=f"{ctx.req.ref.uid}-{zone}"[:64],
                TagSpecifications=tag_spec(ctx, "natgateway", f"nat-{zone}"),
            )["NatGateway"]
            gateways[zone] = made
        deleting = list(nats.deleting)
        for zone in sorted(set(gateways) - set(want)):  # PerZone -> Single: extra gateways go ...
            gone = gateways.pop(zone)["NatGatewayId"]
            e.delete_nat_gateway(NatGatewayId=gone)
            deleting.append(gone)
        if not deleting:  # ... and their addresses once they are deleted (a later pass)
            for zone in sorted(z for z in addresses if z not in want and z not in gateways):
                or_none(partial(e.release_address, AllocationId=addresses.pop(zone)["AllocationId"]), *GONE)
        return self._seen(ctx, Nats(gateways, addresses, tuple(deleting)))

    def delete(self, ctx: Ctx, seen: Seen[Nats]) -> str | None:
        """Gateways first; their addresses only once AWS reports them deleted (else the release fails)."""
        nats = seen.actual or Nats({}, {})
        e = ec2(ctx)
        for n in nats.gateways.values():
            e.delete_nat_gateway(NatGatewayId=n["NatGatewayId"])
        if nats.gateways:  # one look whether they are gone already (minutes on AWS, at once in moto)
            again = self.observe(ctx).actual
            nats = again or Nats({}, nats.addresses)
        if nats.gateways or nats.deleting:
            ids = [n["NatGatewayId"] for n in nats.gateways.values()] + list(nats.deleting)
            return f"waiting for NAT gateways {', '.join(ids)} to be deleted before releasing their addresses"
        for a in nats.addresses.values():
            or_none(partial(e.release_address, AllocationId=a["AllocationId"]), *GONE)
        return None


# ------------------------------------------------------------------ route tables
def wanted_tables(ctx: Ctx) -> dict[str, dict[str, Any]]:
    """part -> {"route": target or None, "subnets": [...]}"""
    subnets, igw = subnets_of(ctx), ctx.seen.get("internetGateway")
    nats: Nats | None = ctx.seen["natGateways"].actual if "natGateways" in ctx.seen else None
    if subnets is None:
        return {}
    igw_id = igw.actual["InternetGatewayId"] if igw is not None and igw.actual else None
    out: dict[str, dict[str, Any]] = {
        "rt-public": {"route": igw_id, "subnets": sorted(x for z in subnets.zone_ids if (x := subnets.subnet("public", z)))}
    }
    gateways = (nats.gateways if nats else {}) if ctx.req.spec.nat_gateways != "None" else {}
    single = next(iter(gateways.values()), None)
    for z in subnets.zone_ids:
        nat = gateways.get(z) or (single if ctx.req.spec.nat_gateways == "Single" else None)
        sub = subnets.subnet("private", z)
        out[f"rt-private-{z}"] = {"route": nat["NatGatewayId"] if nat else None, "subnets": [sub] if sub else []}
    return out


def _default_target(table: Mapping[str, Any]) -> str | None:
    for r in table.get("Routes", []):
        if r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("State", "active") != "blackhole":
            return r.get("GatewayId") or r.get("NatGatewayId")
    return None


def _associated(table: Mapping[str, Any]) -> list[str]:
    return sorted(a["SubnetId"] for a in table.get("Associations", []) if a.get("SubnetId"))


class RouteTablesPart:
    name = "routeTables"
    after: tuple[str, ...] = ("subnets", "internetGateway", "natGateways")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, dict[str, Any]]]:
        vid = vpc_id(ctx)
        if vid is None:
            return Seen(exists=False)
        found = ec2(ctx).describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}]).get("RouteTables", [])
        return self._seen(ctx, {p: t for t in found if ours(ctx, t) and (p := part_of(t))})

    def _seen(self, ctx: Ctx, tables: dict[str, dict[str, Any]]) -> Seen[dict[str, dict[str, Any]]]:
        diffs = []
        for part, want in wanted_tables(ctx).items():
            t = tables.get(part)
            have = {"route": _default_target(t), "subnets": _associated(t)} if t else None
            diffs += compare(f"routeTables.{part}", want, have)
        return Seen(
            exists=bool(tables),
            actual=tables,
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={"publicRouteTableId": tables["rt-public"]["RouteTableId"]} if "rt-public" in tables else {},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, dict[str, Any]]]) -> Seen[dict[str, dict[str, Any]]]:
        e, vid = ec2(ctx), str(vpc_id(ctx))
        tables = dict(seen.actual or {})
        every = e.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}]).get("RouteTables", [])
        where = {a["SubnetId"]: a for t in every for a in t.get("Associations", []) if a.get("SubnetId")}
        for part, want in wanted_tables(ctx).items():
            t = (
                tables.get(part)
                or e.create_route_table(VpcId=vid, TagSpecifications=tag_spec(ctx, "route-table", part))["RouteTable"]
            )
            rid, have = t["RouteTableId"], _default_target(t)
            if want["route"] != have:
                target = (
                    {"GatewayId": want["route"]} if str(want["route"]).startswith("igw-") else {"NatGatewayId": want["route"]}
                )
                if want["route"] is None:
                    or_none(partial(e.delete_route, RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0"), *GONE)
                elif any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in t.get("Routes", [])):
                    e.replace_route(RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0", **target)
                else:
                    e.create_route(RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0", **target)
            for sub in want["subnets"]:
                current = where.get(sub)
                if current is None:
                    e.associate_route_table(RouteTableId=rid, SubnetId=sub)
                elif current["RouteTableId"] != rid:
                    e.replace_route_table_association(AssociationId=current["RouteTableAssociationId"], RouteTableId=rid)
            tables[part] = {
                **t,
                "Routes": [
                    {
                        "DestinationCidrBlock": "0.0.0.0/0",
                        ("GatewayId" if str(want["route"]).startswith("igw-") else "NatGatewayId"): want["route"],
                    }
                ]
                if want["route"]
                else [],
                "Associations": [{"SubnetId": s} for s in want["subnets"]],
            }
        return self._seen(ctx, tables)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, dict[str, Any]]]) -> str | None:
        e = ec2(ctx)
        for t in (seen.actual or {}).values():
            for a in t.get("Associations", []):
                if not a.get("Main") and a.get("RouteTableAssociationId"):
                    or_none(partial(e.disassociate_route_table, AssociationId=a["RouteTableAssociationId"]), *GONE)
            or_none(partial(e.delete_route_table, RouteTableId=t["RouteTableId"]), *GONE)
        return None


# ------------------------------------------------------------------ gateway endpoints
class EndpointsPart:
    name = "endpoints"
    after: tuple[str, ...] = ("routeTables",)

    def _want(self, ctx: Ctx) -> list[str]:
        ep = ctx.req.spec.endpoints
        return [s for s, on in (("s3", ep.s3), ("dynamodb", ep.dynamodb)) if on]

    def wanted(self, ctx: Ctx) -> bool:
        return bool(self._want(ctx))

    def observe(self, ctx: Ctx) -> Seen[dict[str, dict[str, Any]]]:
        vid = vpc_id(ctx)
        if vid is None:
            return Seen(exists=False)
        found = ec2(ctx).describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vid]}]).get("VpcEndpoints", [])
        have = {
            str(part_of(v) or "").removeprefix("endpoint-"): v
            for v in found
            if ours(ctx, v)
            and str(v.get("State", "")).lower() not in ("deleted", "deleting")
            and part_of(v) in ("endpoint-s3", "endpoint-dynamodb")  # gateway endpoints only (execute-api: vpcextras)
        }
        return self._seen(ctx, have)

    def _seen(self, ctx: Ctx, have: dict[str, dict[str, Any]]) -> Seen[dict[str, dict[str, Any]]]:
        return Seen(
            exists=bool(have),
            actual=have,
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(compare("endpoints", sorted(self._want(ctx)), sorted(have))),
            identifiers={"endpointIds": {k: v["VpcEndpointId"] for k, v in have.items()}},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, dict[str, Any]]]) -> Seen[dict[str, dict[str, Any]]]:
        e, have = ec2(ctx), dict(seen.actual or {})
        tables = ctx.seen["routeTables"].actual or {}
        private = sorted(t["RouteTableId"] for p, t in tables.items() if p.startswith("rt-private-"))
        for svc in self._want(ctx):
            if svc not in have:
                have[svc] = e.create_vpc_endpoint(
                    VpcEndpointType="Gateway",
                    VpcId=vpc_id(ctx),
                    ServiceName=f"com.amazonaws.{ctx.req.region}.{svc}",
                    RouteTableIds=private,
                    ClientToken=f"{ctx.req.ref.uid}-{svc}"[:64],
                    TagSpecifications=tag_spec(ctx, "vpc-endpoint", f"endpoint-{svc}"),
                )["VpcEndpoint"]
        extra = [have.pop(s)["VpcEndpointId"] for s in sorted(set(have) - set(self._want(ctx)))]
        if extra:
            e.delete_vpc_endpoints(VpcEndpointIds=extra)
        return self._seen(ctx, have)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, dict[str, Any]]]) -> str | None:
        ids = [v["VpcEndpointId"] for v in (seen.actual or {}).values()]
        if ids:
            ec2(ctx).delete_vpc_endpoints(VpcEndpointIds=ids)
        return None


# ------------------------------------------------------------------ default security group
class DefaultSecurityGroupPart:
    """The VPC's default group, kept without rules (it comes and goes with the VPC: never deleted)."""

    name = "defaultSecurityGroup"
    after: tuple[str, ...] = ("vpc",)

    def wanted(self, ctx: Ctx) -> bool:
        return ctx.req.spec.restrict_default_security_group

    def _read(self, ctx: Ctx) -> dict[str, Any] | None:
        vid = vpc_id(ctx)
        if vid is None:
            return None
        found = (
            ec2(ctx)
            .describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [vid]}, {"Name": "group-name", "Values": ["default"]}]
            )
            .get("SecurityGroups", [])
        )
        return dict(found[0]) if found else None

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        sg = self._read(ctx) if self.wanted(ctx) else None
        if sg is None:
            return Seen(exists=False)
        rules = len(sg.get("IpPermissions", [])) + len(sg.get("IpPermissionsEgress", []))
        return Seen(exists=True, actual=sg, external=True, diffs=tuple(compare("defaultSecurityGroup.rules", 0, rules)))

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        sg = seen.actual or self._read(ctx)
        if sg is None:
            return Seen(exists=False)
        e = ec2(ctx)
        if sg.get("IpPermissions"):
            e.revoke_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=sg["IpPermissions"])
        if sg.get("IpPermissionsEgress"):
            e.revoke_security_group_egress(GroupId=sg["GroupId"], IpPermissions=sg["IpPermissionsEgress"])
        return Seen(exists=True, actual={**sg, "IpPermissions": [], "IpPermissionsEgress": []}, external=True)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        return None


def address_of(nats: Nats | None, zone: str) -> str | None:
    a = (nats.addresses if nats else {}).get(zone)
    return str(a["PublicIp"]) if a and a.get("PublicIp") else None
