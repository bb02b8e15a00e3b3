"""Topic: three parts — the SNS topic (encrypted), the permissions its subscribers need (an invoke
statement on each subscribed function, a send statement in each subscribed queue's policy: both owned by
this topic by Sid and limited to this topic's ARN, everybody else's statements kept), and the
subscriptions — composed by core.parts.

The topic ARN is deterministic (CreateTopic is idempotent by name), so observe needs no lookup.

Read budget of one drift check: GetTopicAttributes + ListTagsForResource, GetPolicy per subscribed
function + GetQueueAttributes (Policy) per subscribed queue, ListSubscriptionsByTopic +
GetSubscriptionAttributes per subscription = 3 + 2 per subscriber.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from ..api.topic import Subscription, TopicSpec
from ..aws.clients import account_id, client, error_code, or_none
from ..core.adapter import NodeRef, ObjectRef, Reference
from ..core.parts import Composite, Context, Seen
from ..core.wiring import Access, GrantContext, Statement, Wiring
from ..policy import Claim
from .common import compare, dns_name, owner_of, replace_statements, retag, tag_dict, tag_list

Ctx = Context[TopicSpec]
FUNCTION, QUEUE = "StackeryFunction", "StackeryQueue"


def topic_name(ref: ObjectRef, spec: TopicSpec) -> str:
    return dns_name("stackery", ref, max_len=251) + (".fifo" if spec.fifo else "")


def topic_arn(ctx: Ctx) -> str:
    return f"arn:aws:sns:{ctx.req.region}:{account_id(ctx.req.region)}:{topic_name(ctx.req.ref, ctx.req.spec)}"


def sid(ctx: Ctx) -> str:
    """The Sid of this topic's statement in a subscriber's policy."""
    return f"stackery-topic-{ctx.req.ref.uid[:8]}-{ctx.req.ref.uid[-12:]}"


def resolved(ctx: Ctx) -> bool:
    return all(s.target in ctx.req.nodes for s in ctx.req.spec.subscriptions)


def endpoint(ctx: Ctx, s: Subscription) -> str:
    return str(ctx.req.nodes[s.target]["arn"])


# ------------------------------------------------------------------ topic
class TopicPart:
    name = "topic"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        sns, arn = client("sns", ctx.req.region), topic_arn(ctx)
        got = or_none(lambda: sns.get_topic_attributes(TopicArn=arn), "NotFound", "NotFoundException")
        if got is None:
            return Seen(exists=False)
        tags = tag_dict(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))
        return self._seen(ctx, {"Attributes": got["Attributes"], "Tags": tags})

    def _wanted(self, ctx: Ctx) -> dict[str, str]:
        spec = ctx.req.spec
        want = {"KmsMasterKeyId": spec.kms_key_id}
        if spec.fifo:
            want["ContentBasedDeduplication"] = str(spec.content_based_deduplication).lower()
        return want

    def _seen(self, ctx: Ctx, t: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        attrs, tags = t["Attributes"], t.get("Tags") or {}
        uid, owner = owner_of(tags)
        want = self._wanted(ctx)
        diffs = [d for k in sorted(want) for d in compare(k, want[k], attrs.get(k))]
        diffs += compare("tags", ctx.req.tags(), tags)
        arn = topic_arn(ctx)
        name = arn.rsplit(":", 1)[1]
        return Seen(
            exists=True,
            actual=dict(t),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={"arn": arn, "externalName": name, "fifo": ctx.req.spec.fifo},
            outputs={"TOPIC_NAME": name, "TOPIC_ARN": arn},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        sns, arn, want = client("sns", ctx.req.region), topic_arn(ctx), self._wanted(ctx)
        if not seen.exists:
            attrs = {**want, **({"FifoTopic": "true"} if ctx.req.spec.fifo else {})}
            sns.create_topic(Name=topic_name(ctx.req.ref, ctx.req.spec), Attributes=attrs, Tags=tag_list(ctx.req.tags()))
            return self._seen(ctx, {"Attributes": attrs, "Tags": ctx.req.tags()})
        t = dict(seen.actual or {})
        fields = {d.field for d in seen.diffs}
        for k, v in want.items():
            if k in fields:
                sns.set_topic_attributes(TopicArn=arn, AttributeName=k, AttributeValue=v)
        if "tags" in fields:
            retag(
                t.get("Tags") or {},
                ctx.req.tags(),
                untag=lambda keys: sns.untag_resource(ResourceArn=arn, TagKeys=keys),
                tag=lambda: sns.tag_resource(ResourceArn=arn, Tags=tag_list(ctx.req.tags())),
            )
        return self._seen(ctx, {"Attributes": {**t["Attributes"], **want}, "Tags": ctx.req.tags()})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        client("sns", ctx.req.region).delete_topic(TopicArn=topic_arn(ctx))  # idempotent
        return None


# ------------------------------------------------------------------ subscribers' permissions
def _queue_statement(ctx: Ctx, queue_arn: str) -> dict[str, Any]:
    return {
        "Sid": sid(ctx),
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn(ctx)}},
    }


class PermissionsPart:
    """actual: {"functions": {function name: has statement}, "queues": {queue url: policy or None}}."""

    name = "permissions"
    after: tuple[str, ...] = ("topic",)

    def wanted(self, ctx: Ctx) -> bool:
        return bool(ctx.req.spec.subscriptions) or bool(ctx.req.status.get("subscriptions"))

    def _targets(self, ctx: Ctx) -> tuple[dict[str, str], dict[str, str]]:
        """(function name -> arn, queue url -> arn) of the subscribers in the spec (those handed over)."""
        fns, queues = {}, {}
        for s in ctx.req.spec.subscriptions:
            st = ctx.req.nodes.get(s.target)
            if st is None:
                continue
            if s.function:
                fns[str(st["externalName"])] = str(st["arn"])
            else:
                queues[str(st["queueUrl"])] = str(st["arn"])
        return fns, queues

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        lam, sqs = client("lambda", ctx.req.region), client("sqs", ctx.req.region)
        fns, queues = self._targets(ctx)
        # also where a statement was granted before (a subscriber since removed from the spec)
        status = ctx.req.status
        fn_names = set(fns) | set(status.get("grantedFunctions") or [])
        urls = set(queues) | set(status.get("grantedQueues") or [])
        have_fn: dict[str, bool] = {}
        for fn in sorted(fn_names):
            got = or_none(partial(lam.get_policy, FunctionName=fn), "ResourceNotFoundException")
            statements = json.loads(got["Policy"])["Statement"] if got else []
            have_fn[fn] = any(st.get("Sid") == sid(ctx) for st in statements)
        have_q: dict[str, Any] = {}
        for url in sorted(urls):
            try:
                raw = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
            except Exception as exc:
                if error_code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                    raise
                raw = None
            have_q[url] = json.loads(raw) if raw else None
        return self._seen(ctx, {"functions": have_fn, "queues": have_q})

    def _seen(self, ctx: Ctx, have: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        fns, queues = self._targets(ctx)
        got_fn = sorted(f for f, ok in have["functions"].items() if ok)
        got_q = sorted(
            u
            for u, p in have["queues"].items()
            if u in queues and any(st == _queue_statement(ctx, queues[u]) for st in (p or {}).get("Statement", []))
        )
        stale_q = sorted(
            u
            for u, p in have["queues"].items()
            if u not in queues and any(st.get("Sid") == sid(ctx) for st in (p or {}).get("Statement", []))
        )
        diffs = [
            *compare("permissions.functions", sorted(fns), got_fn),
            *compare("permissions.queues", sorted(queues), sorted({*got_q, *stale_q})),
        ]
        granted_fn = sorted(f for f, ok in have["functions"].items() if ok)
        granted_q = sorted(
            u for u, p in have["queues"].items() if any(st.get("Sid") == sid(ctx) for st in (p or {}).get("Statement", []))
        )
        return Seen(
            exists=bool(granted_fn or granted_q),
            actual=dict(have),
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={"grantedFunctions": granted_fn, "grantedQueues": granted_q},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        lam, sqs = client("lambda", ctx.req.region), client("sqs", ctx.req.region)
        fns, queues = self._targets(ctx)
        have = dict(seen.actual or {"functions": {}, "queues": {}})
        for fn in sorted(fns):
            if not have["functions"].get(fn):
                try:
                    lam.add_permission(
                        FunctionName=fn,
                        StatementId=sid(ctx),
                        Action="lambda:InvokeFunction",
                        Principal="sns.amazonaws.com",
                        SourceArn=topic_arn(ctx),
                    )
                except Exception as exc:
                    if error_code(exc) != "ResourceConflictException":  # granted before a crash
                        raise
        for url, arn in sorted(queues.items()):
            policy = have["queues"].get(url)
            if not any(st == _queue_statement(ctx, arn) for st in (policy or {}).get("Statement", [])):
                new = replace_statements(policy, lambda s: s == sid(ctx), [_queue_statement(ctx, arn)])
                sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(new)})
                have["queues"][url] = new
        for fn, ok in sorted(have["functions"].items()):
            if ok and fn not in fns:  # unsubscribed: take the statement back
                or_none(partial(lam.remove_permission, FunctionName=fn, StatementId=sid(ctx)), "ResourceNotFoundException")
                have["functions"][fn] = False
        for url, policy in sorted(have["queues"].items()):
            if url not in queues and policy and any(st.get("Sid") == sid(ctx) for st in policy.get("Statement", [])):
                kept = replace_statements(policy, lambda s: s == sid(ctx), [])
                self._write_queue_policy(sqs, url, kept)
                have["queues"][url] = kept
        return self._seen(ctx, {"functions": {**have["functions"], **dict.fromkeys(fns, True)}, "queues": have["queues"]})

    @staticmethod
    def _write_queue_policy(sqs: Any, url: str, policy: dict[str, Any] | None) -> None:
        try:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy) if policy else ""})
        except Exception as exc:
            if error_code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                raise

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        """Take back this topic's statements (a subscriber already gone needs nothing)."""
        lam, sqs = client("lambda", ctx.req.region), client("sqs", ctx.req.region)
        have = seen.actual or {"functions": {}, "queues": {}}
        for fn, ok in have["functions"].items():
            if ok:
                or_none(partial(lam.remove_permission, FunctionName=fn, StatementId=sid(ctx)), "ResourceNotFoundException")
        for url, policy in have["queues"].items():
            if policy and any(st.get("Sid") == sid(ctx) for st in policy.get("Statement", [])):
                self._write_queue_policy(sqs, url, replace_statements(policy, lambda s: s == sid(ctx), []))
        return None


