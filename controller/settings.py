"""The operator's settings, one typed object read from STACKERY_* environment variables.

Why: the Helm chart, the demo, the tests and the benchmark all configure the same fields, and each one
is documented here once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    """Read once at start; every field documented. Invalid values fail the start, loudly."""

    region: str = field(
        default_factory=lambda: os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )
    """Default AWS region for objects without spec.region (AWS_REGION)."""
    resync_seconds: float = field(default_factory=lambda: float(_env("STACKERY_RESYNC_SECONDS", "300")))
    """How often an in-sync object is re-read from AWS to detect drift."""
    resync_jitter: float = field(default_factory=lambda: float(_env("STACKERY_RESYNC_JITTER", "0.1")))
    """Fraction (+/-) by which each object's resync is spread, so objects do not poll AWS in lockstep."""
    status_heartbeat_seconds: float = field(default_factory=lambda: float(_env("STACKERY_STATUS_HEARTBEAT_SECONDS", "3600")))
    """A scheduled check that finds nothing new writes no status (its next time stays in memory); it writes
    anyway once the stored lastSyncTime is this old, so status shows the operator is still looking."""
    tick_seconds: float = field(default_factory=lambda: float(_env("STACKERY_TICK_SECONDS", "10")))
    """With the agenda: how soon an object whose status has no nextCheckAt yet is looked at. With timers: how
    often each object's timer wakes to see whether a check is due (no AWS call unless due)."""
    scheduler: str = field(default_factory=lambda: _env("STACKERY_SCHEDULER", "agenda"))
    """agenda: one heap of next-check times (controller.agenda); timers: a kopf timer per object ticking every
    tick_seconds (kept to measure against)."""
    wait_seconds: float = field(default_factory=lambda: float(_env("STACKERY_WAIT_SECONDS", "10")))
    """Re-check delay while waiting on AWS or on a reference."""
    default_deletion_policy: str = field(default_factory=lambda: _env("STACKERY_DEFAULT_DELETION_POLICY", "Delete"))
    """Deletion policy for objects whose spec.deletionPolicy is unset: Delete or Retain."""
    blocked_seconds: float = field(default_factory=lambda: float(_env("STACKERY_BLOCKED_SECONDS", "60")))
    """Re-check delay while an action waits for a person (e.g. deleting a non-empty bucket)."""
    backoff_base_seconds: float = field(default_factory=lambda: float(_env("STACKERY_BACKOFF_BASE_SECONDS", "2")))
    """First retry delay after a transient error; doubles per consecutive failure."""
    backoff_max_seconds: float = field(default_factory=lambda: float(_env("STACKERY_BACKOFF_MAX_SECONDS", "300")))
    """Upper bound of the retry delay."""
    backoff_jitter: float = field(default_factory=lambda: float(_env("STACKERY_BACKOFF_JITTER", "0.2")))
    """Retry delays are spread by +/- this fraction (per object and attempt), so objects that failed
    together (an AWS outage) do not all retry in the same second."""
    sweep_seconds: float = field(default_factory=lambda: float(_env("STACKERY_SWEEP_SECONDS", "30")))
    """How often the sweep lists every object to find checks that are overdue (0 disables it)."""
    overdue_margin_seconds: float = field(default_factory=lambda: float(_env("STACKERY_OVERDUE_MARGIN_SECONDS", "120")))
    """A check later than nextCheckAt + this is overdue: counted in stackery_checks_overdue and asked for."""
    unhealthy_after_seconds: float = field(default_factory=lambda: float(_env("STACKERY_UNHEALTHY_AFTER_SECONDS", "600")))
    """/healthz fails when the API could not be listed, or objects stayed overdue, for this long."""
    metrics_port: int = field(default_factory=lambda: int(_env("STACKERY_METRICS_PORT", "8080")))
    """Port of the /metrics and /healthz HTTP endpoint (0 disables it)."""
    namespaces: tuple[str, ...] = field(default_factory=lambda: tuple(n for n in _env("STACKERY_NAMESPACES", "").split(",") if n))
    """Namespaces to watch; empty means all namespaces."""
    policy_file: str = field(default_factory=lambda: _env("STACKERY_POLICY_FILE", ""))
    """Tenancy policy (controller.policy): per-namespace scope and AWS identity. Empty: built-in defaults."""
    aws_rate_limits: str = field(default_factory=lambda: _env("STACKERY_AWS_RATE_LIMITS", "default=0,iam=15/30"))
    """Client-side AWS rate limits per service and region: service=rate/burst pairs, `default` for the rest
    (controller.aws.limits); a rate of 0 turns a service's limit off."""
    shards: int = field(default_factory=lambda: int(_env("STACKERY_SHARDS", "1")))
    """Shards the objects are split into (controller.shards), each owned by one replica through a Lease. 1: no
    sharding, this replica reconciles everything (and no Lease is used)."""
    identity: str = field(
        default_factory=lambda: _env("STACKERY_IDENTITY", "") or os.environ.get("POD_NAME", "") or os.uname().nodename
    )
    """This replica's name in the shards' Leases (the chart gives the pod's name)."""
    lease_namespace: str = field(
        default_factory=lambda: _env("STACKERY_LEASE_NAMESPACE", "") or os.environ.get("POD_NAMESPACE", "")
    )
    """Namespace of the shards' Leases (the chart gives its own release namespace)."""
    lease_seconds: float = field(default_factory=lambda: float(_env("STACKERY_LEASE_SECONDS", "15")))
    """A shard's Lease duration: a replica that stops renewing loses its shards after this long (renewed
    every third of it; passes stop after two thirds without a renewal)."""
    workers: int = field(default_factory=lambda: int(_env("STACKERY_WORKERS", "8")))
    """Threads running blocking AWS calls."""

    def __post_init__(self) -> None:
        if self.default_deletion_policy not in ("Delete", "Retain"):
            raise ValueError(f"STACKERY_DEFAULT_DELETION_POLICY must be Delete or Retain, not {self.default_deletion_policy!r}")
        if not 1 <= self.shards <= 64:
            raise ValueError(f"STACKERY_SHARDS must be between 1 and 64, not {self.shards}")
        if self.shards > 1 and not self.lease_namespace:
            raise ValueError("STACKERY_SHARDS > 1 needs the Leases' namespace: STACKERY_LEASE_NAMESPACE (or POD_NAMESPACE)")
        if self.shards > 1 and self.lease_seconds < 3:
            raise ValueError(f"STACKERY_LEASE_SECONDS must be at least 3, not {self.lease_seconds}")
