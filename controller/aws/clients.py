"""boto3 clients, cached per (service, region, identity), with every API attempt counted.

Why: creating a client costs ~50 ms and memory; one cached client per service and region is shared by
all objects (botocore clients are thread-safe). AWS_ENDPOINT_URL (e.g. a moto server) is honoured by
botocore itself, exactly as for real AWS. Every attempt (retries included) is counted centrally through
botocore's needs-retry event, so no adapter can forget one and retried throttling stays visible.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.session
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ClientError

from .. import metrics
from ..policy import Identity
from .limits import DEFAULT, Limits

_THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "ThrottledException",
    }
)

_lock = threading.Lock()
_clients: dict[tuple[str, str, str], Any] = {}
_session: boto3.session.Session | None = None
_sessions: dict[Identity, boto3.session.Session] = {}
_acting: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("stackery_identity", default=None)
_limits = Limits(DEFAULT)
SESSION_SECONDS = 3600
"""Lifetime asked of each assumed-role session; botocore refreshes it 15 (advisory) / 10 (mandatory)
minutes before it expires, so no call runs on expired credentials."""

_CONFIG = botocore.config.Config(
    # standard by default; adaptive (STACKERY_AWS_RETRY_MODE=adaptive) is opt-in: its client-side limiter
    # sleeps inside the calling worker thread and, under a steady share of throttled answers, slows a client
    # for long stretches; the one CI resilience run with it (20 % faults) missed its 300 s delete budget
    retries={"mode": os.environ.get("STACKERY_AWS_RETRY_MODE", "standard"), "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=20,
)


def outcome(status: int, code: str) -> str:
    """success | throttled | not_found | error for one HTTP answer (bounded label values)."""
    if status and status < 300:
        return "success"
    if code in _THROTTLE_CODES or status == 429 or (status == 503 and code in ("SlowDown", "")):
        return "throttled"
    if status == 404 or code.endswith(("NotFound", "NotFoundException", ".NotFound")) or code.startswith("NoSuch"):
        return "not_found"
    if code in ("ResourceNotFoundException", "ParameterNotFound", "NotFoundException"):
        return "not_found"
    return "error"


def _count_attempt(service: str) -> Callable[..., None]:
    """Counts every attempt botocore makes — retried ones too, so throttling that the retries absorb is
    still visible — with outcome network for attempts that got no HTTP answer."""

    def handler(response: Any = None, caught_exception: Any = None, operation: Any = None, **_: Any) -> None:
        op = getattr(operation, "name", "unknown")
        if caught_exception is not None or response is None:
            metrics.count_aws_call(service, op, "network")
            return
        http, parsed = response
        status = getattr(http, "status_code", 0) or 0
        code = str((parsed or {}).get("Error", {}).get("Code", "")) if isinstance(parsed, dict) else ""
        metrics.count_aws_call(service, op, outcome(status, code))

    return handler


def configure_limits(config: str) -> None:
    """Set the per-(service, region) rate limits (STACKERY_AWS_RATE_LIMITS, see limits.py); clients made
    before keep taking from the buckets of the new configuration."""
    global _limits
    _limits = Limits(config)


def _rate_limit(service: str, region: str) -> Callable[..., None]:
    """before-send: wait for a token of the (service, region) bucket before every attempt (retries too)."""

    def handler(**_: Any) -> None:
        waited = _limits.bucket(service, region).take()
        if waited:
            metrics.AWS_RATE_LIMIT_WAIT.labels(service).inc(waited)

    return handler


@contextlib.contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    """Every client() made inside uses `identity` (an assumed role for one namespace), or the
    operator's own credentials when None. Set per reconcile pass by the handlers, so adapters never
    choose an identity themselves (and cannot pick another namespace's)."""
    token = _acting.set(identity)
    try:
        yield
    finally:
        _acting.reset(token)


def _base() -> boto3.session.Session:
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


def _assumed(identity: Identity) -> boto3.session.Session:
    """A session whose credentials come from STS AssumeRole for `identity`, refreshed before expiry."""
    sts = _base().client("sts", region_name=_base().region_name or "us-east-1", config=_CONFIG)
    sts.meta.events.register_first("needs-retry", _count_attempt("sts"))

    def fetch() -> dict[str, str]:
        kwargs: dict[str, Any] = {
            "RoleArn": identity.role_arn,
            "RoleSessionName": identity.session_name or "stackery-operator",
            "DurationSeconds": SESSION_SECONDS,
            "Tags": [{"Key": "stackery.io/namespace", "Value": identity.namespace}] if identity.namespace else [],
        }
        if identity.external_id:
            kwargs["ExternalId"] = identity.external_id
        creds = sts.assume_role(**kwargs)["Credentials"]
        expiry = creds["Expiration"]
        if isinstance(expiry, datetime):
            expiry = expiry.astimezone(UTC).isoformat()
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": str(expiry),
        }

    core = botocore.session.get_session()
    core._credentials = RefreshableCredentials.create_from_metadata(  # noqa: SLF001 - botocore's documented pattern
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    return boto3.session.Session(botocore_session=core)


def client(service: str, region: str) -> Any:
    """A shared, instrumented boto3 client for the identity acting now (see acting_as)."""
    identity = _acting.get()
    key = (service, region, identity.role_arn if identity else "")
    c = _clients.get(key)
    if c is not None:
        return c
    with _lock:
        c = _clients.get(key)
        if c is None:
            if identity is None:
                session = _base()
            else:
                session = _sessions.get(identity) or _sessions.setdefault(identity, _assumed(identity))
            c = session.client(service, region_name=region, config=_CONFIG)
            # first: the retry handler answers (and so ends the emit) for every attempt it retries
            c.meta.events.register_first("needs-retry", _count_attempt(service))
            c.meta.events.register("before-send", _rate_limit(service, region))
            _clients[key] = c
    return c


def reset() -> None:
    """Forget cached clients and sessions (tests that change AWS_ENDPOINT_URL)."""
    global _session
    with _lock:
        _clients.clear()
        _accounts.clear()
        _sessions.clear()
        _session = None


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


T = TypeVar("T")


def or_none(call: Callable[[], T], *codes: str) -> T | None:
    """call(), or None when AWS answers with one of `codes` (the typed "not found" of observe)."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in codes:
            return None
        raise


_accounts: dict[tuple[str, str], str] = {}


def account_id(region: str) -> str:
    """The acting identity's AWS account id (STS GetCallerIdentity once per identity and region per
    process): a namespace mapped to a role in another account builds ARNs in that account."""
    identity = _acting.get()
    key = (identity.role_arn if identity else "", region)
    acct = _accounts.get(key)
    if acct is None:
        acct = str(client("sts", region).get_caller_identity()["Account"])
        _accounts[key] = acct
    return acct
