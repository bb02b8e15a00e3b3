"""StackeryConfigStore: configuration parameters in SSM Parameter Store under one path.

Stackery kept each environment's configuration under /<environment>/...; here each object owns a path
(default /<namespace>/<name>/). Literal values are String parameters; values taken from a Kubernetes
Secret are SecureString and never appear in status, events, logs or metrics.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model

PATH_PATTERN = r"^(/[a-zA-Z0-9_.-]+)+/$"
PARAM_KEY_PATTERN = r"^[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$"


class SecretKeyRef(Model):
    """A key of a Secret in the same namespace."""

    name: str = Field(max_length=253, pattern=K8S_NAME_PATTERN, description="Secret name.")
    key: str = Field(min_length=1, max_length=253, description="Key inside the Secret.")


class Parameter(Model):
    """One parameter: exactly one of value or secretKeyRef."""

    value: str | None = Field(default=None, max_length=4096, description="Literal value, stored as String.")
    secret_key_ref: SecretKeyRef | None = Field(
        default=None, description="Value taken from a Secret key, stored as SecureString."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "has(self.value) != has(self.secretKeyRef)",
            "message": "set exactly one of value or secretKeyRef",
        }
    ]

    @model_validator(mode="after")
    def _one_source(self) -> Parameter:
        if (self.value is None) == (self.secret_key_ref is None):
            raise ValueError("set exactly one of value or secretKeyRef")
        return self


class ConfigStoreSpec(CommonSpec):
    """Desired parameters."""

    path: str | None = Field(
        default=None,
        max_length=1000,
        pattern=PATH_PATTERN,
        description="Parameter path, starting and ending with '/'. Default /<namespace>/<name>/. Immutable.",
    )
    kms_key_id: str | None = Field(
        default=None, max_length=2048, description="KMS key for SecureString parameters; default alias/aws/ssm."
    )
    parameters: dict[str, Parameter] = Field(
        default_factory=dict,
        description="Parameters by key (relative to path). Removing a key deletes its parameter.",
        json_schema_extra={"maxProperties": 200},
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "has(self.path) == has(oldSelf.path) && (!has(self.path) || self.path == oldSelf.path)",
            "message": "path is immutable: create a new StackeryConfigStore for another path",
        },
        {
            "rule": "!has(self.path) || !self.path.lowerAscii().matches('^/(aws|ssm)')",
            "message": "path must not start with /aws or /ssm: SSM reserves those names",
        },
        {
            "rule": "!has(self.parameters) || self.parameters.all(k, k.matches('^[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$'))",
            "message": "parameter keys may contain letters, digits, _ . - and / between segments",
        },
    ]


class ConfigStoreStatus(CommonStatus):
    """Observed parameters."""

    path: str | None = Field(default=None, description="Parameter path in use.")
    parameter_count: int | None = Field(default=None, description="Parameters managed under the path.")
