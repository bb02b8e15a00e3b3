"""Optional Virtual Network parts: VPC flow logs (to a log group this network owns, delivered with a
role of its own) and the execute-api interface endpoint (private API Gateway access from the private
subnets, behind a security group that admits HTTPS from the VPC only).

Why apart: both are opt-in and neither is on the path traffic takes by default; flow logs go first on
delete (nothing else depends on them) and the interface endpoint before the subnets it sits in.
"""

from __future__ import annotations

from typing import Any

from ..aws.clients import account_id, client, error_code, or_none
from ..core.parts import Seen
from .common import compare
from .execrole import ExecutionRole
from .placement import delete_group, ensure_group, find_group
from .vpc import GONE, Ctx, ec2, ours, part_of, tag_spec, vpc_id

FLOW_ROLE = ExecutionRole("stackery-flowlogs", "vpc-flow-logs.amazonaws.com")


def flow_log_group(ctx: Ctx) -> str:
    return f"/stackery/vpc/{ctx.req.ref.namespace}/{ctx.req.ref.name}"


class FlowLogsPart:
    name = "flowLogs"
    after: tuple[str, ...] = ("vpc",)

    def wanted(self, ctx: Ctx) -> bool:
        return ctx.req.spec.flow_logs.enabled

    def _policy(self, ctx: Ctx) -> dict[str, Any]:
        arn = f"arn:aws:logs:{ctx.req.region}:{account_id(ctx.req.region)}:log-group:{flow_log_group(ctx)}"
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Deliver",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [arn, f"{arn}:*"],
                }
            ],
        }

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        vid = vpc_id(ctx)
        if vid is None or not (self.wanted(ctx) or ctx.req.status.get("flowLogId")):
            return Seen(exists=False)  # never enabled: no read
        found = [
            f
            for f in ec2(ctx).describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vid]}]).get("FlowLogs", [])
            if ours(ctx, f)
        ]
        if not found:
            return Seen(exists=False)
        fl = found[0]
        want = ctx.req.spec.flow_logs.traffic
        return Seen(
            exists=True,
            actual=dict(fl),
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(compare("flowLogs.traffic", want, fl.get("TrafficType"))),
            identifiers={"flowLogId": fl["FlowLogId"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        e, logs, group = ec2(ctx), client("logs", ctx.req.region), flow_log_group(ctx)
        if seen.exists and seen.actual:  # the traffic type cannot be changed in place
            e.delete_flow_logs(FlowLogIds=[seen.actual["FlowLogId"]])
        or_none(lambda: logs.create_log_group(logGroupName=group, tags=ctx.req.tags()), "ResourceAlreadyExistsException")
        logs.put_retention_policy(logGroupName=group, retentionInDays=ctx.req.spec.flow_logs.retention_days)
        FLOW_ROLE.ensure(ctx.req, self._policy(ctx), f"VPC flow logs of {ctx.req.ref.namespace}/{ctx.req.ref.name}")
        made = e.create_flow_logs(
            ResourceIds=[str(vpc_id(ctx))],
            ResourceType="VPC",
            TrafficType=ctx.req.spec.flow_logs.traffic,
            LogDestinationType="cloud-watch-logs",
            LogGroupName=group,
            DeliverLogsPermissionArn=FLOW_ROLE.arn(ctx.req.ref, account_id(ctx.req.region)),
            ClientToken=f"{ctx.req.ref.uid}-flowlogs-{ctx.req.spec.flow_logs.traffic}"[:64],
            TagSpecifications=tag_spec(ctx, "vpc-flow-log", "flowLogs"),
        )
        ids = made.get("FlowLogIds") or []
        fl = {"FlowLogId": ids[0] if ids else "", "TrafficType": ctx.req.spec.flow_logs.traffic}
        return Seen(exists=True, actual=fl, owner_uid=ctx.req.ref.uid, identifiers={"flowLogId": fl["FlowLogId"]})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        fl = seen.actual or {}
        if fl.get("FlowLogId"):
            ec2(ctx).delete_flow_logs(FlowLogIds=[fl["FlowLogId"]])
        or_none(
            lambda: client("logs", ctx.req.region).delete_log_group(logGroupName=flow_log_group(ctx)), "ResourceNotFoundException"
        )
        FLOW_ROLE.delete(ctx.req)
        return None


class ExecuteApiEndpointPart:
    """Interface endpoint for API Gateway in the private subnets (private DNS), behind the network's own
    security group admitting HTTPS from the VPC's range only."""

    name = "executeApiEndpoint"
    after: tuple[str, ...] = ("subnets",)

    def wanted(self, ctx: Ctx) -> bool:
        return ctx.req.spec.endpoints.execute_api

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        vid = vpc_id(ctx)
        if vid is None or not (self.wanted(ctx) or ctx.req.status.get("executeApiEndpointId")):
            return Seen(exists=False)
        found = [
            v
            for v in ec2(ctx).describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vid]}]).get("VpcEndpoints", [])
            if ours(ctx, v)
            and part_of(v) == "endpoint-execute-api"
            and str(v.get("State", "")).lower() not in ("deleted", "deleting")
        ]
        if not found:
            return Seen(exists=False)
        ep = found[0]
        return Seen(
            exists=True,
            actual=dict(ep),
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(compare("executeApiEndpoint.privateDns", True, bool(ep.get("PrivateDnsEnabled")))),
            identifiers={"executeApiEndpointId": ep["VpcEndpointId"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        e, vid = ec2(ctx), str(vpc_id(ctx))
        if seen.exists and seen.actual:
            e.modify_vpc_endpoint(VpcEndpointId=seen.actual["VpcEndpointId"], PrivateDnsEnabled=True)
            return Seen(
                exists=True,
                actual={**seen.actual, "PrivateDnsEnabled": True},
                owner_uid=ctx.req.ref.uid,
                identifiers=seen.identifiers,
            )
        group = ensure_group(ctx.req, vid)
        cidr = ctx.req.spec.cidr
        try:
            e.authorize_security_group_ingress(
                GroupId=group,
                IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": cidr, "Description": "VPC"}]}
                ],
            )
        except Exception as exc:
            if error_code(exc) != "InvalidPermission.Duplicate":
                raise
        subnets = ctx.seen["subnets"].actual
        private = [x for z in subnets.zone_ids if (x := subnets.subnet("private", z))] if subnets else []
        ep = e.create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=vid,
            ServiceName=f"com.amazonaws.{ctx.req.region}.execute-api",
            SubnetIds=private,
            SecurityGroupIds=[group],
            PrivateDnsEnabled=True,
            ClientToken=f"{ctx.req.ref.uid}-execute-api"[:64],
            TagSpecifications=tag_spec(ctx, "vpc-endpoint", "endpoint-execute-api"),
        )["VpcEndpoint"]
        return Seen(
            exists=True, actual=dict(ep), owner_uid=ctx.req.ref.uid, identifiers={"executeApiEndpointId": ep["VpcEndpointId"]}
        )

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        ep = seen.actual or {}
        or_none(lambda: ec2(ctx).delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]]), *GONE)
        vid = vpc_id(ctx)
        group = find_group(ctx.req, vid) if vid else None
        return delete_group(ctx.req, group) if group else None
