"""Queue: one SQS queue, always encrypted (SSE-SQS, or SSE-KMS with spec.kmsKeyId), with an optional
dead-letter queue that is another StackeryQueue.

The name is deterministic (`stackery-<namespace>-<name>-<hash>`, `.fifo` for FIFO); CreateQueue is
idempotent for the same name and attributes. The URL is kept in status, so a check reads the attributes
and tags only. AWS refuses to re-create a deleted name for 60 s (QueueDeletedRecently): that is retried
with a message, never worked around with a new name.

Read budget of one drift check: GetQueueAttributes (All) + ListQueueTags = 2 (+ GetQueueUrl while the
status has no URL).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..api.queue import QueueSpec
from ..aws.clients import client, error_code
from ..core.adapter import NodeRef, ObjectRef, Reference
from ..core.parts import Composite, Context, Seen
from ..core.wiring import Access, GrantContext, Statement, Wiring
from ..errors import InvalidSpecError, RecoverableError
from ..policy import Claim
from .common import compare, dns_name, owner_of, retag

Ctx = Context[QueueSpec]
KIND = "StackeryQueue"
GONE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
SETTABLE = ("MessageRetentionPeriod", "VisibilityTimeout", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")


def queue_name(ref: ObjectRef, spec: QueueSpec) -> str:
    if spec.fifo:
        return dns_name("stackery", ref, max_len=75) + ".fifo"
    return dns_name("stackery", ref, max_len=80)


def dead_letter_arn(ctx: Ctx) -> str | None:
    dl = ctx.req.spec.dead_letter
    if dl is None:
        return None
    status = ctx.req.nodes.get((KIND, dl.queue))
    if status is None:
        return None
    if bool(status.get("fifo")) != ctx.req.spec.fifo:
        kind = "FIFO" if ctx.req.spec.fifo else "standard"
        raise InvalidSpecError(
            f"deadLetter.queue {dl.queue} must be a {kind} queue like this one (SQS moves messages only between queues of one type)"
        )
    return str(status["arn"])


def wanted_attributes(ctx: Ctx) -> dict[str, str]:
    spec = ctx.req.spec
    want = {
        "MessageRetentionPeriod": str(spec.message_retention_seconds),
        "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        "DelaySeconds": str(spec.delay_seconds),
        "ReceiveMessageWaitTimeSeconds": str(spec.receive_wait_seconds),
    }
    if spec.kms_key_id:
        want["KmsMasterKeyId"] = spec.kms_key_id
    else:
        want["SqsManagedSseEnabled"] = "true"
    if spec.fifo:
        want["ContentBasedDeduplication"] = str(spec.content_based_deduplication).lower()
    dl = spec.dead_letter
    target = dead_letter_arn(ctx)
    if dl is not None and target:
        want["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": target, "maxReceiveCount": dl.max_receive_count}, sort_keys=True
        )
    return want


def _have(attrs: Mapping[str, str], want: Mapping[str, str]) -> dict[str, str | None]:
    have: dict[str, str | None] = {k: attrs.get(k) for k in want}
    if "RedrivePolicy" in attrs:
        rp = json.loads(attrs["RedrivePolicy"])
        have["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": rp.get("deadLetterTargetArn"), "maxReceiveCount": int(rp.get("maxReceiveCount", 0))},
            sort_keys=True,
        )
    return have


class QueuePart:
    name = "queue"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        sqs = client("sqs", ctx.req.region)
        url = ctx.req.status.get("queueUrl")
        try:
            if not url:
                url = sqs.get_queue_url(QueueName=queue_name(ctx.req.ref, ctx.req.spec))["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            tags = sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
        except Exception as exc:
            if error_code(exc) in GONE:
                return Seen(exists=False)
            raise
        return self._seen(ctx, {"url": url, "attrs": attrs, "tags": tags})

    def _seen(self, ctx: Ctx, q: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        attrs, tags = q["attrs"], q["tags"]
        uid, owner = owner_of(tags)
        diffs = []
        if ctx.req.spec.dead_letter is None or (KIND, ctx.req.spec.dead_letter.queue) in ctx.req.nodes:
            want = wanted_attributes(ctx)
            have = _have(attrs, want)
            diffs += [d for k in sorted(want) for d in compare(k, want[k], have.get(k))]
            if "RedrivePolicy" in attrs and "RedrivePolicy" not in want:
                diffs += compare("RedrivePolicy", None, attrs["RedrivePolicy"])
            diffs += compare("tags", ctx.req.tags(), tags)
        arn = attrs["QueueArn"]
        name = arn.rsplit(":", 1)[1]
        redrive = json.loads(attrs["RedrivePolicy"]).get("deadLetterTargetArn") if attrs.get("RedrivePolicy") else None
        return Seen(
            exists=True,
            actual=dict(q),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "arn": arn,
                "externalName": name,
                "queueUrl": q["url"],
                "fifo": attrs.get("FifoQueue") == "true",
                "deadLetterArn": redrive,
                "approximateMessages": int(attrs.get("ApproximateNumberOfMessages", 0)),
                "approximateMessagesInFlight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            },
            outputs={"QUEUE_NAME": name, "QUEUE_ARN": arn, "QUEUE_URL": q["url"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        sqs, want = client("sqs", ctx.req.region), wanted_attributes(ctx)
        if not seen.exists:
            attrs = {**want, **({"FifoQueue": "true"} if ctx.req.spec.fifo else {})}
            try:
                url = sqs.create_queue(QueueName=queue_name(ctx.req.ref, ctx.req.spec), Attributes=attrs, tags=ctx.req.tags())[
                    "QueueUrl"
                ]
            except Exception as exc:
                if error_code(exc) in ("AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"):
                    raise RecoverableError(
                        f"SQS keeps the name {queue_name(ctx.req.ref, ctx.req.spec)} for 60 s after a delete; creating it again then"
                    ) from None
                raise
            arn_attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
            return self._seen(ctx, {"url": url, "attrs": {**attrs, **arn_attrs}, "tags": ctx.req.tags()})
        q = dict(seen.actual or {})
        fields = {d.field for d in seen.diffs}
        changes = {k: v for k, v in want.items() if k in fields}
        if "RedrivePolicy" in fields and "RedrivePolicy" not in want:
            changes["RedrivePolicy"] = ""
        if changes:
            sqs.set_queue_attributes(QueueUrl=q["url"], Attributes=changes)
        if "tags" in fields:
            retag(
                q["tags"],
                ctx.req.tags(),
                untag=lambda keys: sqs.untag_queue(QueueUrl=q["url"], TagKeys=keys),
                tag=lambda: sqs.tag_queue(QueueUrl=q["url"], Tags=ctx.req.tags()),
            )
        attrs = {k: v for k, v in {**q["attrs"], **changes}.items() if v != ""}
        return self._seen(ctx, {**q, "attrs": attrs, "tags": ctx.req.tags()})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        try:
            client("sqs", ctx.req.region).delete_queue(QueueUrl=(seen.actual or {})["url"])
        except Exception as exc:
            if error_code(exc) not in GONE:
                raise
        return None


def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    """Send (and, ReadWrite, receive/delete) on exactly this queue; ReadOnly reads its attributes."""
    actions = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    if access == "ReadWrite":
        actions += ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    return [{"Action": actions, "Resource": [str(status["arn"])]}]


WIRING = Wiring(env=(("QUEUE_NAME", "externalName"), ("QUEUE_ARN", "arn"), ("QUEUE_URL", "queueUrl")), grants=grants)


class QueueAdapter(Composite[QueueSpec]):
    def __init__(self) -> None:
        super().__init__([QueuePart()], primary="queue")

    def external_name(self, ref: ObjectRef, spec: QueueSpec) -> str:
        return queue_name(ref, spec)

    def references(self, spec: QueueSpec) -> list[Reference]:
        return [NodeRef(KIND, spec.dead_letter.queue, role="dead-letter")] if spec.dead_letter else []

    def claims(self, spec: QueueSpec) -> list[Claim]:
        return []
