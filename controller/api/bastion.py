"""StackeryBastion: an SSH server in a Virtual Network's public subnet for named users and their keys.

Stackery's Bastion node: "grant specific users SSH access to a server inside the Virtual Network … all
you need is their SSH public key and username … users and their keys can even be specified in
Configuration Stores". The user set lives in an SSM parameter the instance reads at boot and every
minute, so adding or removing a user never replaces the instance.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model

KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")
KEY_PATTERN = r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$"
CIDR4 = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$"
PRIVATE_KEY_HINT = (
    "this is a private key: paste the public key (the .pub file, e.g. `ssh-ed25519 AAAA... you@host`) — and "
    "treat this private key as leaked: it is now in the cluster's history"
)


def check_public_key(key: str) -> str:
    """ValueError with an actionable message unless `key` is an ed25519, ecdsa or >= 2048-bit RSA public key."""
    if "PRIVATE KEY" in key:
        raise ValueError(PRIVATE_KEY_HINT)
    parts = key.strip().split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise ValueError(f"publicKey must start with one of {', '.join(KEY_TYPES)} followed by the base64 key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("publicKey's key part is not valid base64") from None
    fields: list[bytes] = []
    i = 0
    while i + 4 <= len(blob) and len(fields) < 3:
        (n,) = struct.unpack(">I", blob[i : i + 4])
        fields.append(blob[i + 4 : i + 4 + n])
        i += 4 + n
    if not fields or fields[0].decode(errors="replace") != parts[0]:
        raise ValueError("publicKey's type and key data do not match (a truncated or edited key?)")
    if parts[0] == "ssh-rsa":
        bits = (len(fields[2].lstrip(b"\x00")) * 8) if len(fields) == 3 else 0
        if bits < 2048:
            raise ValueError(f"RSA keys must have at least 2048 bits (this one has {bits}); ed25519 is preferred")
    return key.strip()


class SshUser(Model):
    """One user: a login name and a public key."""

    name: str = Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description="Login name (a Linux user name).")
    public_key: str = Field(
        max_length=4096, description="OpenSSH public key: ssh-ed25519, ecdsa-sha2-nistp*, or ssh-rsa >= 2048 bits."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {"rule": "!self.publicKey.contains('PRIVATE KEY')", "message": PRIVATE_KEY_HINT},
        {
            "rule": f"self.publicKey.matches('{KEY_PATTERN}')",
            "message": "publicKey must be an OpenSSH public key line: TYPE BASE64 [comment]",
        },
        {
            "rule": "!self.publicKey.startsWith('ssh-rsa ') || self.publicKey.matches('^ssh-rsa [A-Za-z0-9+/]{368,}')",
            "message": "RSA keys must have at least 2048 bits; ed25519 is preferred",
        },
    ]

    @field_validator("public_key")
    @classmethod
    def _key(cls, v: str) -> str:
        return check_public_key(v)


class BastionConnection(Model):
    """A node the bastion's users reach through it (the bastion carries its client security group)."""

    kind: Literal["StackeryDatabase"] = Field(description="Kind of the connected node.")
    name: str = Field(pattern=K8S_NAME_PATTERN, max_length=253, description="Its name (same namespace, same network).")


class BastionSpec(CommonSpec):
    """Desired bastion."""

    virtual_network: str = Field(
        pattern=K8S_NAME_PATTERN, max_length=253, description="The StackeryVirtualNetwork (a public subnet of it)."
    )
    users: list[SshUser] = Field(
        default_factory=list,
        max_length=100,
        description="Users and keys.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    from_config_store: str | None = Field(
        default=None,
        pattern=K8S_NAME_PATTERN,
        max_length=253,
        description="A StackeryConfigStore whose parameters under users/ are users (key = name, value = public keys, one per line).",
    )
    allowed_cidrs: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Who may connect to port 22 (0.0.0.0/0 only with allowAnywhere: true).",
        json_schema_extra={"items": {"type": "string", "pattern": CIDR4}},
    )
    allow_anywhere: bool = Field(default=False, description="Allow 0.0.0.0/0 in allowedCidrs (SSH open to the internet).")
    instance_type: str = Field(default="t3.nano", pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", description="EC2 instance type.")
    connections: list[BastionConnection] = Field(
        default_factory=list,
        max_length=20,
        description="Databases reachable from the bastion (e.g. for psql over an SSH tunnel); they must be in the same network.",
    )
    image_id: str | None = Field(
        default=None, pattern=r"^ami-[0-9a-f]{8,17}$", description="AMI; default the latest Amazon Linux 2023."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "self.allowAnywhere || !self.allowedCidrs.exists(c, c == '0.0.0.0/0')",
            "message": "allowedCidrs contains 0.0.0.0/0 (SSH open to the internet): set allowAnywhere: true if you mean it",
        },
        {
            "rule": "has(self.fromConfigStore) || (has(self.users) && size(self.users) > 0)",
            "message": "give users, fromConfigStore, or both",
        },
        {
            "rule": "self.virtualNetwork == oldSelf.virtualNetwork",
            "message": "virtualNetwork is immutable: create a new StackeryBastion",
        },
    ]

    @model_validator(mode="after")
    def _rules(self) -> BastionSpec:
        if "0.0.0.0/0" in self.allowed_cidrs and not self.allow_anywhere:
            raise ValueError("allowedCidrs contains 0.0.0.0/0: set allowAnywhere: true if you mean it")
        if not self.users and self.from_config_store is None:
            raise ValueError("give users, fromConfigStore, or both")
        return self


class UserStatus(Model):
    name: str = Field(description="Login name.")
    fingerprints: list[str] = Field(default_factory=list, description="SHA256 fingerprints of the user's keys.")


class BastionStatus(CommonStatus):
    """Observed bastion."""

    instance_id: str | None = Field(default=None, description="EC2 instance.")
    public_ip: str | None = Field(default=None, description="Public address.")
    public_dns_name: str | None = Field(default=None, description="Public DNS name.")
    security_group_id: str | None = Field(default=None, description="The bastion's security group (what a target opens to it).")
    users: list[UserStatus] | None = Field(default=None, description="Users the instance serves, with key fingerprints.")
    users_parameter: str | None = Field(default=None, description="SSM parameter the instance reads its users from.")
    users_applied_at: str | None = Field(default=None, description="When the instance last applied the users (it reports back).")
    users_applied: bool | None = Field(default=None, description="True when the instance has applied the current user set.")
    instance_profile: str | None = Field(default=None, description="Instance profile (SSM Session Manager).")
