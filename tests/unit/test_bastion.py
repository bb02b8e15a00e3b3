"""Bastion against moto (in-process): launched with every security setting explicit, users changed
without replacing the instance (inline and from a ConfigStore), the group kept to allowedCidrs, and
the public-key rules of the model."""

from __future__ import annotations

import base64
import struct
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from controller.adapters.bastion import BastionAdapter, fingerprint, users_parameter
from controller.adapters.configstore import ConfigStoreAdapter
from controller.adapters.virtualnetwork import VirtualNetworkAdapter
from controller.api.bastion import BastionSpec
from controller.api.configstore import ConfigStoreSpec
from controller.api.virtualnetwork import VirtualNetworkSpec
from controller.core.adapter import ObjectRef, Request

from .helpers import Driven, converge
from .test_contract import ssh_key

A = BastionAdapter()
REF = ObjectRef("StackeryBastion", "ops", "jump", "uid-bastion")


def rsa_key(bits: int) -> str:
    def mpint(n: int) -> bytes:
        raw = n.to_bytes((n.bit_length() + 8) // 8, "big")
        return struct.pack(">I", len(raw)) + raw

    blob = struct.pack(">I", 7) + b"ssh-rsa" + mpint(65537) + mpint((1 << (bits - 1)) | 1)
    return f"ssh-rsa {base64.b64encode(blob).decode()} rsa@example"


def make_network() -> dict[str, Any]:
    va = VirtualNetworkAdapter()
    ref = ObjectRef("StackeryVirtualNetwork", "ops", "net", "uid-net")
    spec = VirtualNetworkSpec.model_validate({"natGateways": "None"})
    return dict(
        converge(va, Request(ref=ref, spec=spec, region="us-east-1", external_name=va.external_name(ref, spec))).identifiers
    )


def make_store(users: dict[str, str]) -> dict[str, Any]:
    ca = ConfigStoreAdapter()
    ref = ObjectRef("StackeryConfigStore", "ops", "people", "uid-cs")
    spec = ConfigStoreSpec.model_validate({"parameters": {f"users/{n}": {"value": k} for n, k in users.items()}})
    return dict(
        converge(ca, Request(ref=ref, spec=spec, region="us-east-1", external_name=ca.external_name(ref, spec))).identifiers
    )


class Jump(Driven):
    adapter, model, ref, passes = A, BastionSpec, REF, 6


def ec2() -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def test_launch_users_and_group(aws: None) -> None:
    net = make_network()
    jump = Jump(
        {"virtualNetwork": "net", "users": [{"name": "alice", "publicKey": ssh_key("alice")}], "allowedCidrs": ["192.0.2.0/24"]},
        {("StackeryVirtualNetwork", "net"): net},
    )
    obs = jump.sync()
    assert obs.diffs == () and obs.waiting is None
    inst = ec2().describe_instances(InstanceIds=[obs.identifiers["instanceId"]])["Reservations"][0]["Instances"][0]
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    assert inst["IamInstanceProfile"]["Arn"].endswith(obs.identifiers["instanceProfile"])
    assert inst["SubnetId"] in {z["publicSubnetId"] for z in net["zones"]}
    assert [g["GroupId"] for g in inst["SecurityGroups"]] == [obs.identifiers["securityGroupId"]]
    assert obs.message.startswith("ssh alice@")
    assert obs.identifiers["users"] == [{"name": "alice", "fingerprints": [fingerprint(ssh_key("alice"))]}]
    first = obs.identifiers["instanceId"]

    # a user added and one removed: the parameter changes, the instance stays
    jump.spec["users"] = [{"name": "bob", "publicKey": ssh_key("bob")}]
    obs = jump.sync()
    assert obs.identifiers["instanceId"] == first
    value = boto3.client("ssm", region_name="us-east-1").get_parameter(Name=users_parameter(REF))["Parameter"]["Value"]
    assert '"bob"' in value and '"alice"' not in value

    # the group opened to the internet behind the operator's back: seen and put back
    ec2().authorize_security_group_ingress(
        GroupId=obs.identifiers["securityGroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    assert "ssh.allowedCidrs" in {d.field for d in A.observe(jump.req()).diffs}
    assert jump.sync().diffs == ()
    sg = ec2().describe_security_groups(GroupIds=[obs.identifiers["securityGroupId"]])["SecurityGroups"][0]
    assert [r["CidrIp"] for p in sg["IpPermissions"] for r in p["IpRanges"]] == ["192.0.2.0/24"]


def test_users_from_a_config_store(aws: None) -> None:
    net = make_network()
    store = make_store({"carol": ssh_key("carol"), "dave": ssh_key("dave") + "\n" + ssh_key("dave2")})
    jump = Jump(
        {"virtualNetwork": "net", "fromConfigStore": "people", "allowedCidrs": ["192.0.2.0/24"]},
        {("StackeryVirtualNetwork", "net"): net, ("StackeryConfigStore", "people"): store},
    )
    obs = jump.sync()
    users = {u["name"]: len(u["fingerprints"]) for u in obs.identifiers["users"]}
    assert users == {"carol": 1, "dave": 2}


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "private key"),
        (rsa_key(1024), "at least 2048 bits"),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "must start with"),
        ("ssh-ed25519 not-base64!", "base64"),
    ],
)
def test_bad_keys_refused_with_a_reason(key: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        BastionSpec.model_validate(
            {"virtualNetwork": "n", "users": [{"name": "x", "publicKey": key}], "allowedCidrs": ["192.0.2.0/24"]}
        )


def test_good_keys_and_the_internet_needs_opt_in() -> None:
    ok = BastionSpec.model_validate(
        {
            "virtualNetwork": "n",
            "users": [{"name": "x", "publicKey": rsa_key(2048)}, {"name": "y", "publicKey": ssh_key()}],
            "allowedCidrs": ["192.0.2.0/24"],
        }
    )
    assert len(ok.users) == 2
    with pytest.raises(ValidationError, match="allowAnywhere"):
        BastionSpec.model_validate(
            {"virtualNetwork": "n", "users": [{"name": "x", "publicKey": ssh_key()}], "allowedCidrs": ["0.0.0.0/0"]}
        )
    BastionSpec.model_validate(
        {
            "virtualNetwork": "n",
            "users": [{"name": "x", "publicKey": ssh_key()}],
            "allowedCidrs": ["0.0.0.0/0"],
            "allowAnywhere": True,
        }
    )


def test_status_says_when_the_instance_applied_the_users(aws: None) -> None:
    """The instance reports "<sha256/16 of the users JSON> <time>" after each apply (its user data); no
    instance runs in moto, so the report is written here as the script would."""
    import hashlib
    import json

    net = make_network()
    jump = Jump(
        {"virtualNetwork": "net", "users": [{"name": "alice", "publicKey": ssh_key("alice")}], "allowedCidrs": ["192.0.2.0/24"]},
        {("StackeryVirtualNetwork", "net"): net},
    )
    obs = jump.sync()
    assert obs.identifiers["usersApplied"] is None and obs.identifiers["usersAppliedAt"] is None  # not reported yet
    ssm = boto3.client("ssm", region_name="us-east-1")
    value = ssm.get_parameter(Name=users_parameter(REF))["Parameter"]["Value"]
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    ssm.put_parameter(Name=users_parameter(REF) + "-applied", Type="String", Value=f"{digest} 2026-11-28T03:00:00Z")
    obs = A.observe(jump.req())
    assert obs.identifiers["usersApplied"] is True and obs.identifiers["usersAppliedAt"] == "2026-11-28T03:00:00Z"
    jump.spec["users"].append({"name": "bob", "publicKey": ssh_key("bob")})
    obs = jump.sync()
    assert obs.identifiers["usersApplied"] is False  # a new set: not applied until the instance reports again
    assert json.loads(ssm.get_parameter(Name=users_parameter(REF))["Parameter"]["Value"]).keys() == {"alice", "bob"}
    A.delete(jump.req(), A.observe(jump.req()))
    left = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [users_parameter(REF)]}])
    assert left["Parameters"] == []


def test_delete_works_when_the_network_and_database_are_no_longer_handed_over(aws: None) -> None:
    """A whole namespace deleted at once: the network and a connected database are deleting too and are not
    resolved for the bastion any more; its delete still finds its group (by name and ownership tag)."""
    net = make_network()
    jump = Jump(
        {"virtualNetwork": "net", "users": [{"name": "alice", "publicKey": ssh_key("alice")}], "allowedCidrs": ["192.0.2.0/24"]},
        {("StackeryVirtualNetwork", "net"): net},
    )
    jump.sync()
    jump.spec["connections"] = [{"kind": "StackeryDatabase", "name": "db"}]
    jump.nodes = {}
    for _ in range(6):
        res = A.delete(jump.req(), A.observe(jump.req()))
        if res.done:
            break
    assert res.done and not A.observe(jump.req()).exists
    mine = [{"Name": "tag:stackery.io/uid", "Values": [REF.uid]}]
    assert ec2().describe_security_groups(Filters=mine)["SecurityGroups"] == []
