"""Fields every Stackery kind shares: the common spec settings and the status shape.

Why: one definition keeps all twelve kinds uniform for users, for GitOps tools (kstatus, Argo CD) and
for the generic reconciler, and the CRDs are generated from it (never hand-edited).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

DeletionPolicy = Literal["Delete", "Retain"]
ManagementPolicy = Literal["Manage", "ObserveOnly"]
DriftPolicy = Literal["Correct", "Report"]

REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class Model(BaseModel):
    """Base for every API model: camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )


TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(max_length=256)]


class Outputs(Model):
    """Where to publish the node's outputs (Stackery's environment names, e.g. BUCKET_NAME)."""

    config_map_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=K8S_NAME_PATTERN,
        description="ConfigMap (same namespace) that receives the outputs; created and owned by this object.",
    )
    secret_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=K8S_NAME_PATTERN,
        description=(
            "Secret (same namespace) that receives the outputs plus the node's credentials (a Database: username, "
            "password, host, port, dbname, uri); created and owned by this object, refreshed when a password rotates."
        ),
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "has(self.configMapName) || has(self.secretName)",
            "message": "give outputs.configMapName, outputs.secretName or both",
        },
    ]

    @model_validator(mode="after")
    def _one(self) -> Outputs:
        if self.config_map_name is None and self.secret_name is None:
            raise ValueError("give outputs.configMapName, outputs.secretName or both")
        return self


class CommonSpec(Model):
    """Settings shared by every Stackery kind."""

    region: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description="AWS region. Defaults to the operator's region (AWS_REGION). Immutable.",
    )
    deletion_policy: DeletionPolicy | None = Field(
        default=None,
        description=(
            "Delete removes the AWS resources when this object is deleted; Retain leaves them. "
            "Unset: the operator's default (STACKERY_DEFAULT_DELETION_POLICY, Delete unless configured)."
        ),
    )
    management_policy: ManagementPolicy = Field(
        default="Manage",
        description="Manage creates and updates AWS to match the spec; ObserveOnly only reads and reports.",
    )
    drift_policy: DriftPolicy = Field(
        default="Correct",
        description="Correct puts AWS back when it drifts from the spec; Report only lists the drift in status.",
    )
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict,
        json_schema_extra={"maxProperties": 40},
        description="Tags added to every AWS resource (the operator adds its stackery.io/* ownership tags).",
    )
    outputs: Outputs | None = Field(default=None, description="Optional ConfigMap and/or Secret that receive the node's outputs.")

    # CEL rules on the spec object; subclasses extend this list.
    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "!has(self.region) || !has(oldSelf.region) || self.region == oldSelf.region",
            "message": "region is immutable: create a new object in the other region instead",
        },
        {
            "rule": "!has(self.tags) || self.tags.all(k, size(k) >= 1 && size(k) <= 128 && !k.startsWith('stackery.io/') && !k.lowerAscii().startsWith('aws:'))",
            "message": "tag keys must be 1-128 characters and must not start with stackery.io/ (ownership tags) or aws: (reserved by AWS)",
        },
    ]


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(Model):
    """A metav1.Condition."""

    type: str = Field(description="Condition type: Ready, Synced, Reconciling, Stalled or a node-specific one.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason for the last transition.")
    message: str = Field(default="", description="Human-readable details: what happened and what to do.")
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).")
    observed_generation: int | None = Field(default=None, description="Generation the condition was set for.")


class DriftEntry(Model):
    """One field where AWS differs from the spec."""

    field: str = Field(description="Path of the setting, e.g. versioning or tags.team.")
    desired: str | None = Field(default=None, description="Value from the spec.")
    actual: str | None = Field(default=None, description="Value found in AWS.")
    detected_at: str | None = Field(default=None, description="When this drift was first seen (RFC 3339).")


class CommonStatus(Model):
    """Status shared by every kind, written only by the operator."""

    model_config = ConfigDict(extra="allow")

    observed_generation: int | None = Field(default=None, description="Generation of the spec last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready, Synced, Reconciling, Stalled, ...")
    arn: str | None = Field(default=None, description="ARN of the main AWS resource.")
    external_name: str | None = Field(default=None, description="Name or id of the main AWS resource.")
    region: str | None = Field(default=None, description="Region the resources live in.")
    drift: list[DriftEntry] = Field(default_factory=list, description="Fields where AWS differs from the spec.")
    last_sync_time: str | None = Field(
        default=None,
        description="When a pass last wrote this status after reading AWS (RFC 3339). A scheduled check that finds "
        "nothing new writes nothing, so this moves when something changes, and at least every "
        "STACKERY_STATUS_HEARTBEAT_SECONDS (default 1 h) while the operator keeps checking.",
    )
    next_check_at: str | None = Field(
        default=None,
        description="When the operator planned to look at AWS again, as of lastSyncTime (checks that find nothing new "
        "keep their next time in the operator's memory, not here).",
    )
    failures: int | None = Field(default=None, description="Consecutive failed reconciles (drives backoff).")
    failure_context: str | None = Field(
        default=None,
        description="What the failures were counted for (sync or delete, and the generation): a new spec or a delete starts again at one.",
    )
    ready_at: str | None = Field(default=None, description="When the object first became Ready.")
    resource_name: str | None = Field(
        default=None,
        description="Name of the main AWS resource this object holds (kept, so a resource is never renamed).",
    )
    resource_region: str | None = Field(default=None, description="Region of the resources this object holds.")
    pending_create: str | None = Field(
        default=None, description="Name of an AWS resource being created right now (crash safety marker)."
    )
    last_handled_configuration: str | None = Field(
        default=None,
        description="Only with STACKERY_SCHEDULER=timers (kopf's change handlers): the spec (and labels, "
        "annotations) last handled, as JSON, how kopf tells a change from an echo. The default scheduler finds "
        "changes by observedGeneration and annotations and does not write it.",
    )
