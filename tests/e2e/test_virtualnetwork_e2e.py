"""StackeryVirtualNetwork on a real apiserver against a moto server: Ready with every id in status,
drift (a private route deleted, a public subnet's MapPublicIpOnLaunch flipped) reported with Report and
put back with Correct, invalid input refused at admission, and a delete that leaves nothing in moto."""

from __future__ import annotations

import json
from typing import Any

import testbed

from .conftest import aws, cond, ready, wait_for

NS = "net"


def network(**spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "stackery.io/v1alpha1",
            "kind": "StackeryVirtualNetwork",
            "metadata": {"name": "main", "namespace": NS},
            "spec": spec,
        }
    )


def left(bed: testbed.TestBed, uid: str) -> dict[str, int]:
    ec2 = aws(bed, "ec2")
    mine = [{"Name": "tag:stackery.io/uid", "Values": [uid]}]
    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted", "deleting")]
    nats = [n for n in nats if {"Key": "stackery.io/uid", "Value": uid} in n.get("Tags", [])]
    found = {
        "vpcs": len(ec2.describe_vpcs(Filters=mine)["Vpcs"]),
        "subnets": len(ec2.describe_subnets(Filters=mine)["Subnets"]),
        "internetGateways": len(ec2.describe_internet_gateways(Filters=mine)["InternetGateways"]),
        "natGateways": len(nats),
        "addresses": len(ec2.describe_addresses(Filters=mine)["Addresses"]),
        "routeTables": len(ec2.describe_route_tables(Filters=mine)["RouteTables"]),
        "endpoints": len(
            [v for v in ec2.describe_vpc_endpoints(Filters=mine)["VpcEndpoints"] if v["State"].lower() != "deleted"]
        ),
        "flowLogs": len(ec2.describe_flow_logs(Filters=mine)["FlowLogs"]),
        "securityGroups": len(ec2.describe_security_groups(Filters=mine)["SecurityGroups"]),
    }
    return {k: v for k, v in found.items() if v}


