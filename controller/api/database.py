"""StackeryDatabase: an RDS instance or an Aurora Serverless v2 cluster in a Virtual Network's private
subnets, reachable only from the nodes connected to it.

Stackery's Database node made an Aurora cluster or an RDS instance, a subnet group, a security group
(open to 0.0.0.0/0 on the engine port) and a root-user secret. Here the group admits only the nodes
that connect to the database, the password is managed by RDS in Secrets Manager, storage is always
encrypted, and a plain `kubectl delete` can neither skip the final snapshot nor pass deletion protection.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model

Engine = Literal["postgres", "mysql", "aurora-postgresql", "aurora-mysql"]
AURORA = ("aurora-postgresql", "aurora-mysql")
PORTS = {"postgres": 5432, "aurora-postgresql": 5432, "mysql": 3306, "aurora-mysql": 3306}
MIN_STORAGE_GIB = 20
"""gp3 storage for PostgreSQL and MySQL starts at 20 GiB."""
WINDOW = r"^(mon|tue|wed|thu|fri|sat|sun):[0-2][0-9]:[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):[0-2][0-9]:[0-5][0-9]$"
BACKUP_WINDOW = r"^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$"


class Storage(Model):
    """Storage of an instance engine (gp3, always encrypted)."""

    allocated_gib: int = Field(
        default=20, ge=MIN_STORAGE_GIB, le=65536, description="Allocated storage in GiB (at least 20). It can only grow."
    )
    max_allocated_gib: int | None = Field(
        default=None,
        le=65536,
        description="Storage autoscaling ceiling in GiB (greater than allocatedGiB); unset: no autoscaling.",
    )
    kms_key_id: str | None = Field(
        default=None, max_length=2048, description="KMS key for storage encryption; default the AWS-managed RDS key. Immutable."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "!has(self.maxAllocatedGib) || self.maxAllocatedGib > self.allocatedGib",
            "message": "storage.maxAllocatedGib must be greater than storage.allocatedGib",
        },
        {
            "rule": "self.allocatedGib >= oldSelf.allocatedGib",
            "message": "storage.allocatedGib cannot shrink (RDS storage only grows)",
        },
    ]

    @model_validator(mode="after")
    def _rules(self) -> Storage:
        if self.max_allocated_gib is not None and self.max_allocated_gib <= self.allocated_gib:
            raise ValueError("storage.maxAllocatedGib must be greater than storage.allocatedGib")
        return self


class Serverless(Model):
    """Aurora Serverless v2 capacity range, in Aurora capacity units (ACU)."""

    min_capacity: float = Field(default=0.5, ge=0.5, le=256, description="Minimum ACU (0.5 steps).")
    max_capacity: float = Field(default=2.0, ge=1, le=256, description="Maximum ACU (0.5 steps).")

    # (not OpenAPI multipleOf: the apiserver rejects it on a number whose default is a whole number)
    cel_rules: ClassVar[list[dict[str, str]]] = [
        {"rule": "self.minCapacity <= self.maxCapacity", "message": "serverless.minCapacity must not exceed maxCapacity"},
        {
            "rule": "double(int(self.minCapacity * 2.0)) == self.minCapacity * 2.0 && double(int(self.maxCapacity * 2.0)) == self.maxCapacity * 2.0",
            "message": "serverless capacities go in steps of 0.5 ACU",
        },
    ]

    @model_validator(mode="after")
    def _rules(self) -> Serverless:
        if self.min_capacity > self.max_capacity:
            raise ValueError("serverless.minCapacity must not exceed maxCapacity")
        if (self.min_capacity * 2) % 1 or (self.max_capacity * 2) % 1:
            raise ValueError("serverless capacities go in steps of 0.5 ACU")
        return self


class DatabaseSpec(CommonSpec):
    """Desired database."""

    virtual_network: str = Field(
        pattern=K8S_NAME_PATTERN,
        max_length=253,
        description="The StackeryVirtualNetwork whose private subnets hold the database (never publicly accessible). Immutable.",
    )
    engine: Engine = Field(
        description="postgres | mysql (an RDS instance) or aurora-postgresql | aurora-mysql (Aurora Serverless v2). Immutable."
    )
    engine_version: str | None = Field(
        default=None,
        pattern=r"^[0-9]+(\.[0-9A-Za-z_]+)*$",
        max_length=64,
        description=(
            "Engine version; default AWS's default. Minor versions are upgraded automatically (a newer minor in AWS "
            "is not drift); a new major version needs allowMajorVersionUpgrade: true. Never downgraded."
        ),
    )
    allow_major_version_upgrade: bool = Field(
        default=False, description="Allow engineVersion to name a newer major version (an upgrade with downtime)."
    )
    instance_class: str = Field(
        default="db.t4g.micro",
        pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
        description="Instance class of postgres | mysql (Aurora uses db.serverless).",
    )
    storage: Storage | None = Field(default=None, description="Storage of postgres | mysql (default 20 GiB gp3, encrypted).")
    serverless: Serverless | None = Field(default=None, description="Capacity of aurora-* engines (default 0.5-2 ACU).")
    database_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$",
        description="Name of a database created at launch (the dbname of the outputs Secret). Immutable.",
    )
    master_username: str = Field(
        default="stackery",
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,15}$",
        description="Master user name; its password is generated and rotated by RDS in Secrets Manager. Immutable.",
    )
    backup_retention_days: int = Field(default=7, ge=1, le=35, description="Days of automated backups.")
    preferred_backup_window: str | None = Field(
        default=None, pattern=BACKUP_WINDOW, description="Daily backup window, UTC, hh24:mi-hh24:mi."
    )
    preferred_maintenance_window: str | None = Field(
        default=None, pattern=WINDOW, description="Weekly maintenance window, UTC, ddd:hh24:mi-ddd:hh24:mi."
    )
    multi_az: bool = Field(default=False, description="A standby in another zone (postgres | mysql).")
    apply_immediately: bool = Field(
        default=False,
        description="Apply changes now (may restart the database); false: in the next maintenance window (status.pendingModifications).",
    )
    deletion_protection: bool = Field(
        default=True,
        description="While true, AWS refuses to delete the database and deleting this object stops with Stalled: set false first.",
    )
    skip_final_snapshot: bool = Field(
        default=False,
        description="Delete without the final snapshot (<identifier>-final-<uid8>) that is otherwise taken and kept.",
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "self.virtualNetwork == oldSelf.virtualNetwork",
            "message": "virtualNetwork is immutable: create a new StackeryDatabase",
        },
        {"rule": "self.engine == oldSelf.engine", "message": "engine is immutable: create a new StackeryDatabase"},
        {
            "rule": "has(self.databaseName) == has(oldSelf.databaseName) && (!has(self.databaseName) || self.databaseName == oldSelf.databaseName)",
            "message": "databaseName is immutable",
        },
        {"rule": "self.masterUsername == oldSelf.masterUsername", "message": "masterUsername is immutable"},
        {
            "rule": "!self.engine.startsWith('aurora-') || !has(self.storage)",
            "message": "storage applies to postgres | mysql; Aurora storage grows by itself",
        },
        {
            "rule": "self.engine.startsWith('aurora-') || !has(self.serverless)",
            "message": "serverless applies to aurora-postgresql | aurora-mysql only",
        },
        {
            "rule": "!self.engine.startsWith('aurora-') || !self.multiAz",
            "message": "multiAz applies to postgres | mysql (Aurora keeps its storage in three zones)",
        },
        {
            "rule": "!has(self.storage) || !has(oldSelf.storage) || (has(self.storage.kmsKeyId) == has(oldSelf.storage.kmsKeyId) && (!has(self.storage.kmsKeyId) || self.storage.kmsKeyId == oldSelf.storage.kmsKeyId))",
            "message": "storage.kmsKeyId is immutable",
        },
    ]

    @model_validator(mode="after")
    def _rules(self) -> DatabaseSpec:
        aurora = self.engine in AURORA
        if aurora and self.storage is not None:
            raise ValueError("storage applies to postgres | mysql; Aurora storage grows by itself")
        if not aurora and self.serverless is not None:
            raise ValueError("serverless applies to aurora-postgresql | aurora-mysql only")
        if aurora and self.multi_az:
            raise ValueError("multiAz applies to postgres | mysql")
        return self

    @property
    def aurora(self) -> bool:
        return self.engine in AURORA

    @property
    def port(self) -> int:
        return PORTS[self.engine]


class DatabaseStatus(CommonStatus):
    """Observed database."""

    endpoint: str | None = Field(default=None, description="Host name to connect to (the writer for Aurora).")
    reader_endpoint: str | None = Field(default=None, description="Aurora reader endpoint.")
    port: int | None = Field(default=None, description="Port.")
    engine_version: str | None = Field(default=None, description="Engine version running.")
    database_status: str | None = Field(default=None, description="RDS status (available, creating, modifying, backing-up ...).")
    pending_modifications: list[str] | None = Field(
        default=None, description="Settings waiting for the maintenance window (applyImmediately: false)."
    )
    master_user_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret (RDS-managed) holding the master user name and password."
    )
    master_username: str | None = Field(default=None, description="Master user name.")
    database_name: str | None = Field(default=None, description="Database created at launch.")
    security_group_id: str | None = Field(
        default=None, description="The database's security group (engine port from clientSecurityGroupId only)."
    )
    client_security_group_id: str | None = Field(
        default=None, description="The group connected nodes carry to be let in (nobody else is)."
    )
    subnet_group: str | None = Field(default=None, description="DB subnet group (the network's private subnets).")
    virtual_network: str | None = Field(default=None, description="StackeryVirtualNetwork the database is in.")
    vpc_id: str | None = Field(default=None, description="VPC the database is in.")
