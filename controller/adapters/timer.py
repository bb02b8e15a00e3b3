"""Timer: three parts — the scheduler's role (lambda:InvokeFunction on exactly the target function), a
schedule group of its own (tagged: Scheduler schedules take no tags, so the group carries the ownership
and a delete of the group takes its schedule with it), and the schedule — composed by core.parts.

Nothing is written to the function: Scheduler invokes through the role, so no Lambda permission grows
on another object's function (EventBridge rules would need one per timer).

Read budget of one drift check: GetRole + GetRolePolicy, GetScheduleGroup + ListTagsForResource,
GetSchedule = 5.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..api.timer import TimerSpec
from ..aws.clients import account_id, client, error_code, or_none
from ..core.adapter import NodeRef, ObjectRef, Reference
from ..core.parts import Composite, Context, Seen
from ..errors import OwnershipConflictError
from ..policy import Claim
from .common import compare, dns_name, owner_of, retag, tag_dict, tag_list
from .execrole import ExecutionRole

Ctx = Context[TimerSpec]
FUNCTION = "StackeryFunction"
SCHEDULE = "timer"
ROLE = ExecutionRole("stackery-timer", "scheduler.amazonaws.com")


def group_name(ref: ObjectRef) -> str:
    return dns_name("stackery", ref, max_len=64)


def function_arn(ctx: Ctx) -> str | None:
    status = ctx.req.nodes.get((FUNCTION, ctx.req.spec.function))
    return str(status["arn"]) if status else None


class RolePart:
    name = "role"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def _policy(self, ctx: Ctx) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Invoke", "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [function_arn(ctx)]}
            ],
        }

    def observe(self, ctx: Ctx) -> Seen[Any]:
        policy = ROLE.policy(ctx.req)
        if policy is None and not ROLE.held(ctx.req):
            return Seen(exists=False)
        return self._seen(ctx, policy)

    def _seen(self, ctx: Ctx, policy: Any) -> Seen[Any]:
        diffs = compare("role.policy", self._policy(ctx), policy) if function_arn(ctx) else []
        return Seen(
            exists=True,
            actual=policy,
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={"roleArn": ROLE.arn(ctx.req.ref, account_id(ctx.req.region))},
        )

    def ensure(self, ctx: Ctx, seen: Seen[Any]) -> Seen[Any]:
        policy = self._policy(ctx)
        ROLE.ensure(ctx.req, policy, f"Timer {ctx.req.ref.namespace}/{ctx.req.ref.name}: invokes its function")
        return self._seen(ctx, policy)

    def delete(self, ctx: Ctx, seen: Seen[Any]) -> str | None:
        ROLE.delete(ctx.req)
        return None


class GroupPart:
    name = "group"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        s = client("scheduler", ctx.req.region)
        got = or_none(lambda: s.get_schedule_group(Name=group_name(ctx.req.ref)), "ResourceNotFoundException")
        if got is None:
            return Seen(exists=False)
        tags = tag_dict(s.list_tags_for_resource(ResourceArn=got["Arn"]).get("Tags"))
        return self._seen(ctx, {"Arn": got["Arn"], "State": got.get("State"), "Tags": tags})

    def _seen(self, ctx: Ctx, g: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        uid, owner = owner_of(g.get("Tags") or {})
        return Seen(
            exists=True,
            actual=dict(g),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(compare("tags", ctx.req.tags(), g.get("Tags") or {})),
            identifiers={"scheduleGroup": group_name(ctx.req.ref)},
            deleting=g.get("State") == "DELETING",
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        s, name = client("scheduler", ctx.req.region), group_name(ctx.req.ref)
        if not seen.exists:
            try:
                arn = s.create_schedule_group(Name=name, Tags=tag_list(ctx.req.tags()), ClientToken=ctx.req.ref.uid[:64])[
                    "ScheduleGroupArn"
                ]
            except Exception as exc:
                if error_code(exc) != "ConflictException":
                    raise
                again = self.observe(ctx)  # a retried create: whose is it?
                if again.owner_uid != ctx.req.ref.uid:
                    raise OwnershipConflictError(
                        f"schedule group {name} belongs to {again.owner or 'nobody (untagged)'}"
                    ) from None
                return again
            return self._seen(ctx, {"Arn": arn, "State": "ACTIVE", "Tags": ctx.req.tags()})
        g = dict(seen.actual or {})
        retag(
            g.get("Tags") or {},
            ctx.req.tags(),
            untag=lambda keys: s.untag_resource(ResourceArn=g["Arn"], TagKeys=keys),
            tag=lambda: s.tag_resource(ResourceArn=g["Arn"], Tags=tag_list(ctx.req.tags())),
        )
        return self._seen(ctx, {**g, "Tags": ctx.req.tags()})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        or_none(
            lambda: client("scheduler", ctx.req.region).delete_schedule_group(Name=group_name(ctx.req.ref)),
            "ResourceNotFoundException",
        )
        return None


def wanted_schedule(ctx: Ctx) -> dict[str, Any]:
    spec = ctx.req.spec
    return {
        "ScheduleExpression": spec.schedule,
        "ScheduleExpressionTimezone": spec.timezone,
        "State": "ENABLED" if spec.enabled else "DISABLED",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": function_arn(ctx),
            "RoleArn": ROLE.arn(ctx.req.ref, account_id(ctx.req.region)),
            "Input": json.dumps(spec.input, sort_keys=True),
            "RetryPolicy": {"MaximumRetryAttempts": spec.maximum_retry_attempts, "MaximumEventAgeInSeconds": 86400},
        },
    }


def _have(got: Mapping[str, Any]) -> dict[str, Any]:
    t = got.get("Target") or {}
    rp = t.get("RetryPolicy") or {}
    raw = t.get("Input") or "{}"
    try:
        inp = json.dumps(json.loads(raw), sort_keys=True)
    except ValueError:
        inp = raw
    return {
        "ScheduleExpression": got.get("ScheduleExpression"),
        "ScheduleExpressionTimezone": got.get("ScheduleExpressionTimezone") or "UTC",
        "State": got.get("State"),
        "FlexibleTimeWindow": {"Mode": (got.get("FlexibleTimeWindow") or {}).get("Mode")},
        "Target": {
            "Arn": t.get("Arn"),
            "RoleArn": t.get("RoleArn"),
            "Input": inp,
            "RetryPolicy": {
                "MaximumRetryAttempts": rp.get("MaximumRetryAttempts"),
                "MaximumEventAgeInSeconds": rp.get("MaximumEventAgeInSeconds"),
            },
        },
    }


class SchedulePart:
    name = "schedule"
    after: tuple[str, ...] = ("role", "group")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        s = client("scheduler", ctx.req.region)
        got = or_none(lambda: s.get_schedule(Name=SCHEDULE, GroupName=group_name(ctx.req.ref)), "ResourceNotFoundException")
        return Seen(exists=False) if got is None else self._seen(ctx, got)

    def _seen(self, ctx: Ctx, got: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        diffs = []
        if function_arn(ctx):
            want, have = wanted_schedule(ctx), _have(got)
            diffs = [d for k in want for d in compare(k[0].lower() + k[1:], want[k], have[k])]
        group = ctx.seen.get("group")
        return Seen(
            exists=True,
            actual=dict(got),
            owner_uid=group.owner_uid if group is not None and group.exists else ctx.req.ref.uid,  # owned through its group
            diffs=tuple(diffs),
            identifiers={
                "arn": got.get("Arn"),
                "externalName": f"{group_name(ctx.req.ref)}/{SCHEDULE}",
                "state": got.get("State"),
                "targetArn": (got.get("Target") or {}).get("Arn"),
            },
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        s, want = client("scheduler", ctx.req.region), wanted_schedule(ctx)
        args = {"Name": SCHEDULE, "GroupName": group_name(ctx.req.ref), **want}
        if seen.exists:
            s.update_schedule(**args)  # a full replace: every field is sent
            arn = (seen.actual or {}).get("Arn")
        else:
            try:
                arn = s.create_schedule(**args, ClientToken=ctx.req.ref.uid[:64])["ScheduleArn"]
            except Exception as exc:
                if error_code(exc) != "ConflictException":  # created before a crash: make it match instead
                    raise
                s.update_schedule(**args)
                arn = s.get_schedule(Name=SCHEDULE, GroupName=group_name(ctx.req.ref)).get("Arn")
        return self._seen(ctx, {**want, "Arn": arn})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        or_none(
            lambda: client("scheduler", ctx.req.region).delete_schedule(Name=SCHEDULE, GroupName=group_name(ctx.req.ref)),
            "ResourceNotFoundException",
        )
        return None


class TimerAdapter(Composite[TimerSpec]):
    def __init__(self) -> None:
        super().__init__([RolePart(), GroupPart(), SchedulePart()], primary="schedule")

    def external_name(self, ref: ObjectRef, spec: TimerSpec) -> str:
        return group_name(ref)

    def references(self, spec: TimerSpec) -> list[Reference]:
        return [NodeRef(FUNCTION, spec.function, role="schedule")]

    def claims(self, spec: TimerSpec) -> list[Claim]:
        return []