def test_network_ready_drift_admission_and_delete(bed: testbed.TestBed) -> None:
    bed.kubectl("create", "namespace", NS)
    bed.kubectl(
        "apply",
        "-f",
        "-",
        input=network(
            driftPolicy="Report",
            endpoints={"s3": True, "executeApi": True},
            flowLogs={"enabled": True},
            outputs={"configMapName": "main-network"},
        ),
    )
    obj = wait_for(lambda: ready(bed, "stackeryvirtualnetwork", "main", NS), timeout=90, what="network Ready")
    st, uid = obj["status"], obj["metadata"]["uid"]
    assert st["vpcId"].startswith("vpc-") and st["cidr"] == "10.0.0.0/16" and st["internetGatewayId"].startswith("igw-")
    assert st["publicRouteTableId"].startswith("rtb-") and set(st["endpointIds"]) == {"s3"}
    assert st["executeApiEndpointId"].startswith("vpce-") and st["flowLogId"].startswith("fl-")
    assert len(st["zones"]) == 2
    for z in st["zones"]:
        assert z["zoneId"] and z["publicSubnetId"] and z["privateSubnetId"] and z["natGatewayId"] and z["elasticIp"]
        assert z["privateRouteTableId"]
    assert left(bed, uid) == {
        "vpcs": 1,
        "subnets": 4,
        "internetGateways": 1,
        "natGateways": 2,
        "addresses": 2,
        "routeTables": 3,
        "endpoints": 2,
        "flowLogs": 1,
        "securityGroups": 1,
    }
    cm = json.loads(bed.kubectl("get", "configmap", "main-network", "-n", NS, "-o", "json").stdout)["data"]
    assert cm["VPC_ID"] == st["vpcId"] and cm["PRIVATE_SUBNET_IDS"] == ",".join(z["privateSubnetId"] for z in st["zones"])

    # drift behind the operator's back
    ec2 = aws(bed, "ec2")
    z = st["zones"][0]
    ec2.delete_route(RouteTableId=z["privateRouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    ec2.modify_subnet_attribute(SubnetId=z["publicSubnetId"], MapPublicIpOnLaunch={"Value": False})
    drifted = wait_for(
        lambda: (o := bed.get("stackeryvirtualnetwork", "main", NS)) and len(o["status"].get("drift") or []) >= 2 and o,
        timeout=60,
        what="drift reported",
    )
    fields = {d["field"] for d in drifted["status"]["drift"]}
    assert f"routeTables.rt-private-{z['zoneId']}" in fields and f"subnets.public-{z['zoneId']}.mapPublicIpOnLaunch" in fields
    assert cond(drifted, "Synced")["reason"] == "DriftDetected"
    bed.kubectl("patch", "stackeryvirtualnetwork", "main", "-n", NS, "--type=merge", "-p", '{"spec": {"driftPolicy": "Correct"}}')

    def corrected() -> bool:
        rt = ec2.describe_route_tables(RouteTableIds=[z["privateRouteTableId"]])["RouteTables"][0]
        sub = ec2.describe_subnets(SubnetIds=[z["publicSubnetId"]])["Subnets"][0]
        return any(r.get("NatGatewayId") == z["natGatewayId"] for r in rt["Routes"]) and bool(sub["MapPublicIpOnLaunch"])

    wait_for(corrected, timeout=60, what="drift corrected")

    # admission: the layout never moves, a public range is refused
    moved = bed.kubectl(
        "patch",
        "stackeryvirtualnetwork",
        "main",
        "-n",
        NS,
        "--type=merge",
        "-p",
        '{"spec": {"cidr": "10.9.0.0/16"}}',
        check=False,
    )
    assert moved.returncode != 0 and "cidr is immutable" in moved.stderr
    wide = bed.kubectl("apply", "-f", "-", input=network(cidr="10.0.0.0/8").replace('"main"', '"wide"'), check=False)
    assert wide.returncode != 0 and "cidr" in wide.stderr

    bed.kubectl("delete", "stackeryvirtualnetwork", "main", "-n", NS, "--timeout=90s")
    assert left(bed, uid) == {}


def test_function_in_the_network_and_a_network_in_use_is_not_deleted(bed: testbed.TestBed) -> None:
    from .test_table_function_e2e import ZIP

    ns = "net-used"
    bed.kubectl("create", "namespace", ns)
    docs = [
        {
            "apiVersion": "stackery.io/v1alpha1",
            "kind": "StackeryVirtualNetwork",
            "metadata": {"name": "main", "namespace": ns},
            "spec": {"natGateways": "Single"},
        },
        {
            "apiVersion": "stackery.io/v1alpha1",
            "kind": "StackeryFunction",
            "metadata": {"name": "inside", "namespace": ns},
            "spec": {"code": {"zipBase64": ZIP}, "virtualNetwork": "main"},
        },
    ]
    bed.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    net = wait_for(lambda: ready(bed, "stackeryvirtualnetwork", "main", ns), timeout=90, what="network Ready")
    fn = wait_for(lambda: ready(bed, "stackeryfunction", "inside", ns), timeout=90, what="function Ready in the network")
    group = fn["status"]["securityGroupId"]
    cfg = aws(bed, "lambda").get_function(FunctionName=fn["status"]["externalName"])["Configuration"]["VpcConfig"]
    assert sorted(cfg["SubnetIds"]) == sorted(z["privateSubnetId"] for z in net["status"]["zones"]) and cfg[
        "SecurityGroupIds"
    ] == [group]

    # the network is in use: deleting it is refused, naming the user, and nothing is deleted
    bed.kubectl("delete", "stackeryvirtualnetwork", "main", "-n", ns, "--wait=false")
    held = wait_for(
        lambda: (o := bed.get("stackeryvirtualnetwork", "main", ns)) and cond(o, "Stalled").get("reason") == "InUse" and o,
        timeout=60,
        what="InUse",
    )
    assert "StackeryFunction inside" in cond(held, "Stalled")["message"]
    assert held["metadata"]["finalizers"] == ["stackery.io/finalizer"]
    assert left(bed, held["metadata"]["uid"])["vpcs"] == 1
    # once the function is gone (with its security group) the network goes too
    bed.kubectl("delete", "stackeryfunction", "inside", "-n", ns, "--timeout=60s")
    assert aws(bed, "ec2").describe_security_groups(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroups"] == []
    wait_for(
        lambda: bed.kubectl("get", "stackeryvirtualnetwork", "main", "-n", ns, check=False).returncode != 0,
        timeout=90,
        what="network deleted",
    )
    assert left(bed, held["metadata"]["uid"]) == {}
