"""A node's own security group that admits one port from its client group only, plus that client group.

Why: a Database (its engine port) and a Docker Service (its container port) are reached the same way. A
node connected to one — a placed Function, a Bastion, a Docker Service, a Load Balancer routing to a
service — carries the target's client group (core.wiring.network_groups); the target's own group admits
exactly that group. No address range is opened, no other object's resource is written, and the target need
not wait for its consumers (who themselves wait for it to be Ready): no cycle. A rule added by hand (say
from 0.0.0.0/0) is drift and is removed under driftPolicy Correct.

Both groups are one part: one DescribeSecurityGroups (by VPC and both names) reads them with their rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic

from ..aws.clients import client
from ..core.adapter import Request, SpecT
from ..core.parts import Context, Seen, part_tags
from ..errors import OwnershipConflictError
from .common import compare, dns_name, owner_of, tag_dict, tag_list
from .placement import delete_group, group_name


def client_group_name(req: Request[Any], prefix: str) -> str:
    return dns_name(prefix, req.ref, max_len=255)


def ingress_rules(group: Mapping[str, Any]) -> list[str]:
    """Ingress rules as comparable strings: port/protocol and the source (a group id or an address range)."""
    out: list[str] = []
    for p in group.get("IpPermissions", []):
        where = f"{p.get('IpProtocol')}:{p.get('FromPort', '*')}-{p.get('ToPort', '*')}"
        out += [f"{where} from {g['GroupId']}" for g in p.get("UserIdGroupPairs", [])]
        out += [f"{where} from {r['CidrIp']}" for r in p.get("IpRanges", [])]
        out += [f"{where} from {r['CidrIpv6']}" for r in p.get("Ipv6Ranges", [])]
        out += [f"{where} from {r['PrefixListId']}" for r in p.get("PrefixListIds", [])]
    return sorted(out)


def owned(req: Request[Any], group: Mapping[str, Any]) -> Mapping[str, Any]:
    uid, owner = owner_of(tag_dict(group.get("Tags")))
    if uid != req.ref.uid:
        raise OwnershipConflictError(f"security group {group.get('GroupName')} belongs to {owner or 'nobody (untagged)'}")
    return group


class GuardedGroupsPart(Generic[SpecT]):
    """Part "securityGroups": actual = {"client": group, "own": group} (each with its rules).

    `vpc` says where the groups live (None while the node's network is no longer handed over, during a
    delete: the groups are then found by ownership tag); `port` is the one port the own group opens to the
    client group (None: the own group admits nothing)."""

    name = "securityGroups"
    after: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        client_prefix: str,
        vpc: Callable[[Context[SpecT]], str | None],
        port: Callable[[Context[SpecT]], int | None],
        clients: str,
    ) -> None:
        self.client_prefix = client_prefix
        self.vpc = vpc
        self.port = port
        self.clients = clients
        """What the client group stands for, in the rule's description (e.g. "nodes connected to the database")."""

    def wanted(self, ctx: Context[SpecT]) -> bool:
        return True

    def observe(self, ctx: Context[SpecT]) -> Seen[dict[str, Any]]:
        vpc = self.vpc(ctx)
        names = {client_group_name(ctx.req, self.client_prefix): "client", group_name(ctx.req): "own"}
        where = [{"Name": "vpc-id", "Values": [vpc]}] if vpc else [{"Name": "tag:stackery.io/uid", "Values": [ctx.req.ref.uid]}]
        found = (
            client("ec2", ctx.req.region)
            .describe_security_groups(Filters=[*where, {"Name": "group-name", "Values": sorted(names)}])
            .get("SecurityGroups", [])
        )
        both = {names[g["GroupName"]]: dict(owned(ctx.req, g)) for g in found if g["GroupName"] in names}
        return self._seen(ctx, both)

    def _wanted_rules(self, ctx: Context[SpecT], client_id: str | None) -> list[str]:
        port = self.port(ctx)
        return [] if port is None else [f"tcp:{port}-{port} from {client_id or '(the client group)'}"]

    def _seen(self, ctx: Context[SpecT], both: dict[str, dict[str, Any]]) -> Seen[dict[str, Any]]:
        if not both:
            return Seen(exists=False)
        client_id = (both.get("client") or {}).get("GroupId")
        diffs = [*compare("securityGroups", ["client", "own"], sorted(both))]
        if "own" in both:
            diffs += compare("securityGroup.ingress", self._wanted_rules(ctx, client_id), ingress_rules(both["own"]))
        return Seen(
            exists=True,
            actual=both,
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={"securityGroupId": (both.get("own") or {}).get("GroupId"), "clientSecurityGroupId": client_id},
        )

    def _create(self, ctx: Context[SpecT], name: str, what: str) -> dict[str, Any]:
        ref = ctx.req.ref
        made = client("ec2", ctx.req.region).create_security_group(
            GroupName=name,
            Description=f"{what}{ref.kind} {ref.namespace}/{ref.name}"[:255],
            VpcId=str(self.vpc(ctx)),
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(part_tags(ctx.req, self.name))}],
        )
        return {"GroupId": made["GroupId"], "GroupName": name, "IpPermissions": []}

    def ensure(self, ctx: Context[SpecT], seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        e = client("ec2", ctx.req.region)
        both = dict(seen.actual or {})
        if "client" not in both:
            both["client"] = self._create(ctx, client_group_name(ctx.req, self.client_prefix), "clients of ")
        if "own" not in both:
            both["own"] = self._create(ctx, group_name(ctx.req), "")
        own = both["own"]
        if own.get("IpPermissions"):
            e.revoke_security_group_ingress(GroupId=own["GroupId"], IpPermissions=own["IpPermissions"])
        port = self.port(ctx)
        perms = (
            []
            if port is None
            else [
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "UserIdGroupPairs": [{"GroupId": both["client"]["GroupId"], "Description": self.clients}],
                }
            ]
        )
        if perms:
            e.authorize_security_group_ingress(GroupId=own["GroupId"], IpPermissions=perms)
        both["own"] = {**own, "IpPermissions": perms}
        return self._seen(ctx, both)

    def delete(self, ctx: Context[SpecT], seen: Seen[dict[str, Any]]) -> str | None:
        for which in ("own", "client"):  # the own group refers to the client group: it goes first
            group = (seen.actual or {}).get(which)
            if group:
                wait = delete_group(ctx.req, str(group["GroupId"]))
                if wait is not None:
                    return wait
        return None
