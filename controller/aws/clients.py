"""boto3 clients, cached per (service, region), with every API call counted.

Why: creating a client costs ~50 ms and memory; one cached client per service and region is shared by
all objects (botocore clients are thread-safe). AWS_ENDPOINT_URL (e.g. a moto server) is honoured by
botocore itself, exactly as for real AWS. API calls are counted centrally through botocore's event
system, so no adapter can forget to count one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import botocore.config
from botocore.exceptions import ClientError

from .. import metrics

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
_clients: dict[tuple[str, str], Any] = {}
_session: boto3.session.Session | None = None

_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=20,
)


def _on_after_call(http_response: Any, parsed: Any, model: Any, **kwargs: Any) -> None:
    service = model.service_model.service_name
    status = getattr(http_response, "status_code", 0) or 0
    code = (parsed or {}).get("Error", {}).get("Code", "") if isinstance(parsed, dict) else ""
    outcome = "success" if status < 300 else ("throttled" if code in _THROTTLE_CODES else "error")
    metrics.count_aws_call(service, model.name, outcome)


def _on_exception(service: str) -> Callable[..., None]:
    """Counts calls that never got an HTTP answer (connection errors, timeouts)."""

    def handler(event_name: str = "", exception: Any = None, **kwargs: Any) -> None:
        if exception is not None:
            metrics.count_aws_call(service, event_name.rsplit(".", 1)[-1], "error")

    return handler


def client(service: str, region: str) -> Any:
    """A shared, instrumented boto3 client."""
    key = (service, region)
    c = _clients.get(key)
    if c is not None:
        return c
    global _session
    with _lock:
        c = _clients.get(key)
        if c is None:
            if _session is None:
                _session = boto3.session.Session()
            c = _session.client(service, region_name=region, config=_CONFIG)
            c.meta.events.register("after-call", _on_after_call)
            c.meta.events.register("after-call-error", _on_exception(service))
            _clients[key] = c
    return c


def reset() -> None:
    """Forget cached clients (tests that change AWS_ENDPOINT_URL)."""
    global _session
    with _lock:
        _clients.clear()
        _accounts.clear()
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


_accounts: dict[str, str] = {}


def account_id(region: str) -> str:
    """The caller's AWS account id (STS GetCallerIdentity once per region per process)."""
    acct = _accounts.get(region)
    if acct is None:
        acct = str(client("sts", region).get_caller_identity()["Account"])
        _accounts[region] = acct
    return acct
