"""StackeryTimer: run a StackeryFunction on a schedule (Stackery's Timer node), with EventBridge Scheduler.

Stackery's Timer was a schedule event on its target Function, default `rate(1 minute)`, Interval or Cron.
Here the schedule lives in a schedule group of its own (Scheduler schedules take no tags: the group
carries the ownership), invokes the function through a role that may invoke exactly that function, in a
time zone, with a fixed input.
"""

from __future__ import annotations

import json
import zoneinfo
from typing import Any, ClassVar

from pydantic import Field, field_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus

# (no backslashes: the same patterns go into CEL string literals)
RATE = r"^rate[(](1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))[)]$"
F = r"[0-9A-Z*?,/#L-]+"
CRON = rf"^cron[(]{F} {F} {F} {F} {F} {F}[)]$"
CRON_DAYS = rf"^cron[(]{F} {F} ([?] {F} {F}|{F} {F} [?]) {F}[)]$"
"""A cron schedule with '?' in day-of-month or day-of-week (AWS requires one of them)."""
TIMEZONE = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$"


class TimerSpec(CommonSpec):
    """Desired timer."""

    schedule: str = Field(
        default="rate(1 minute)",
        max_length=256,
        description=(
            "rate(N unit) — 'rate(1 minute)', 'rate(5 minutes)', units minute(s)/hour(s)/day(s) — or a six-field "
            "cron(minutes hours day-of-month month day-of-week year), one of the two days being '?', e.g. 'cron(0 3 * * ? *)'."
        ),
    )
    timezone: str = Field(
        default="UTC", max_length=64, pattern=TIMEZONE, description="IANA time zone cron expressions are read in."
    )
    function: str = Field(
        pattern=K8S_NAME_PATTERN, max_length=253, description="The StackeryFunction to invoke (same namespace)."
    )
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="The fixed event the function receives (a JSON object).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    enabled: bool = Field(default=True, description="false pauses the schedule (kept, not deleted).")
    maximum_retry_attempts: int = Field(default=2, ge=0, le=185, description="Retries when an invocation fails.")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": f"self.schedule.matches('{RATE}') || self.schedule.matches('{CRON}')",
            "message": "schedule must be rate(N minute(s)|hour(s)|day(s)) or cron(min hour day-of-month month day-of-week year)",
        },
        {
            "rule": f"!self.schedule.matches('{CRON}') || self.schedule.matches('{CRON_DAYS}')",
            "message": "a cron schedule needs '?' in day-of-month or day-of-week (e.g. cron(0 3 * * ? *))",
        },
    ]

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        import re

        if re.match(RATE, v):
            return v
        if not re.match(CRON, v):
            raise ValueError(
                "schedule must be rate(N minute(s)|hour(s)|day(s)) or cron(min hour day-of-month month day-of-week year)"
            )
        if not re.match(CRON_DAYS, v):
            raise ValueError("a cron schedule needs '?' in day-of-month or day-of-week (e.g. cron(0 3 * * ? *))")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Europe/Berlin)") from None
        return v

    @field_validator("input")
    @classmethod
    def _input(cls, v: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(v)) > 8192:
            raise ValueError("input is limited to 8 KiB of JSON")
        return v


class TimerStatus(CommonStatus):
    """Observed timer."""

    schedule_group: str | None = Field(default=None, description="Scheduler schedule group (carries the ownership tags).")
    state: str | None = Field(default=None, description="ENABLED or DISABLED.")
    role_arn: str | None = Field(default=None, description="Role the scheduler invokes the function with.")
    target_arn: str | None = Field(default=None, description="Function invoked.")
