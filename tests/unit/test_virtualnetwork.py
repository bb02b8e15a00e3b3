"""Virtual Network against moto (in-process): the layout (zones by id, CIDR plan, routes per zone), NAT
modes, drift and its correction, the in-sync read budget, the recorded delete order; and, with a
recording fake EC2 (moto makes NAT gateways available and deleted at once), the NAT waits."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from controller.adapters import vpcrouting
from controller.adapters.virtualnetwork import VirtualNetworkAdapter
from controller.adapters.vpc import Subnets
from controller.api.virtualnetwork import VirtualNetworkSpec
from controller.core.adapter import ObjectRef, Request
from controller.core.parts import Context, Seen

from .helpers import api_calls, converge, delta, writes

A = VirtualNetworkAdapter()
REF = ObjectRef("StackeryVirtualNetwork", "net", "main", "uid-net")


class Net:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec, self.status = spec, {}

    def req(self) -> Any:
        parsed = VirtualNetworkSpec.model_validate(self.spec)
        return Request(ref=REF, spec=parsed, region="us-east-1", external_name=A.external_name(REF, parsed), status=self.status)

    def sync(self) -> Any:
        obs = converge(A, self.req())
        self.status.update(obs.identifiers)
        return obs


def ec2() -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def test_layout_routes_and_outputs(aws: None) -> None:
    obs = Net({"cidr": "10.1.0.0/16"}).sync()
    assert obs.diffs == () and obs.exists and obs.owner_uid == "uid-net"
    st = obs.identifiers
    zones = st["zones"]
    assert [z["zoneId"] for z in zones] == sorted(z["zoneId"] for z in zones) and len(zones) == 2
    subnets = {s["SubnetId"]: s for s in ec2().describe_subnets(Filters=[{"Name": "vpc-id", "Values": [st["vpcId"]]}])["Subnets"]}
    private = [subnets[z["privateSubnetId"]] for z in zones]
    public = [subnets[z["publicSubnetId"]] for z in zones]
    assert [s["CidrBlock"] for s in private + public] == ["10.1.0.0/18", "10.1.64.0/18", "10.1.128.0/18", "10.1.192.0/18"]
    assert all(s["MapPublicIpOnLaunch"] for s in public) and not any(s["MapPublicIpOnLaunch"] for s in private)
    assert [s["AvailabilityZoneId"] for s in private] == [z["zoneId"] for z in zones]
    tables = {
        t["RouteTableId"]: t
        for t in ec2().describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [st["vpcId"]]}])["RouteTables"]
    }

    def default_route(rt: str) -> str:
        r = next(r for r in tables[rt]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0")
        return str(r.get("GatewayId") or r.get("NatGatewayId"))

    assert default_route(st["publicRouteTableId"]) == st["internetGatewayId"]
    for z in zones:  # each private subnet leaves through its own zone's NAT gateway (PerZone)
        assert default_route(z["privateRouteTableId"]) == z["natGatewayId"] and z["elasticIp"]
        nat = ec2().describe_nat_gateways(NatGatewayIds=[z["natGatewayId"]])["NatGateways"][0]
        assert nat["SubnetId"] == z["publicSubnetId"]
    assert obs.outputs == {
        "VPC_ID": st["vpcId"],
        "PUBLIC_SUBNET_IDS": ",".join(z["publicSubnetId"] for z in zones),
        "PRIVATE_SUBNET_IDS": ",".join(z["privateSubnetId"] for z in zones),
    }
    sg = ec2().describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [st["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )
    assert sg["SecurityGroups"][0]["IpPermissions"] == [] and sg["SecurityGroups"][0]["IpPermissionsEgress"] == []


def test_single_nat_then_none(aws: None) -> None:
    net = Net({"zones": 3, "natGateways": "Single", "cidr": "10.2.0.0/20"})
    st = net.sync().identifiers
    nats = {z["natGatewayId"] for z in st["zones"]} - {None}
    assert len(st["zones"]) == 3 and len(nats) == 1
    tables = {t["RouteTableId"]: t for t in ec2().describe_route_tables()["RouteTables"]}
    for z in st["zones"]:  # every private table routes through the one gateway
        routes = tables[z["privateRouteTableId"]]["Routes"]
        assert any(r.get("NatGatewayId") in nats for r in routes)
    net.spec["natGateways"] = "None"
    st = net.sync().identifiers
    assert ec2().describe_addresses(Filters=[{"Name": "tag:stackery.io/uid", "Values": ["uid-net"]}])["Addresses"] == []
    tables = {t["RouteTableId"]: t for t in ec2().describe_route_tables()["RouteTables"]}
    for z in st["zones"]:
        assert not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in tables[z["privateRouteTableId"]]["Routes"])


def test_drift_is_seen_and_corrected(aws: None) -> None:
    net = Net({})
    st = net.sync().identifiers
    z = st["zones"][0]
    ec2().delete_route(RouteTableId=z["privateRouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    ec2().modify_subnet_attribute(SubnetId=z["publicSubnetId"], MapPublicIpOnLaunch={"Value": False})
    fields = {d.field for d in A.observe(net.req()).diffs}
    assert f"routeTables.rt-private-{z['zoneId']}" in fields
    assert f"subnets.public-{z['zoneId']}.mapPublicIpOnLaunch" in fields
    assert net.sync().diffs == ()


def test_flow_logs_and_execute_api_endpoint(aws: None) -> None:
    net = Net({"endpoints": {"executeApi": True}, "flowLogs": {"enabled": True, "traffic": "ALL", "retentionDays": 7}})
    st = net.sync().identifiers
    fl = ec2().describe_flow_logs(FlowLogIds=[st["flowLogId"]])["FlowLogs"][0]
    assert fl["TrafficType"] == "ALL" and fl["LogGroupName"] == "/stackery/vpc/net/main" and fl["ResourceId"] == st["vpcId"]
    logs = boto3.client("logs", region_name="us-east-1").describe_log_groups(logGroupNamePrefix="/stackery/vpc/net/main")[
        "logGroups"
    ]
    assert logs[0]["retentionInDays"] == 7
    ep = ec2().describe_vpc_endpoints(VpcEndpointIds=[st["executeApiEndpointId"]])["VpcEndpoints"][0]
    assert ep["VpcEndpointType"] == "Interface" and ep["PrivateDnsEnabled"]
    assert sorted(ep["SubnetIds"]) == sorted(z["privateSubnetId"] for z in st["zones"])
    sg = ec2().describe_security_groups(GroupIds=[g["GroupId"] for g in ep["Groups"]])["SecurityGroups"][0]
    assert [(p["FromPort"], r["CidrIp"]) for p in sg["IpPermissions"] for r in p["IpRanges"]] == [(443, "10.0.0.0/16")]
    # turned off: both go
    net.spec = {}
    st = net.sync().identifiers
    assert ec2().describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [st["vpcId"]]}])["FlowLogs"] == []
    live = [v for v in ec2().describe_vpc_endpoints()["VpcEndpoints"] if v["State"].lower() != "deleted"]
    assert live == []


def test_in_sync_check_is_read_only_within_budget(aws: None) -> None:
    net = Net({"endpoints": {"s3": True, "dynamodb": True}})
    net.sync()
    before = api_calls()
    assert A.observe(net.req()).diffs == ()
    calls = delta(before, api_calls())
    assert writes(calls) == {} and sum(calls.values()) == 9, dict(calls)  # 8 + DescribeVpcEndpoints


def test_delete_order_is_dependents_first(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.client import BaseClient

    net = Net({"endpoints": {"s3": True, "executeApi": True}, "flowLogs": {"enabled": True}})
    net.sync()
    calls: list[str] = []
    real = BaseClient._make_api_call  # type: ignore[attr-defined]

    def spy(self: Any, op: str, params: dict[str, Any]) -> Any:
        if op.startswith(("Delete", "Release", "Detach", "Disassociate")):
            calls.append(op)
        return real(self, op, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    res = A.delete(net.req(), A.observe(net.req()))
    assert res.done and res.confirmed  # moto deletes NAT gateways at once (the waits: the fake tests below)
    order = list(dict.fromkeys(calls))
    assert order == [
        "DeleteFlowLogs",
        "DeleteLogGroup",
        "DeleteRolePolicy",
        "DeleteRole",
        "DeleteVpcEndpoints",
        "DeleteSecurityGroup",
        "DisassociateRouteTable",
        "DeleteRouteTable",
        "DeleteNatGateway",
        "ReleaseAddress",
        "DetachInternetGateway",
        "DeleteInternetGateway",
        "DeleteSubnet",
        "DeleteVpc",
    ]
    assert ec2().describe_vpcs(Filters=[{"Name": "tag:stackery.io/uid", "Values": ["uid-net"]}])["Vpcs"] == []


class FakeEc2:
    """Recording EC2 for the NAT part: gateways in a chosen state (moto never shows pending/deleting)."""

    def __init__(self, state: str) -> None:
        self.state, self.calls = state, []  # type: ignore[var-annotated]

    def describe_nat_gateways(self, **_: Any) -> Any:
        tags = [{"Key": "stackery.io/uid", "Value": "uid-net"}, {"Key": "stackery.io/part", "Value": "nat-z1"}]
        return {"NatGateways": [{"NatGatewayId": "nat-1", "State": self.state, "Tags": tags, "SubnetId": "s-pub"}]}

    def describe_addresses(self, **_: Any) -> Any:
        return {"Addresses": [{"AllocationId": "eip-1", "Tags": [{"Key": "stackery.io/part", "Value": "nat-z1"}]}]}

    def __getattr__(self, op: str) -> Any:
        def record(**kwargs: Any) -> Any:
            self.calls.append(op)
            return {}

        return record


def nat_ctx() -> Context[VirtualNetworkSpec]:
    ctx = Context(Net({}).req())
    ctx.seen["vpc"] = Seen(exists=True, actual={"VpcId": "vpc-1"})
    ctx.seen["subnets"] = Seen(exists=True, actual=Subnets(["z1"], {"z1": "a"}, {"public-z1": {"SubnetId": "s-pub"}}))
    return ctx


def test_a_starting_nat_gateway_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEc2("pending")
    monkeypatch.setattr(vpcrouting, "ec2", lambda ctx: fake)
    seen = vpcrouting.NatGatewaysPart().observe(nat_ctx())
    assert seen.waiting == "NAT gateways starting: nat-1" and seen.waiting_blocks  # route tables wait for it


def test_addresses_are_released_only_after_the_gateways_are_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    part = vpcrouting.NatGatewaysPart()
    fake = FakeEc2("available")
    monkeypatch.setattr(vpcrouting, "ec2", lambda ctx: fake)
    wait = part.delete(nat_ctx(), part.observe(nat_ctx()))
    assert wait is not None and "waiting for NAT gateways nat-1" in wait
    assert fake.calls == ["delete_nat_gateway"]  # no release while the gateway holds the address
    fake.state = "deleting"
    seen = part.observe(nat_ctx())
    assert seen.deleting  # the core waits; it does not call delete again
    fake.state, fake.calls = "deleted", []
    seen = part.observe(nat_ctx())
    assert part.delete(nat_ctx(), seen) is None and fake.calls == ["release_address"]


@pytest.mark.parametrize("cidr", ["10.0.0.1/16", "8.8.0.0/16", "10.0.0.0/25", "10.0.0.0/8"])
def test_invalid_cidr_refused(cidr: str) -> None:
    with pytest.raises(ValidationError):
        VirtualNetworkSpec.model_validate({"cidr": cidr})


def test_function_placed_in_the_network_then_moved_out(aws: None) -> None:
    import json

    from controller.adapters.function import FunctionAdapter
    from controller.api.function import FunctionSpec
    from controller.registry import WIRING

    from .test_function import zip_b64

    net = Net({"natGateways": "Single"})
    network = dict(net.sync().identifiers)
    fa = FunctionAdapter()
    ref = ObjectRef("StackeryFunction", "net", "api", "uid-fn")

    def freq(**spec: Any) -> Any:
        parsed = FunctionSpec.model_validate({"code": {"zipBase64": zip_b64()}, **spec})
        nodes = {("StackeryVirtualNetwork", "main"): network}
        return Request(
            ref=ref, spec=parsed, region="us-east-1", external_name=fa.external_name(ref, parsed), nodes=nodes, wiring=WIRING
        )

    obs = converge(fa, freq(virtualNetwork="main"))
    assert obs.diffs == ()
    group = obs.identifiers["securityGroupId"]
    cfg = boto3.client("lambda", region_name="us-east-1").get_function(FunctionName=fa.external_name(ref, freq().spec))[
        "Configuration"
    ]
    assert sorted(cfg["VpcConfig"]["SubnetIds"]) == sorted(z["privateSubnetId"] for z in network["zones"])
    assert cfg["VpcConfig"]["SecurityGroupIds"] == [group]
    sg = ec2().describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert sg["VpcId"] == network["vpcId"] and {"Key": "stackery.io/uid", "Value": "uid-fn"} in sg["Tags"]
    assert sg["IpPermissions"] == []  # nothing may reach it until a node opens its own group to it
    iam = boto3.client("iam", region_name="us-east-1")
    role = cfg["Role"].rsplit("/", 1)[1]
    doc = iam.get_role_policy(RoleName=role, PolicyName="stackery-connections")["PolicyDocument"]
    doc = doc if isinstance(doc, dict) else json.loads(doc)
    assert any(s["Sid"] == "NetworkInterfaces" for s in doc["Statement"])

    # moving out is an update: no VpcConfig, its group deleted, no ENI permission left
    out = freq()
    out = Request(**{**out.__dict__, "status": {"securityGroupId": group}})
    obs = converge(fa, out)
    assert obs.diffs == () and obs.identifiers["securityGroupId"] is None
    cfg = boto3.client("lambda", region_name="us-east-1").get_function(FunctionName=out.external_name)["Configuration"]
    assert (cfg.get("VpcConfig") or {}).get("SubnetIds") in (None, [])
    assert ec2().describe_security_groups(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroups"] == []
