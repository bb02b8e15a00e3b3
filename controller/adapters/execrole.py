"""An IAM role owned by one object, assumed by an AWS service on its behalf (a Lambda execution role;
later an ECS task role), with one inline policy the object's connections decide.

Why: the role is where a tenant's permissions live, so its rules are written once: deterministic name,
IAM path /stackery/<namespace>/ (the namespace's own roles, which policy scope lets its objects name),
tags at CreateRole, never touched when tagged as another object's, found again after a create that
failed halfway, deleted policy-first.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..aws.clients import client, error_code, or_none
from ..core.adapter import ObjectRef, Request
from ..errors import OwnershipConflictError
from .common import dns_name, owner_of, tag_dict, tag_list

POLICY_NAME = "stackery-connections"


def _policy_from(raw: Any) -> Any:
    if isinstance(raw, str):
        return json.loads(urllib.parse.unquote(raw))
    return raw


@dataclass(frozen=True)
class ExecutionRole:
    prefix: str
    """Name prefix, e.g. stackery-fn."""
    service: str
    """Service principal allowed to assume it, e.g. lambda.amazonaws.com."""

    def name(self, ref: ObjectRef) -> str:
        return dns_name(self.prefix, ref, max_len=64)

    @staticmethod
    def path(ref: ObjectRef) -> str:
        return f"/stackery/{ref.namespace}/"

    def arn(self, ref: ObjectRef, account: str) -> str:
        return f"arn:aws:iam::{account}:role{self.path(ref)}{self.name(ref)}"

    def _get(self, req: Request[Any]) -> dict[str, Any] | None:
        found = or_none(lambda: client("iam", req.region).get_role(RoleName=self.name(req.ref)), "NoSuchEntity")
        return None if found is None else dict(found["Role"])

    def policy(self, req: Request[Any]) -> Any:
        """The inline policy document; None when the role or policy is missing. Refuses a role that is
        tagged as someone else's (or untagged)."""
        role = self._get(req)
        if role is None:
            return None
        uid, owner = owner_of(tag_dict(role.get("Tags")))
        if uid != req.ref.uid:
            raise OwnershipConflictError(
                f"IAM role {self.name(req.ref)} is not owned by this object ({owner or 'untagged'}); delete it or set spec.roleArn"
            )
        doc = or_none(
            lambda: client("iam", req.region).get_role_policy(RoleName=self.name(req.ref), PolicyName=POLICY_NAME),
            "NoSuchEntity",
        )
        return None if doc is None else _policy_from(doc["PolicyDocument"])

    def held(self, req: Request[Any]) -> bool:
        """True when the role exists and is tagged as this object's (a leftover to delete)."""
        role = self._get(req)
        return role is not None and owner_of(tag_dict(role.get("Tags")))[0] == req.ref.uid

    def ensure(self, req: Request[Any], policy: dict[str, Any], description: str) -> None:
        iam = client("iam", req.region)
        name = self.name(req.ref)
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": self.service}, "Action": "sts:AssumeRole"}],
        }
        try:
            iam.create_role(
                RoleName=name,
                Path=self.path(req.ref),
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=description,
                Tags=tag_list(req.tags()),
            )
        except Exception as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            self.policy(req)  # raises OwnershipConflictError when someone else's
        iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))

    def delete(self, req: Request[Any]) -> None:
        iam = client("iam", req.region)
        name = self.name(req.ref)
        for op, kwargs in (
            ("delete_role_policy", {"RoleName": name, "PolicyName": POLICY_NAME}),
            ("delete_role", {"RoleName": name}),
        ):
            or_none(partial(getattr(iam, op), **kwargs), "NoSuchEntity")
