"""Bastion: five parts — an instance role + profile (SSM Session Manager, read of its users), its
security group (port 22 from allowedCidrs only), the users parameter, and the instance — composed by
core.parts.

Users live in an SSM parameter (JSON: name -> public keys) that the instance reads at boot and every
minute (user data installs a timer), so adding or removing a user rewrites the parameter and never
replaces the instance. The instance is launched with every security setting explicit on RunInstances
(IMDSv2 required, encrypted root volume, the profile): moto applies those, not launch templates.

Read budget of one drift check: GetRole, GetRolePolicy, GetInstanceProfile, DescribeSecurityGroups (by
name, rules included), GetParameters (users + the instance's report), DescribeInstances = 6
(+1 GetParametersByPath with fromConfigStore).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from ..api.bastion import BastionSpec
from ..aws.clients import account_id, client, error_code, or_none
from ..core.adapter import NodeRef, ObjectRef, Reference
from ..core.parts import PART_TAG, Composite, Context, Seen, part_tags
from ..core.wiring import network_groups
from ..errors import RecoverableError
from ..policy import Claim
from .common import compare, dns_name, owner_of, tag_dict, tag_list
from .execrole import ExecutionRole
from .placement import delete_group, ensure_group, read_group

Ctx = Context[BastionSpec]
ROLE = ExecutionRole("stackery-bastion", "ec2.amazonaws.com")
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
NETWORK = "StackeryVirtualNetwork"
USER_DATA = """#!/bin/bash
# stackery bastion: users and keys from SSM parameter {param}, applied at boot and every minute
cat > /usr/local/bin/stackery-users <<'EOF'
#!/bin/bash
set -eu
json=$(aws ssm get-parameter --region {region} --name {param} --query Parameter.Value --output text)
for u in $(echo "$json" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))'); do
  id "$u" >/dev/null 2>&1 || useradd -m "$u"
  install -d -m 700 -o "$u" -g "$u" /home/$u/.ssh
  echo "$json" | python3 -c "import json,sys; print(chr(10).join(json.load(sys.stdin)['$u']))" > /home/$u/.ssh/authorized_keys
  chown "$u:$u" /home/$u/.ssh/authorized_keys; chmod 600 /home/$u/.ssh/authorized_keys
