"""The operator's tenancy policy: what each namespace may name or reach in AWS, and as whom.

Why: one operator serves many namespaces (teams). Whoever may create Stackery objects in namespace B
must not read, write, run as or take over what namespace A owns. The defaults confine a namespace to
what it owns or creates; the operator's own configuration (Helm values -> a policy file) is the only
way to widen a namespace's scope or give it its own AWS identity. Namespace annotations are not used:
on many platforms tenants may edit their own namespace's annotations, so they cannot be a boundary.

Policy file (YAML or JSON, STACKERY_POLICY_FILE):

    default:                      # applies to every namespace
      domains: ["*"]
    namespaces:
      team-a:                     # added to the default for team-a
        ssmPathPrefixes: ["/shared/team-a/"]
        roleArnPatterns: ["arn:aws:iam::123456789012:role/team-a-*"]
        codeBuckets: ["team-a-artifacts"]
        imageRepositories: ["123456789012.dkr.ecr.*.amazonaws.com/team-a-*"]
        adopt: ["legacy-team-a-*"]
        domains: ["*.team-a.example.com"]
        certificateArns: ["arn:aws:acm:us-east-1:123456789012:certificate/*"]
        hostedZones: ["Z0123456789ABCDEF"]
        identity:
          roleArn: arn:aws:iam::123456789012:role/stackery-team-a
          externalId: team-a
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ClaimKind = Literal["ssmPath", "roleArn", "codeBucket", "image", "domain", "certificate", "hostedZone", "adopt"]


@dataclass(frozen=True)
class Claim:
    """A user-chosen name or reference in a spec (or the adoption annotation) that reaches into AWS."""

    kind: ClaimKind
    field: str
    """Where it was written, e.g. spec.roleArn, for the message."""
    value: str


@dataclass(frozen=True)
class Identity:
    """An IAM role the operator assumes (STS AssumeRole) for one namespace's objects."""

    role_arn: str
    external_id: str | None = None
    session_name: str = ""
    """Set by the policy to stackery-<namespace>; also sent as a session tag."""
    namespace: str = ""


@dataclass(frozen=True)
class Scope:
    """One namespace's effective scope: the built-in namespace rules plus the policy's patterns."""

    namespace: str
    ssm_path_prefixes: tuple[str, ...] = ()
    role_arn_patterns: tuple[str, ...] = ()
    code_buckets: tuple[str, ...] = ()
    image_repositories: tuple[str, ...] = ()
    adopt: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    certificate_arns: tuple[str, ...] = ()
    hosted_zones: tuple[str, ...] = ()
    identity: Identity | None = None

    def violation(self, claim: Claim) -> str | None:
        """None when the claim is in scope, else a message naming the field, the rule and the remedy."""
        ns, v = self.namespace, claim.value
        if claim.kind == "ssmPath":
            own = f"/{ns}/"
            if v.startswith(own) or any(v.startswith(p) for p in self.ssm_path_prefixes):
                return None
            rule = f"SSM paths of namespace {ns} must start with {own}" + _plus(self.ssm_path_prefixes)
        elif claim.kind == "roleArn":
            own = f"arn:aws*:iam::*:role/stackery/{ns}/*"
            if _match(v, (own, *self.role_arn_patterns)):
                return None
            rule = f"execution roles of namespace {ns} must match {own}" + _plus(self.role_arn_patterns)
        elif claim.kind == "codeBucket":
            if _match(v, self.code_buckets):
                return None
            rule = f"namespace {ns} may deploy code only from its own StackeryObjectStores (code.objectStore)" + _plus(
                self.code_buckets, "or from buckets"
            )
        elif claim.kind == "image":
            own = f"*.dkr.ecr.*.amazonaws.com/{ns}/*"
            if _match(v, (own, *self.image_repositories)):
                return None
            rule = f"images of namespace {ns} must come from ECR repositories named {ns}/..." + _plus(self.image_repositories)
        elif claim.kind == "certificate":
            if _match(v, self.certificate_arns):
                return None
            rule = (
                f"namespace {ns} may bring no certificate of its own"
                + _plus(self.certificate_arns, "except", "")
                + " (leave certificateArn out and the operator requests one)"
            )
        elif claim.kind == "hostedZone":
            if _match(v, self.hosted_zones):
                return None
            rule = (
                f"namespace {ns} may not write records into Route 53 zone {v}: a zone is shared, so the operator's "
                "policy must grant it (hostedZones)" + _plus(self.hosted_zones, "; granted:")
            )
        elif claim.kind == "domain":
            if _match(v.lower(), self.domains):
                return None
            rule = f"namespace {ns} may use the domains " + (", ".join(self.domains) if self.domains else "(none)")
        else:  # adopt
            if _match(v, self.adopt):
                return None
            rule = f"namespace {ns} may take over only resources its own objects created" + _plus(
                self.adopt, "or existing resources named"
            )
        return (
            f"{claim.field} {v!r} is outside this namespace's scope: {rule}. Choose a value in scope, or ask the "
            "operator's administrator to widen the namespace's policy (docs/security.md)."
        )


