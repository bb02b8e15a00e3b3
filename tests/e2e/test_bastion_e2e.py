"""StackeryBastion on a real apiserver against a moto server: Ready with the ssh line, users added and
removed (one from a ConfigStore) with the same instance, the group opened to the internet reported
then put back, admission refusals, and a delete that leaves no instance, group, profile or parameter."""

from __future__ import annotations

import functools
import json

import testbed

from tests.unit.test_bastion import rsa_key
from tests.unit.test_contract import ssh_key

from .conftest import apply_list, aws, cond, node, ready, wait_for

NS = "ops"


obj = functools.partial(node, namespace=NS)


def users(bed: testbed.TestBed) -> dict[str, int]:
    o = bed.get("stackerybastion", "jump", NS)
    return {u["name"]: len(u["fingerprints"]) for u in o["status"].get("users") or []}


def test_bastion_users_drift_admission_and_delete(bed: testbed.TestBed) -> None:
    bed.kubectl("create", "namespace", NS)
    apply_list(
        bed,
        obj("StackeryVirtualNetwork", "net", natGateways="None"),
        obj("StackeryConfigStore", "people", parameters={"users/carol": {"value": ssh_key("carol")}}),
        obj(
            "StackeryBastion",
            "jump",
            virtualNetwork="net",
            users=[{"name": "alice", "publicKey": ssh_key("alice")}],
            fromConfigStore="people",
            allowedCidrs=["192.0.2.0/24"],
            driftPolicy="Report",
        ),
    )
    jump = wait_for(lambda: ready(bed, "stackerybastion", "jump", NS), timeout=120, what="bastion Ready")
    st = jump["status"]
    assert cond(jump, "Ready")["message"] == f"ssh alice@{st['publicIp']}" and st["publicIp"]
    assert users(bed) == {"alice": 1, "carol": 1}
    ec2 = aws(bed, "ec2")
    inst = ec2.describe_instances(InstanceIds=[st["instanceId"]])["Reservations"][0]["Instances"][0]
    assert inst["MetadataOptions"]["HttpTokens"] == "required" and inst["IamInstanceProfile"]

    # the group opened to 0.0.0.0/0 behind the operator's back: reported, then put back
    ec2.authorize_security_group_ingress(
        GroupId=st["securityGroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    wait_for(
        lambda: "ssh.allowedCidrs" in {d["field"] for d in bed.get("stackerybastion", "jump", NS)["status"].get("drift") or []},
        timeout=60,
        what="drift reported",
    )
    bed.kubectl("patch", "stackerybastion", "jump", "-n", NS, "--type=merge", "-p", '{"spec": {"driftPolicy": "Correct"}}')

    def closed() -> bool:
        sg = ec2.describe_security_groups(GroupIds=[st["securityGroupId"]])["SecurityGroups"][0]
        return [r["CidrIp"] for p in sg["IpPermissions"] for r in p["IpRanges"]] == ["192.0.2.0/24"]

    wait_for(closed, timeout=60, what="group closed again")

    # users change (driftPolicy Correct now: a ConfigStore change is applied at the next check): inline bob added, alice removed; carol's keys change in the ConfigStore — same instance
    bed.kubectl(
        "patch",
        "stackerybastion",
        "jump",
        "-n",
        NS,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"users": [{"name": "bob", "publicKey": ssh_key("bob")}]}}),
    )
    bed.kubectl(
        "patch",
        "stackeryconfigstore",
        "people",
        "-n",
        NS,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"parameters": {"users/carol": {"value": ssh_key("carol") + "\n" + ssh_key("carol2")}}}}),
    )
    wait_for(lambda: users(bed) == {"bob": 1, "carol": 2}, timeout=60, what="users updated")
    assert bed.get("stackerybastion", "jump", NS)["status"]["instanceId"] == st["instanceId"]

    # admission: a private key, a short RSA key, and SSH open to the internet without opt-in
    for spec, words in (
        (
            {
                "users": [
                    {"name": "eve", "publicKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"}
                ]
            },
            "private key",
        ),
        ({"users": [{"name": "eve", "publicKey": rsa_key(1024)}]}, "2048"),
        ({"users": [{"name": "eve", "publicKey": ssh_key("eve")}], "allowedCidrs": ["0.0.0.0/0"]}, "allowAnywhere"),
    ):
        bad = obj("StackeryBastion", "bad", virtualNetwork="net", allowedCidrs=["192.0.2.0/24"])
        bad["spec"].update(spec)
        res = bed.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
        assert res.returncode != 0 and words in res.stderr, (words, res.stderr)

    uid = jump["metadata"]["uid"]
    bed.kubectl("delete", "stackerybastion", "jump", "-n", NS, "--timeout=90s")
    mine = [{"Name": "tag:stackery.io/uid", "Values": [uid]}]
    live = [
        i
        for r in ec2.describe_instances(Filters=mine)["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    assert live == [] and ec2.describe_security_groups(Filters=mine)["SecurityGroups"] == []
    iam = aws(bed, "iam")
    assert st["instanceProfile"] not in {p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]}
    assert not aws(bed, "ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [st["usersParameter"]]}]
    )["Parameters"]