# ------------------------------------------------------------------ subscriptions
def _sub_want(ctx: Ctx, s: Subscription) -> dict[str, str]:
    attrs = {"RawMessageDelivery": str(s.raw_message_delivery).lower()} if s.queue else {}
    attrs["FilterPolicy"] = json.dumps(s.filter_policy, sort_keys=True) if s.filter_policy else ""
    return attrs


class SubscriptionsPart:
    """actual: endpoint ARN -> {"arn": subscription ARN, "attributes": {...}}."""

    name = "subscriptions"
    after: tuple[str, ...] = ("topic", "permissions")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        sns = client("sns", ctx.req.region)
        got = or_none(lambda: sns.list_subscriptions_by_topic(TopicArn=topic_arn(ctx)), "NotFound", "NotFoundException")
        have: dict[str, Any] = {}
        for sub in (got or {}).get("Subscriptions", []):
            arn = sub["SubscriptionArn"]
            if arn in ("PendingConfirmation", "Deleted"):
                continue
            attrs = sns.get_subscription_attributes(SubscriptionArn=arn).get("Attributes", {})
            have[sub["Endpoint"]] = {"arn": arn, "attributes": attrs}
        return self._seen(ctx, have)

    def _seen(self, ctx: Ctx, have: dict[str, Any]) -> Seen[dict[str, Any]]:
        diffs = []
        if resolved(ctx):
            want = {endpoint(ctx, s): _sub_want(ctx, s) for s in ctx.req.spec.subscriptions}
            diffs += compare("subscriptions", sorted(want), sorted(have))
            for ep, attrs in sorted(want.items()):
                if ep in have:
                    have_attrs = have[ep]["attributes"]
                    norm = {k: have_attrs.get(k, "false" if k == "RawMessageDelivery" else "") for k in attrs}
                    if norm.get("FilterPolicy"):
                        norm["FilterPolicy"] = json.dumps(json.loads(norm["FilterPolicy"]), sort_keys=True)
                    diffs += compare(f"subscription.{ep.rsplit(':', 1)[-1]}", attrs, norm)
        status = []
        for s in ctx.req.spec.subscriptions:
            ep = str((ctx.req.nodes.get(s.target) or {}).get("arn"))
            status.append({"target": "/".join(s.target), "subscriptionArn": (have.get(ep) or {}).get("arn")})
        return Seen(
            exists=bool(have),
            actual=have,
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={"subscriptions": status},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        sns = client("sns", ctx.req.region)
        have = dict(seen.actual or {})
        want = {endpoint(ctx, s): s for s in ctx.req.spec.subscriptions}
        for ep in sorted(set(have) - set(want)):
            or_none(partial(sns.unsubscribe, SubscriptionArn=have.pop(ep)["arn"]), "NotFound", "NotFoundException")
        for ep, s in sorted(want.items()):
            attrs = _sub_want(ctx, s)
            if ep not in have:
                made = sns.subscribe(
                    TopicArn=topic_arn(ctx),
                    Protocol="lambda" if s.function else "sqs",
                    Endpoint=ep,
                    Attributes={k: v for k, v in attrs.items() if v},
                    ReturnSubscriptionArn=True,
                )  # idempotent for the same endpoint and attributes
                have[ep] = {"arn": made["SubscriptionArn"], "attributes": attrs}
                continue
            for k, v in attrs.items():
                cur = have[ep]["attributes"].get(k, "false" if k == "RawMessageDelivery" else "")
                if k == "FilterPolicy" and cur:
                    cur = json.dumps(json.loads(cur), sort_keys=True)
                if cur != v:
                    if k == "FilterPolicy" and not v:
                        sns.set_subscription_attributes(SubscriptionArn=have[ep]["arn"], AttributeName=k, AttributeValue="{}")
                    else:
                        sns.set_subscription_attributes(SubscriptionArn=have[ep]["arn"], AttributeName=k, AttributeValue=v)
            have[ep] = {**have[ep], "attributes": {**have[ep]["attributes"], **attrs}}
        return self._seen(ctx, have)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        sns = client("sns", ctx.req.region)
        for sub in (seen.actual or {}).values():
            or_none(partial(sns.unsubscribe, SubscriptionArn=sub["arn"]), "NotFound", "NotFoundException")
        return None


def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    """Publish to exactly this topic (ReadOnly: read its attributes)."""
    actions = ["sns:GetTopicAttributes"] + (["sns:Publish"] if access == "ReadWrite" else [])
    return [{"Action": actions, "Resource": [str(status["arn"])]}]


WIRING = Wiring(env=(("TOPIC_NAME", "externalName"), ("TOPIC_ARN", "arn")), grants=grants)


class TopicAdapter(Composite[TopicSpec]):
    def __init__(self) -> None:
        super().__init__([TopicPart(), PermissionsPart(), SubscriptionsPart()], primary="topic")

    def external_name(self, ref: ObjectRef, spec: TopicSpec) -> str:
        return topic_name(ref, spec)

    def references(self, spec: TopicSpec) -> list[Reference]:
        return [NodeRef(*s.target, role="subscription") for s in spec.subscriptions]

    def claims(self, spec: TopicSpec) -> list[Claim]:
        return []
