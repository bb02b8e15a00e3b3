"""Placing compute in a Virtual Network: a security group of its own in the VPC, the network's private
subnets, and the network-interface permissions its role needs.

Why: a Function today, Docker Services next, are "placed inside Virtual Network nodes" (Stackery). The
group is the node's identity in the network: a Database or Docker Service later opens its own group to
this one (never to an address range). Stackery used the VPC's default group; here every placed node
gets its own, tagged, named after it, deleted with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..aws.clients import client, error_code
from ..core.adapter import Request
from ..errors import OwnershipConflictError
from .common import dns_name, owner_of, tag_dict, tag_list

NETWORK_KIND = "StackeryVirtualNetwork"
PENDING_GROUP = "(created with the function)"
ENI_STATEMENT: dict[str, Any] = {
    "Sid": "NetworkInterfaces",
    "Effect": "Allow",
    "Action": [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ],
    "Resource": "*",
}


def private_subnets(network: Mapping[str, Any]) -> list[str]:
    return sorted(z["privateSubnetId"] for z in network.get("zones") or [] if z.get("privateSubnetId"))


def group_name(req: Request[Any]) -> str:
    return dns_name("stackery-node", req.ref, max_len=255)


def find_group(req: Request[Any], vpc_id: str) -> str | None:
    """This node's group id in the VPC (by its deterministic name); refuses one tagged as someone else's."""
    group = read_group(req, vpc_id)
    return str(group["GroupId"]) if group else None


def read_group(req: Request[Any], vpc_id: str | None) -> dict[str, Any] | None:
    """The whole group (rules included), so a caller that needs its rules reads it once. Without a VPC
    (its network is already gone from the request, during a delete): the group of that name tagged as
    this object's, in whatever VPC."""
    where = [{"Name": "vpc-id", "Values": [vpc_id]}] if vpc_id else [{"Name": "tag:stackery.io/uid", "Values": [req.ref.uid]}]
    found = (
        client("ec2", req.region)
        .describe_security_groups(Filters=[*where, {"Name": "group-name", "Values": [group_name(req)]}])
        .get("SecurityGroups", [])
    )
    if not found:
        return None
    uid, owner = owner_of(tag_dict(found[0].get("Tags")))
    if uid != req.ref.uid:
        raise OwnershipConflictError(f"security group {group_name(req)} in {vpc_id} belongs to {owner or 'nobody (untagged)'}")
    return dict(found[0])


def group_exists(req: Request[Any], group_id: str) -> bool:
    try:
        client("ec2", req.region).describe_security_groups(GroupIds=[group_id])
    except Exception as exc:
        if error_code(exc) in ("InvalidGroup.NotFound", "InvalidGroupId.NotFound"):
            return False
        raise
    return True


def ensure_group(req: Request[Any], vpc_id: str) -> str:
    found = find_group(req, vpc_id)
    if found:
        return found
    made = client("ec2", req.region).create_security_group(
        GroupName=group_name(req),
        Description=f"{req.ref.kind} {req.ref.namespace}/{req.ref.name}"[:255],
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(req.tags())}],
    )
    return str(made["GroupId"])


def delete_group(req: Request[Any], group_id: str) -> str | None:
    """None when gone; a message while AWS still holds network interfaces in it (Lambda frees them late)."""
    try:
        client("ec2", req.region).delete_security_group(GroupId=group_id)
    except Exception as exc:
        code = error_code(exc)
        if code == "DependencyViolation":
            return f"security group {group_id} is still used by network interfaces AWS is releasing; retrying"
        if code not in ("InvalidGroup.NotFound", "InvalidGroupId.NotFound"):
            raise
    return None


def vpc_config(subnets: list[str], group: str | None, carried: list[str] | None = None) -> dict[str, list[str]]:
    """Its own group plus the client groups it carries for connected databases (wiring.network_groups)."""
    groups = sorted({group or PENDING_GROUP, *(carried or [])})
    return {"SubnetIds": sorted(subnets), "SecurityGroupIds": groups if subnets else []}


def have_vpc_config(raw: Mapping[str, Any] | None) -> dict[str, list[str]]:
    raw = raw or {}
    return {"SubnetIds": sorted(raw.get("SubnetIds") or []), "SecurityGroupIds": sorted(raw.get("SecurityGroupIds") or [])}
