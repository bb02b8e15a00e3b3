"""StackeryTable: a DynamoDB table with Stackery's Table-node defaults and its output port.

Stackery's Table node made an on-demand table keyed on `id` (S) with a NEW_AND_OLD_IMAGES stream
always on, so Functions wired to its output received every insert, update and delete.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from .common import CommonSpec, CommonStatus, Model

ATTR_PATTERN = r"^[a-zA-Z0-9_.-]{1,255}$"


class KeyAttribute(Model):
    """A key attribute."""

    name: str = Field(pattern=ATTR_PATTERN, description="Attribute name.")
    type: Literal["S", "N", "B"] = Field(default="S", description="S (string), N (number) or B (binary).")


class Capacity(Model):
    """Provisioned read/write capacity units."""

    read: int = Field(ge=1, le=40000, description="Read capacity units.")
    write: int = Field(ge=1, le=40000, description="Write capacity units.")


class ScalingRange(Model):
    """Bounds for Application Auto Scaling."""

    min: int = Field(ge=1, le=40000, description="Lowest capacity.")
    max: int = Field(ge=1, le=40000, description="Highest capacity.")

    cel_rules: ClassVar[list[dict[str, str]]] = [{"rule": "self.min <= self.max", "message": "min must not exceed max"}]


class Autoscaling(Model):
    """Target-tracking autoscaling of read and write capacity, for the table and each index."""

    read: ScalingRange = Field(description="Read capacity range.")
    write: ScalingRange = Field(description="Write capacity range.")
    target_utilization: float = Field(default=70, ge=20, le=90, description="Target utilisation percent.")


class Stream(Model):
    """The table's output port: a DynamoDB stream."""

    enabled: bool = Field(default=True, description="Keep a stream of item changes (needed by Function triggers).")
    view_type: Literal["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"] = Field(
        default="NEW_AND_OLD_IMAGES", description="What each stream record holds."
    )


class GlobalSecondaryIndex(Model):
    """A global secondary index."""

    name: str = Field(pattern=r"^[a-zA-Z0-9_.-]{3,255}$", description="Index name.")
    hash_key: KeyAttribute = Field(description="Partition key of the index.")
    range_key: KeyAttribute | None = Field(default=None, description="Sort key of the index.")
    projection: Literal["ALL", "KEYS_ONLY"] = Field(default="ALL", description="Attributes copied into the index.")


class TableSpec(CommonSpec):
    """Desired state of a DynamoDB table."""

    table_name: str | None = Field(
        default=None,
        pattern=r"^[a-zA-Z0-9_.-]{3,255}$",
        description="Table name. Default stackery-<namespace>-<name>-<hash of namespace and name>. Immutable.",
    )
    hash_key: KeyAttribute = Field(
        default=KeyAttribute(name="id", type="S"),
        description="Partition key (default id/S). Immutable: DynamoDB keys are fixed at creation.",
    )
    range_key: KeyAttribute | None = Field(default=None, description="Optional sort key. Immutable.")
    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = Field(
        default="PAY_PER_REQUEST", description="On-demand (default) or provisioned capacity."
    )
    capacity: Capacity | None = Field(
        default=None, description="Provisioned capacity (PROVISIONED without autoscaling; also used by indexes)."
    )
    autoscaling: Autoscaling | None = Field(
        default=None, description="Application Auto Scaling for table and indexes (PROVISIONED only)."
    )
    stream: Stream = Field(default_factory=Stream, description="Stream settings (on by default, as in Stackery).")
    ttl_attribute: str | None = Field(default=None, pattern=ATTR_PATTERN, description="Attribute holding the expiry time (TTL).")
    point_in_time_recovery: bool = Field(default=False, description="Continuous backups for point-in-time restore.")
    global_secondary_indexes: list[GlobalSecondaryIndex] = Field(
        default_factory=list,
        max_length=20,
        description="Global secondary indexes (names unique).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    deletion_protection: bool = Field(default=False, description="AWS refuses to delete the table while on.")
    backup_before_delete: bool = Field(
        default=True, description="On delete, take an on-demand backup and wait for it before deleting the table."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "has(self.tableName) == has(oldSelf.tableName) && (!has(self.tableName) || self.tableName == oldSelf.tableName)",
            "message": "tableName is immutable: create a new StackeryTable instead",
        },
        {
            "rule": "!has(oldSelf.hashKey) || (has(self.hashKey) && self.hashKey == oldSelf.hashKey)",
            "message": "hashKey cannot change: DynamoDB keys are fixed at creation. Create a new StackeryTable and copy the data instead",
        },
        {
            "rule": "has(self.rangeKey) == has(oldSelf.rangeKey) && (!has(self.rangeKey) || self.rangeKey == oldSelf.rangeKey)",
            "message": "rangeKey cannot be added, removed or changed: DynamoDB keys are fixed at creation. Create a new StackeryTable and copy the data instead",
        },
        {
            "rule": "!has(self.autoscaling) || self.billingMode == 'PROVISIONED'",
            "message": "autoscaling needs billingMode PROVISIONED (on-demand tables scale by themselves)",
        },
        {"rule": "!has(self.capacity) || self.billingMode == 'PROVISIONED'", "message": "capacity needs billingMode PROVISIONED"},
        {
            "rule": "!has(self.billingMode) || self.billingMode != 'PROVISIONED' || has(self.capacity) || has(self.autoscaling)",
            "message": "billingMode PROVISIONED needs capacity or autoscaling",
        },
    ]

    @model_validator(mode="after")
    def _billing(self) -> TableSpec:
        if self.billing_mode == "PAY_PER_REQUEST" and (self.autoscaling or self.capacity):
            raise ValueError("autoscaling and capacity need billingMode PROVISIONED")
        if self.billing_mode == "PROVISIONED" and not (self.autoscaling or self.capacity):
            raise ValueError("billingMode PROVISIONED needs capacity or autoscaling")
        return self


class TableStatus(CommonStatus):
    """Observed state of the table."""

    stream_arn: str | None = Field(default=None, description="ARN of the latest stream (the output port).")
    table_status: str | None = Field(default=None, description="DynamoDB TableStatus.")
