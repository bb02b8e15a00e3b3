"""Stream: one Kinesis data stream, encrypted with KMS, its retention, shard count or on-demand mode.

Kinesis changes one thing at a time (the stream is UPDATING in between): each pass applies the first
difference it can and waits for ACTIVE before the next. moto drops the tags given to CreateStream, so
tags are also added once the stream is ACTIVE (harmless on AWS).

Read budget of one drift check: DescribeStreamSummary + ListTagsForStream = 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.stream import StreamSpec
from ..aws.clients import account_id, client, error_code
from ..core.adapter import ObjectRef, Reference
from ..core.parts import Composite, Context, Seen
from ..core.wiring import Access, GrantContext, Statement, Wiring
from ..errors import WaitingError
from ..policy import Claim
from .common import compare, dns_name, owner_of, retag, tag_dict

Ctx = Context[StreamSpec]
MODES = {"Provisioned": "PROVISIONED", "OnDemand": "ON_DEMAND"}


def stream_name(ref: ObjectRef) -> str:
    return dns_name("stackery", ref, max_len=128)


class StreamPart:
    name = "stream"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        k, name = client("kinesis", ctx.req.region), stream_name(ctx.req.ref)
        try:
            s = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            tags = tag_dict(k.list_tags_for_stream(StreamName=name).get("Tags"))
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return Seen(exists=False)
            raise
        return self._seen(ctx, {**s, "Tags": tags})

    def _seen(self, ctx: Ctx, s: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        spec, tags = ctx.req.spec, s.get("Tags") or {}
        uid, owner = owner_of(tags)
        state = s.get("StreamStatus", "ACTIVE")
        mode = (s.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
        diffs = [
            *compare("mode", MODES[spec.mode], mode),
            *compare("retentionHours", spec.retention_hours, s.get("RetentionPeriodHours")),
            *compare(
                "encryption", {"type": "KMS", "key": spec.kms_key_id}, {"type": s.get("EncryptionType"), "key": s.get("KeyId")}
            ),
            *compare("tags", ctx.req.tags(), tags),
        ]
        if spec.mode == "Provisioned":
            diffs += compare("shardCount", spec.shard_count, s.get("OpenShardCount"))
        return Seen(
            exists=True,
            actual=dict(s),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "arn": s["StreamARN"],
                "externalName": s["StreamName"],
                "streamStatus": state,
                "openShards": s.get("OpenShardCount"),
                "mode": mode,
            },
            outputs={"STREAM_NAME": s["StreamName"], "STREAM_ARN": s["StreamARN"]},
            waiting=None if state == "ACTIVE" else f"stream {s['StreamName']} is {state}",
            waiting_reason="Updating" if state == "UPDATING" else "Provisioning",
            deleting=state == "DELETING",
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        k, spec, name = client("kinesis", ctx.req.region), ctx.req.spec, stream_name(ctx.req.ref)
        if not seen.exists:
            args: dict[str, Any] = {
                "StreamName": name,
                "StreamModeDetails": {"StreamMode": MODES[spec.mode]},
                "Tags": ctx.req.tags(),
            }
            if spec.mode == "Provisioned":
                args["ShardCount"] = spec.shard_count
            try:
                k.create_stream(**args)
            except Exception as exc:
                if error_code(exc) != "ResourceInUseException":  # a retried create: it exists, observe says whose
                    raise
            arn = f"arn:aws:kinesis:{ctx.req.region}:{account_id(ctx.req.region)}:stream/{name}"  # (CreateStream returns nothing)
            # moto drops CreateStream's tags: tag again at once, so ownership never rests on a read-back. AWS
            # keeps them and may refuse AddTagsToStream while CREATING (ResourceInUse): they are there already.
            try:
                k.add_tags_to_stream(StreamName=name, Tags=ctx.req.tags())
            except Exception as exc:
                if error_code(exc) != "ResourceInUseException":
                    raise
            made = {"StreamName": name, "StreamARN": arn, "StreamStatus": "CREATING", "Tags": ctx.req.tags()}
            return self._seen(ctx, {**made, "StreamModeDetails": args["StreamModeDetails"], "RetentionPeriodHours": 24})
        s = dict(seen.actual or {})
        if s.get("StreamStatus") != "ACTIVE":
            raise WaitingError(f"stream {name} is {s.get('StreamStatus')}", reason="Updating")
        fields = [d.field for d in seen.diffs]
        if "tags" in fields:  # (moto drops CreateStream's tags; AWS kept them)
            retag(
                s.get("Tags") or {},
                ctx.req.tags(),
                untag=lambda keys: k.remove_tags_from_stream(StreamName=name, TagKeys=keys),
                tag=lambda: k.add_tags_to_stream(StreamName=name, Tags=ctx.req.tags()),
            )
            s["Tags"] = ctx.req.tags()
        # one change that makes the stream UPDATING per pass; the next waits for ACTIVE
        if "encryption" in fields:
            if s.get("EncryptionType") == "KMS":
                k.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=str(s.get("KeyId")))
            k.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=spec.kms_key_id)
            s.update(EncryptionType="KMS", KeyId=spec.kms_key_id)
        elif "retentionHours" in fields:
            have = int(s.get("RetentionPeriodHours") or 24)
            if spec.retention_hours > have:
                k.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=spec.retention_hours)
            else:
                k.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=spec.retention_hours)
            s["RetentionPeriodHours"] = spec.retention_hours
        elif "mode" in fields:
            k.update_stream_mode(StreamARN=s["StreamARN"], StreamModeDetails={"StreamMode": MODES[spec.mode]})
            s["StreamModeDetails"] = {"StreamMode": MODES[spec.mode]}
        elif "shardCount" in fields:
            k.update_shard_count(StreamName=name, TargetShardCount=spec.shard_count, ScalingType="UNIFORM_SCALING")
            s["OpenShardCount"] = spec.shard_count
        return self._seen(ctx, s)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        try:
            client("kinesis", ctx.req.region).delete_stream(StreamName=stream_name(ctx.req.ref), EnforceConsumerDeletion=True)
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        return None


READ = [
    "kinesis:DescribeStreamSummary",
    "kinesis:DescribeStream",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
]


def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    """Read (and, ReadWrite, put records) on exactly this stream."""
    actions = READ + (["kinesis:PutRecord", "kinesis:PutRecords"] if access == "ReadWrite" else [])
    return [{"Action": actions, "Resource": [str(status["arn"])]}]


WIRING = Wiring(env=(("STREAM_NAME", "externalName"), ("STREAM_ARN", "arn")), grants=grants)


class StreamAdapter(Composite[StreamSpec]):
    def __init__(self) -> None:
        super().__init__([StreamPart()], primary="stream")

    def external_name(self, ref: ObjectRef, spec: StreamSpec) -> str:
        return stream_name(ref)

    def references(self, spec: StreamSpec) -> list[Reference]:
        return []

    def claims(self, spec: StreamSpec) -> list[Claim]:
        return []
