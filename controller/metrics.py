"""Prometheus metrics, defined once.

Why: every layer reports into the same registry (the AWS layer counts API calls, the reconciler counts
reconciles and drift). Labels are bounded: kind, namespace, name, AWS service/operation, and a small
fixed set of results — never a status value or an error message.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

RECONCILE_TOTAL = Counter(
    "stackery_reconcile",
    "Reconcile passes by kind and result (success, drift, waiting, stalled, error).",
    ["kind", "result"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    "stackery_reconcile_duration_seconds",
    "Duration of one reconcile pass (observe plus any create/update/delete).",
    ["kind"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RESOURCE_READY = Gauge(
    "stackery_resource_ready",
    "1 when the object's Ready condition is True, else 0.",
    ["namespace", "kind", "name"],
    registry=REGISTRY,
)
RESOURCE_DRIFTED = Gauge(
    "stackery_resource_drifted",
    "1 while AWS differs from the spec outside a spec change (drift), else 0.",
    ["namespace", "kind", "name"],
    registry=REGISTRY,
)
RESOURCE_STALLED = Gauge(
    "stackery_resource_stalled",
    "1 while the object is Stalled (needs a person), else 0.",
    ["namespace", "kind", "name"],
    registry=REGISTRY,
)
DRIFT_DETECTED = Counter(
    "stackery_drift_detected",
    "Drift findings (one per reconcile that found drift).",
    ["kind"],
    registry=REGISTRY,
)
AWS_API_CALLS = Counter(
    "stackery_aws_api_calls",
    "AWS API attempts made by the operator (each retry counts), by service, operation and outcome "
    "(success, throttled, not_found, error, network).",
    ["service", "operation", "outcome"],
    registry=REGISTRY,
)
AWS_RATE_LIMIT_WAIT = Counter(
    "stackery_aws_rate_limit_wait_seconds",
    "Seconds AWS calls waited for the operator's own per-service rate limit (STACKERY_AWS_RATE_LIMITS), by service.",
    ["service"],
    registry=REGISTRY,
)
TIME_TO_READY = Histogram(
    "stackery_time_to_ready_seconds",
    "Seconds from an object's creation until it first became Ready.",
    ["kind"],
    registry=REGISTRY,
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 3600),
)

CERTIFICATE_PENDING = Gauge(
    "stackery_certificate_pending_seconds",
    "Seconds a certificate has been waiting for validation (0 once issued).",
    ["namespace", "kind", "name"],
    registry=REGISTRY,
)
CERTIFICATE_ISSUE_SECONDS = Histogram(
    "stackery_certificate_issue_seconds",
    "Seconds from certificate request to issue (observed once per certificate).",
    ["kind"],
    registry=REGISTRY,
    buckets=(10, 60, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400),
)

CHECKS_OVERDUE = Gauge(
    "stackery_checks_overdue",
    "Objects whose periodic check is later than resync + margin, as the operator's sweep last counted them.",
    ["kind"],
    registry=REGISTRY,
)
SWEEP_POKES = Counter(
    "stackery_sweep_requeues",
    "Passes the sweep asked for because an object's check was overdue (kopf had lost its schedule).",
    ["kind"],
    registry=REGISTRY,
)
QUIET_CHECKS = Counter(
    "stackery_checks_unwritten",
    "Scheduled checks that found nothing new and wrote no status (their next time kept in memory).",
    ["kind"],
    registry=REGISTRY,
)
SHARDS_HELD = Gauge(
    "stackery_shards_held",
    "Shards this replica holds the Lease of and reconciles (0..STACKERY_SHARDS; absent when not sharded).",
    registry=REGISTRY,
)
SHARD_HELD = Gauge(
    "stackery_shard_held",
    "1 for each shard (bounded by STACKERY_SHARDS, at most 64) this replica reconciles now, else 0.",
    ["shard"],
    registry=REGISTRY,
)
SHARD_HANDOFFS = Counter(
    "stackery_shard_handoffs_total",
    "Shard Leases this replica acquired, released (handed over after draining) or lost (taken, or not renewed).",
    ["event"],
    registry=REGISTRY,
)
SHARD_PASSES_PAST_LEASE = Counter(
    "stackery_shard_passes_past_lease_total",
    "Passes that ended after this replica's Lease on the object's shard had run out by its own clock: only then "
    "could another replica have started on the same object. Stays 0 when no object had two owners at once.",
    registry=REGISTRY,
)
SHARD_PASSES_REFUSED = Counter(
    "stackery_shard_passes_refused_total",
    "Passes not started because the object's shard is not (or no longer) this replica's.",
    registry=REGISTRY,
)
SHARD_LABELS = Counter(
    "stackery_shard_labels_total",
    "Objects the labeller put into a shard (new objects, or ones whose shard label was missing or out of range).",
    registry=REGISTRY,
)

_PER_OBJECT = (RESOURCE_READY, RESOURCE_DRIFTED, RESOURCE_STALLED, CERTIFICATE_PENDING)


def set_object_state(namespace: str, kind: str, name: str, *, ready: bool, drifted: bool, stalled: bool) -> None:
    RESOURCE_READY.labels(namespace, kind, name).set(1 if ready else 0)
    RESOURCE_DRIFTED.labels(namespace, kind, name).set(1 if drifted else 0)
    RESOURCE_STALLED.labels(namespace, kind, name).set(1 if stalled else 0)


def forget_object(namespace: str, kind: str, name: str) -> None:
    """Remove a deleted object's series so dashboards do not show ghosts."""
    for gauge in _PER_OBJECT:
        try:
            gauge.remove(namespace, kind, name)
        except KeyError:
            pass


# Node-specific conditions whose waiting time is measured: type -> (pending gauge, duration histogram).
PROGRESS: dict[str, tuple[Gauge, Histogram]] = {"CertificateIssued": (CERTIFICATE_PENDING, CERTIFICATE_ISSUE_SECONDS)}


def record_progress(namespace: str, kind: str, name: str, ctype: str, *, pending: bool, elapsed: float, completed: bool) -> None:
    """Called by the core once per pass for a condition that carries a start time."""
    pair = PROGRESS.get(ctype)
    if pair is None:
        return
    gauge, histogram = pair
    gauge.labels(namespace, kind, name).set(elapsed if pending else 0)
    if completed:
        histogram.labels(kind).observe(elapsed)


def count_aws_call(service: str, operation: str, outcome: str) -> None:
    AWS_API_CALLS.labels(service, operation, outcome).inc()
