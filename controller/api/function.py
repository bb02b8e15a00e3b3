"""StackeryFunction: a Lambda function with Stackery's wiring.

A connection (Stackery's dashed service-discovery wire) to a Table, Object Store, Config Store or
Function adds that node's environment variables (TABLE_NAME, BUCKET_ARN, ...) and exactly the IAM
permissions to use it. A trigger (the Table's output port) subscribes the function to the table's
stream. The execution role is created and owned by the function unless roleArn is given.
"""

from __future__ import annotations

import base64
import binascii
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model

RUNTIMES = Literal[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "java17",
    "java21",
    "dotnet8",
    "ruby3.3",
    "provided.al2",
    "provided.al2023",
]
ENV_KEY = r"^[a-zA-Z][a-zA-Z0-9_]*$"


class ObjectStoreCode(Model):
    """Code zip in a StackeryObjectStore of this namespace."""

    name: str = Field(pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryObjectStore name.")
    key: str = Field(min_length=1, max_length=1024, description="Object key of the zip.")


class S3Code(Model):
    """Code zip in any S3 bucket."""

    bucket: str = Field(min_length=3, max_length=63, description="Bucket name.")
    key: str = Field(min_length=1, max_length=1024, description="Object key of the zip.")
    version: str | None = Field(default=None, max_length=1024, description="Object version.")


class Code(Model):
    """Where the code comes from: exactly one of objectStore, s3, zipBase64, imageUri."""

    object_store: ObjectStoreCode | None = Field(default=None, description="A zip in a StackeryObjectStore.")
    s3: S3Code | None = Field(default=None, description="A zip in an S3 bucket.")
    zip_base64: str | None = Field(
        default=None,
        max_length=65536,
        pattern=r"^[A-Za-z0-9+/]*={0,2}$",
        description="A small zip, base64-encoded (standard alphabet, padded), inline.",
    )
    image_uri: str | None = Field(default=None, max_length=512, description="A container image URI (ECR).")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "!has(self.zipBase64) || size(self.zipBase64) % 4 == 0",
            "message": "code.zipBase64 must be padded base64 (its length a multiple of 4): use `base64 -w0 code.zip`",
        },
        {
            "rule": "[has(self.objectStore), has(self.s3), has(self.zipBase64), has(self.imageUri)].filter(x, x).size() == 1",
            "message": "set exactly one of code.objectStore, code.s3, code.zipBase64, code.imageUri",
        },
    ]

    @field_validator("zip_base64")
    @classmethod
    def _decodes(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("code.zipBase64 is not valid base64: encode the zip with `base64 -w0 code.zip`") from None
        return v

    @model_validator(mode="after")
    def _one(self) -> Code:
        if sum(x is not None for x in (self.object_store, self.s3, self.zip_base64, self.image_uri)) != 1:
            raise ValueError("set exactly one of code.objectStore, code.s3, code.zipBase64, code.imageUri")
        return self


class Connection(Model):
    """A wire to another node in this namespace: its environment variables plus least-privilege IAM."""

    kind: Literal[
        "StackeryTable",
        "StackeryObjectStore",
        "StackeryConfigStore",
        "StackeryFunction",
        "StackeryRestApi",
        "StackeryDatabase",
        "StackeryQueue",
        "StackeryTopic",
        "StackeryStream",
    ] = Field(
        description=(
            "Kind of the connected node. A StackeryDatabase is reached over its network: the function must be placed "
            "(virtualNetwork) in the database's network; it carries the database's client security group."
        )
    )
    name: str = Field(pattern=K8S_NAME_PATTERN, max_length=253, description="Name of the connected node.")
    access: Literal["ReadWrite", "ReadOnly"] = Field(
        default="ReadWrite", description="IAM access the wire grants: ReadWrite (Stackery's default) or ReadOnly."
    )


class Trigger(Model):
    """An event source that invokes the function: a StackeryTable's stream (the Table's output port), a
    StackeryQueue or a StackeryStream. The function owns the event source mapping and the read rights."""

    table: str | None = Field(
        default=None, pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryTable (its stream must be on)."
    )
    queue: str | None = Field(default=None, pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryQueue.")
    stream: str | None = Field(default=None, pattern=K8S_NAME_PATTERN, max_length=253, description="StackeryStream.")
    batch_size: int = Field(default=1, ge=1, le=10000, description="Records per invocation.")
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = Field(
        default="TRIM_HORIZON", description="Where to start reading (table and stream triggers)."
    )
    batching_window_seconds: int = Field(default=0, ge=0, le=300, description="Wait up to this long to fill a batch.")
    report_batch_item_failures: bool = Field(
        default=False, description="Partial batch responses: the function returns the failed items, only those are retried."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "(has(self.table) ? 1 : 0) + (has(self.queue) ? 1 : 0) + (has(self.stream) ? 1 : 0) == 1",
            "message": "a trigger names exactly one of table, queue or stream",
        },
    ]

    @model_validator(mode="after")
    def _one(self) -> Trigger:
        if sum(x is not None for x in (self.table, self.queue, self.stream)) != 1:
            raise ValueError("a trigger names exactly one of table, queue or stream")
        return self

    @property
    def source(self) -> tuple[str, str]:
        if self.table:
            return ("StackeryTable", self.table)
        if self.queue:
            return ("StackeryQueue", self.queue)
        return ("StackeryStream", str(self.stream))


class FunctionSpec(CommonSpec):
    """Desired state of a Lambda function and its wiring."""

    function_name: str | None = Field(
        default=None,
        pattern=r"^[a-zA-Z0-9_-]{1,64}$",
        description="Function name. Default stackery-<namespace>-<name>-<hash of namespace and name>. Immutable.",
    )
    runtime: RUNTIMES | None = Field(default="python3.12", description="Runtime (not used with code.imageUri).")
    handler: str | None = Field(default="index.handler", max_length=128, description="Handler (not used with code.imageUri).")
    memory_size: int = Field(default=1024, ge=128, le=10240, description="Memory in MB.")
    timeout: int = Field(default=30, ge=1, le=900, description="Timeout in seconds.")
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables (yours win over connection names).",
        json_schema_extra={"maxProperties": 100},
    )
    reserved_concurrency: int | None = Field(default=None, ge=0, le=10000, description="Reserved concurrent executions.")
    code: Code = Field(description="The function's code.")
    connections: list[Connection] = Field(
        default_factory=list, max_length=50, description="Wires to other nodes: environment variables + IAM, in this order."
    )
    triggers: list[Trigger] = Field(
        default_factory=list,
        max_length=20,
        description="Event sources that invoke the function: Table streams, Queues, Streams (one trigger per source).",
    )
    virtual_network: str | None = Field(
        default=None,
        pattern=K8S_NAME_PATTERN,
        max_length=253,
        description=(
            "Place the function in this StackeryVirtualNetwork's private subnets, with a security group of its own "
            "(status.securityGroupId) and the network-interface permissions on its role. Moving in or out is an update."
        ),
    )
    role_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
        description="Use this execution role instead of one owned by the function (no IAM is managed then).",
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "has(self.functionName) == has(oldSelf.functionName) && (!has(self.functionName) || self.functionName == oldSelf.functionName)",
            "message": "functionName is immutable: create a new StackeryFunction instead",
        },
        {
            "rule": "!has(self.environment) || self.environment.all(k, k.matches('^[a-zA-Z][a-zA-Z0-9_]*$'))",
            "message": "environment keys must start with a letter and contain only letters, digits and _",
        },
        {
            "rule": "has(self.virtualNetwork) || !has(self.connections) || !self.connections.exists(c, c.kind == 'StackeryDatabase')",
            "message": "a connection to a StackeryDatabase needs spec.virtualNetwork: the database's network (it is reachable only there)",
        },
    ]

    @model_validator(mode="after")
    def _one_trigger_per_source(self) -> FunctionSpec:
        sources = [t.source for t in self.triggers]
        if len(sources) != len(set(sources)):
            raise ValueError("one trigger per table, queue or stream")
        return self

    @model_validator(mode="after")
    def _database_needs_network(self) -> FunctionSpec:
        if self.virtual_network is None and any(c.kind == "StackeryDatabase" for c in self.connections):
            raise ValueError("a connection to a StackeryDatabase needs spec.virtualNetwork: the database's network")
        return self


class FunctionStatus(CommonStatus):
    """Observed state of the function."""

    role_arn: str | None = Field(default=None, description="Execution role in use.")
    environment_keys: list[str] | None = Field(default=None, description="Environment variable names set (values not shown).")
    security_group_id: str | None = Field(default=None, description="Its security group, when placed in a Virtual Network.")