done
for h in /home/*; do u=$(basename "$h"); [ "$u" = ec2-user ] && continue
  echo "$json" | python3 -c "import json,sys; sys.exit(0 if '$u' in json.load(sys.stdin) else 1)" || : > "$h/.ssh/authorized_keys"
done
sum=$(printf %s "$json" | sha256sum | cut -c1-16)
aws ssm put-parameter --region {region} --name {param}-applied --type String --overwrite --value "$sum $(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
EOF
chmod 755 /usr/local/bin/stackery-users
/usr/local/bin/stackery-users
echo '* * * * * root /usr/local/bin/stackery-users' > /etc/cron.d/stackery-users
"""


def network(ctx: Ctx) -> Mapping[str, Any]:
    """The network's status. While a whole namespace is deleted at once the network (deleting too) may not
    be handed over any more; a delete then finds its group by name and ownership tag in any VPC."""
    return ctx.req.nodes.get((NETWORK, ctx.req.spec.virtual_network)) or {}


def fingerprint(key: str) -> str:
    digest = hashlib.sha256(base64.b64decode(key.split()[1])).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def users_parameter(ref: ObjectRef) -> str:
    return f"/stackery/bastion/{ref.namespace}/{ref.name}/users"


def profile_name(ref: ObjectRef) -> str:
    return dns_name("stackery-bastion", ref, max_len=128)


# ------------------------------------------------------------------ role + instance profile
class ProfilePart:
    name = "profile"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def _policy(self, ctx: Ctx) -> dict[str, Any]:
        region, account = ctx.req.region, account_id(ctx.req.region)
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "SessionManager",
                    "Effect": "Allow",
                    "Action": ["ssm:UpdateInstanceInformation", "ssmmessages:*", "ec2messages:*"],
                    "Resource": "*",
                },
                {
                    "Sid": "Users",
                    "Effect": "Allow",
                    "Action": ["ssm:GetParameter"],
                    "Resource": f"arn:aws:ssm:{region}:{account}:parameter{users_parameter(ctx.req.ref)}",
                },
                {
                    "Sid": "UsersApplied",
                    "Effect": "Allow",
                    "Action": ["ssm:PutParameter"],
                    "Resource": f"arn:aws:ssm:{region}:{account}:parameter{users_parameter(ctx.req.ref)}-applied",
                },
            ],
        }

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        policy = ROLE.policy(ctx.req)
        got = or_none(
            lambda: client("iam", ctx.req.region).get_instance_profile(InstanceProfileName=profile_name(ctx.req.ref)),
            "NoSuchEntity",
        )
        if policy is None and got is None and not ROLE.held(ctx.req):  # (a role without its policy is ours too)
            return Seen(exists=False)
        prof = dict(got["InstanceProfile"]) if got else {}
        roles = [r["RoleName"] for r in prof.get("Roles", [])]
        diffs = [*compare("role.policy", self._policy(ctx), policy), *compare("profile.role", [ROLE.name(ctx.req.ref)], roles)]
        return Seen(
            exists=True,
            actual=prof,
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={"instanceProfile": profile_name(ctx.req.ref)},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        iam, name = client("iam", ctx.req.region), profile_name(ctx.req.ref)
        ROLE.ensure(ctx.req, self._policy(ctx), f"Bastion {ctx.req.ref.namespace}/{ctx.req.ref.name}")
        prof = dict(seen.actual or {})
        if not prof:
            try:
                prof = iam.create_instance_profile(
                    InstanceProfileName=name, Path=ROLE.path(ctx.req.ref), Tags=tag_list(ctx.req.tags())
                )["InstanceProfile"]
            except Exception as exc:
                if error_code(exc) != "EntityAlreadyExists":
                    raise
                prof = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        if not any(r["RoleName"] == ROLE.name(ctx.req.ref) for r in prof.get("Roles", [])):
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=ROLE.name(ctx.req.ref))
        return Seen(
            exists=True,
            actual={**prof, "Roles": [{"RoleName": ROLE.name(ctx.req.ref)}]},
            owner_uid=ctx.req.ref.uid,
            identifiers={"instanceProfile": name},
        )

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        iam, name = client("iam", ctx.req.region), profile_name(ctx.req.ref)
        for r in (seen.actual or {}).get("Roles", []):
            or_none(
                partial(iam.remove_role_from_instance_profile, InstanceProfileName=name, RoleName=r["RoleName"]), "NoSuchEntity"
            )
        or_none(lambda: iam.delete_instance_profile(InstanceProfileName=name), "NoSuchEntity")
        ROLE.delete(ctx.req)
        return None


# ------------------------------------------------------------------ security group
def wanted_rules(ctx: Ctx) -> list[str]:
    return sorted(set(ctx.req.spec.allowed_cidrs))


class SecurityGroupPart:
    name = "securityGroup"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        vpc = network(ctx).get("vpcId")
        sg = read_group(ctx.req, str(vpc) if vpc else None)
        if sg is None:
            return Seen(exists=False)
        return self._seen(ctx, dict(sg))

    def _seen(self, ctx: Ctx, sg: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        have = sorted(
            r["CidrIp"]
            for p in sg.get("IpPermissions", [])
            if p.get("FromPort") == 22 and p.get("ToPort") == 22
            for r in p.get("IpRanges", [])
        )
        others = [p for p in sg.get("IpPermissions", []) if not (p.get("FromPort") == 22 and p.get("ToPort") == 22)]
        return Seen(
            exists=True,
            actual=dict(sg),
            owner_uid=ctx.req.ref.uid,
            diffs=(
                *compare("ssh.allowedCidrs", wanted_rules(ctx), have),
                *compare("ingress.other", [], [p.get("IpProtocol") for p in others]),
            ),
            identifiers={"securityGroupId": sg["GroupId"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        e = client("ec2", ctx.req.region)
        vpc = str(network(ctx)["vpcId"])
        # observe read the group with its rules; only a group observe did not see is read (or made) here
        sg = dict(seen.actual) if seen.actual else (read_group(ctx.req, vpc) or {"GroupId": ensure_group(ctx.req, vpc)})
        group = str(sg["GroupId"])
        if sg.get("IpPermissions"):
            e.revoke_security_group_ingress(GroupId=group, IpPermissions=sg["IpPermissions"])
        e.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": c, "Description": "ssh"} for c in wanted_rules(ctx)],
                }
            ],
        )
        perms = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": c} for c in wanted_rules(ctx)]}]
        return self._seen(ctx, {**sg, "IpPermissions": perms})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        return delete_group(ctx.req, str((seen.actual or {})["GroupId"]))


# ------------------------------------------------------------------ users
def wanted_users(ctx: Ctx) -> dict[str, list[str]]:
    """name -> keys: the spec's users, then the ConfigStore's (parameters under users/)."""
    out: dict[str, list[str]] = {}
    for u in ctx.req.spec.users:
        out.setdefault(u.name, []).append(u.public_key)
    store = ctx.req.spec.from_config_store
    if store:
        path = str(ctx.req.nodes[("StackeryConfigStore", store)].get("path") or "")
        got = client("ssm", ctx.req.region).get_parameters_by_path(Path=path + "users", Recursive=True, WithDecryption=True)
        for p in got.get("Parameters", []):
            name = p["Name"].rsplit("/", 1)[1]
            keys = [k.strip() for k in p["Value"].splitlines() if k.strip()]
            out.setdefault(name, []).extend(keys)
    return {k: sorted(set(v)) for k, v in sorted(out.items())}


class UsersPart:
    name = "users"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        name = users_parameter(ctx.req.ref)
        # one call for the users and what the instance last reported applying ("<sha256/16> <time>")
        got = client("ssm", ctx.req.region).get_parameters(Names=[name, name + "-applied"]).get("Parameters", [])
        values = {p["Name"]: p["Value"] for p in got}
        want = wanted_users(ctx)
        if name not in values:
            return Seen(exists=False, actual={"want": want})
        return self._seen(ctx, want, json.loads(values[name]), values.get(name + "-applied"))

    def _seen(
        self, ctx: Ctx, want: dict[str, list[str]], have: dict[str, list[str]], applied: str | None = None
    ) -> Seen[dict[str, Any]]:
        status = [{"name": n, "fingerprints": [fingerprint(k) for k in keys]} for n, keys in sorted(have.items())]
        current = hashlib.sha256(json.dumps(have, sort_keys=True).encode()).hexdigest()[:16]
        applied_sum, _, applied_at = (applied or "").partition(" ")
        return Seen(
            exists=True,
            actual={"want": want, "have": have},
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(
                compare(
                    "users",
                    {n: [fingerprint(k) for k in v] for n, v in want.items()},
                    {n: [fingerprint(k) for k in v] for n, v in have.items()},
                )
            ),
            identifiers={
                "users": status,
                "usersParameter": users_parameter(ctx.req.ref),
                "usersAppliedAt": applied_at or None,
                "usersApplied": applied_sum == current if applied else None,
            },
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        want = (seen.actual or {}).get("want") or wanted_users(ctx)
        ssm, name, value = client("ssm", ctx.req.region), users_parameter(ctx.req.ref), json.dumps(want, sort_keys=True)
        if not seen.exists:
            try:
                ssm.put_parameter(Name=name, Value=value, Type="String", Tags=tag_list(ctx.req.tags()))
                return self._seen(ctx, want, want)
            except Exception as exc:
                if error_code(exc) != "ParameterAlreadyExists":
                    raise
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        return self._seen(ctx, want, want)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        name = users_parameter(ctx.req.ref)
        client("ssm", ctx.req.region).delete_parameters(Names=[name, name + "-applied"])  # missing ones are ignored
        return None


# ------------------------------------------------------------------ instance
def groups(ctx: Ctx, own: str) -> list[str]:
    """Its own group plus the client group of each connected database (same network, or refused)."""
    spec = ctx.req.spec
    carried = network_groups(
        f"StackeryBastion {ctx.req.ref.name}",
        spec.virtual_network,
        [(c.kind, c.name) for c in spec.connections],
        ctx.req.nodes,
        ctx.req.wiring,
    )
    return sorted({own, *carried})


class InstancePart:
    name = "instance"
    after: tuple[str, ...] = ("profile", "securityGroup", "users")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        e = client("ec2", ctx.req.region)
        filters = [
            {"Name": "tag:stackery.io/uid", "Values": [ctx.req.ref.uid]},
            {"Name": f"tag:{PART_TAG}", "Values": ["instance"]},
        ]
        found = [i for r in e.describe_instances(Filters=filters).get("Reservations", []) for i in r["Instances"]]
        live = [i for i in found if i["State"]["Name"] != "terminated"]
        if not live:
            return Seen(exists=False)
        return self._seen(ctx, live[0])

    def _seen(self, ctx: Ctx, inst: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        uid, owner = owner_of(tag_dict(inst.get("Tags")))
        state = inst["State"]["Name"]
        sg = ctx.seen.get("securityGroup")
        group = groups(ctx, sg.actual["GroupId"]) if sg is not None and sg.actual else None
        diffs = [
            *compare("instanceType", ctx.req.spec.instance_type, inst.get("InstanceType")),
            *compare("imdsv2", "required", (inst.get("MetadataOptions") or {}).get("HttpTokens")),
        ]
        if group:
            diffs += compare("instance.securityGroups", group, sorted(g["GroupId"] for g in inst.get("SecurityGroups", [])))
        user = next((u.name for u in ctx.req.spec.users), "USER")
        ip = inst.get("PublicIpAddress")
        return Seen(
            exists=True,
            actual=dict(inst),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "instanceId": inst["InstanceId"],
                "externalName": inst["InstanceId"],
                "publicIp": ip,
                "publicDnsName": inst.get("PublicDnsName") or None,
            },
            outputs={"BASTION_HOST": str(ip or ""), "BASTION_INSTANCE_ID": inst["InstanceId"]},
            waiting=None if state == "running" else f"instance {inst['InstanceId']} is {state}",
            waiting_reason="InstanceStarting",
            deleting=state in ("shutting-down", "stopping"),
            message=f"ssh {user}@{ip}" if ip else "",
        )

    def _image(self, ctx: Ctx) -> str:
        if ctx.req.spec.image_id:
            return ctx.req.spec.image_id
        return str(client("ssm", ctx.req.region).get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"])

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        e = client("ec2", ctx.req.region)
        group = groups(ctx, str(ctx.seen["securityGroup"].actual["GroupId"]))  # type: ignore[index]
        if seen.exists and seen.actual:  # drift: fixable in place (type needs a stop: replaced instead)
            inst = seen.actual
            fields = {d.field for d in seen.diffs}
            if "instance.securityGroups" in fields:
                e.modify_instance_attribute(InstanceId=inst["InstanceId"], Groups=group)
            if "imdsv2" in fields:
                e.modify_instance_metadata_options(InstanceId=inst["InstanceId"], HttpTokens="required", HttpEndpoint="enabled")
            if "instanceType" not in fields:
                return self._seen(
                    ctx,
                    {**inst, "SecurityGroups": [{"GroupId": g} for g in group], "MetadataOptions": {"HttpTokens": "required"}},
                )
            e.terminate_instances(InstanceIds=[inst["InstanceId"]])
        zones = network(ctx).get("zones") or []
        subnet = next((z["publicSubnetId"] for z in zones if z.get("publicSubnetId")), None)
        try:
            made = e.run_instances(
                ImageId=self._image(ctx),
                InstanceType=ctx.req.spec.instance_type,
                MinCount=1,
                MaxCount=1,
                NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": group, "AssociatePublicIpAddress": True}],
                IamInstanceProfile={"Name": profile_name(ctx.req.ref)},
                MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
                BlockDeviceMappings=[
                    {
                        "DeviceName": "/dev/xvda",
                        "Ebs": {"Encrypted": True, "VolumeSize": 8, "VolumeType": "gp3", "DeleteOnTermination": True},
                    }
                ],
                UserData=USER_DATA.format(param=users_parameter(ctx.req.ref), region=ctx.req.region),
                ClientToken=f"{ctx.req.ref.uid}-{ctx.req.spec.instance_type}"[:64],
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": tag_list(part_tags(ctx.req, "instance"))},
                    {"ResourceType": "volume", "Tags": tag_list(part_tags(ctx.req, "volume"))},
                ],
            )
        except Exception as exc:
            if error_code(exc) == "InvalidParameterValue" and "profile" in str(exc).lower():
                raise RecoverableError(f"instance profile not usable yet (IAM is eventually consistent): {exc}") from None
            raise
        return self._seen(ctx, made["Instances"][0])

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        inst = seen.actual or {}
        client("ec2", ctx.req.region).terminate_instances(InstanceIds=[inst["InstanceId"]])
        return None


class BastionAdapter(Composite[BastionSpec]):
    def __init__(self) -> None:
        super().__init__([ProfilePart(), SecurityGroupPart(), UsersPart(), InstancePart()], primary="instance")

    def external_name(self, ref: ObjectRef, spec: BastionSpec) -> str:
        return dns_name("stackery-bastion", ref, max_len=128)

    def references(self, spec: BastionSpec) -> list[Reference]:
        refs: list[Reference] = [NodeRef(NETWORK, spec.virtual_network, role="placement")]
        if spec.from_config_store:
            refs.append(NodeRef("StackeryConfigStore", spec.from_config_store, role="users"))
        refs += [NodeRef(c.kind, c.name, wire=True, role="connection") for c in spec.connections]
        return refs

    def claims(self, spec: BastionSpec) -> list[Claim]:
        return []
