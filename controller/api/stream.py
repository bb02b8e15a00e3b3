"""StackeryStream: a Kinesis data stream (Stackery's Stream node), always encrypted.

Stackery: "AWS::Kinesis::Stream (KMS alias/aws/kinesis), ShardCount (1)"; a Stream → Function wire made
a Kinesis event (TRIM_HORIZON, BatchSize): here a Function's spec.triggers names the stream. A node
connected to it gets STREAM_NAME, STREAM_ARN and put/read rights on exactly this stream.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from .common import CommonSpec, CommonStatus


class StreamSpec(CommonSpec):
    """Desired stream."""

    mode: Literal["Provisioned", "OnDemand"] = Field(
        default="Provisioned", description="Provisioned shards (Stackery) or on-demand capacity."
    )
    shard_count: int = Field(default=1, ge=1, le=500, description="Open shards (Provisioned only).")
    retention_hours: int = Field(default=24, ge=24, le=8760, description="How long records are kept.")
    kms_key_id: str = Field(
        default="alias/aws/kinesis", min_length=1, max_length=2048, description="KMS key for server-side encryption (always on)."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "!has(self.mode) || self.mode == 'Provisioned' || !has(self.shardCount) || self.shardCount == 1",
            "message": "shardCount is for mode Provisioned only",
        },
    ]

    @model_validator(mode="after")
    def _rules(self) -> StreamSpec:
        if self.mode == "OnDemand" and self.shard_count != 1:
            raise ValueError("shardCount is for mode Provisioned only")
        return self


class StreamStatus(CommonStatus):
    """Observed stream."""

    stream_status: str | None = Field(default=None, description="CREATING, ACTIVE, UPDATING or DELETING.")
    open_shards: int | None = Field(default=None, description="Open shards.")
    mode: str | None = Field(default=None, description="PROVISIONED or ON_DEMAND.")