def _match(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _plus(patterns: tuple[str, ...], words: str = "or", empty: str = "") -> str:
    return f" {words} {', '.join(patterns)}" if patterns else empty


@dataclass(frozen=True)
class Policy:
    default: Mapping[str, Any] = field(default_factory=lambda: {"domains": ["*"]})
    namespaces: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def scope(self, namespace: str) -> Scope:
        own = self.namespaces.get(namespace) or {}

        def both(key: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys([*self.default.get(key, []), *own.get(key, [])]))

        ident = own.get("identity") or self.default.get("identity")
        identity = None
        if ident:
            identity = Identity(
                role_arn=str(ident["roleArn"]),
                external_id=ident.get("externalId"),
                session_name=f"stackery-{namespace}"[:64],
                namespace=namespace,
            )
        return Scope(
            namespace=namespace,
            ssm_path_prefixes=both("ssmPathPrefixes"),
            role_arn_patterns=both("roleArnPatterns"),
            code_buckets=both("codeBuckets"),
            image_repositories=both("imageRepositories"),
            adopt=both("adopt"),
            domains=both("domains"),
            certificate_arns=both("certificateArns"),
            hosted_zones=both("hostedZones"),
            identity=identity,
        )


_SECTION_KEYS = frozenset(
    {
        "ssmPathPrefixes",
        "roleArnPatterns",
        "codeBuckets",
        "imageRepositories",
        "adopt",
        "domains",
        "certificateArns",
        "hostedZones",
        "identity",
    }
)


def parse(data: Mapping[str, Any]) -> Policy:
    """A Policy from the file's mapping; unknown keys fail the start loudly (a typo must not open a hole)."""
    unknown = set(data) - {"default", "namespaces"}
    if unknown:
        raise ValueError(f"policy: unknown top-level keys {sorted(unknown)}")
    sections: dict[str, Mapping[str, Any]] = {"default": data.get("default") or {}}
    for ns, sec in (data.get("namespaces") or {}).items():
        sections[f"namespaces.{ns}"] = sec or {}
    for where, sec in sections.items():
        bad = set(sec) - _SECTION_KEYS
        if bad:
            raise ValueError(f"policy {where}: unknown keys {sorted(bad)} (known: {sorted(_SECTION_KEYS)})")
        for key in _SECTION_KEYS - {"identity"}:
            if not isinstance(sec.get(key, []), list) or not all(isinstance(p, str) for p in sec.get(key, [])):
                raise ValueError(f"policy {where}.{key} must be a list of strings")
        ident = sec.get("identity")
        if ident is not None and not (isinstance(ident, dict) and str(ident.get("roleArn", "")).startswith("arn:")):
            raise ValueError(f"policy {where}.identity needs roleArn (an IAM role ARN)")
    default = dict(data["default"]) if "default" in data else {"domains": ["*"]}
    return Policy(default=default, namespaces={ns: dict(sec or {}) for ns, sec in (data.get("namespaces") or {}).items()})


def load(path: str) -> Policy:
    """The policy from a YAML or JSON file; the built-in default when path is empty."""
    if not path:
        return Policy()
    text = Path(path).read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        import yaml  # PyYAML comes with the kubernetes client

        data = yaml.safe_load(text)
    return parse(data or {})
