"""Client-side rate limits: a token bucket per (service, region), taken before every AWS attempt.

Why: AWS rate limits are per account, region and API family. A burst of objects (a GitOps sync of a few
thousand) would otherwise reach them all at once, and throttling retried by every worker only makes it
worse. A bucket per service spreads the calls at a configured rate (a steady rate plus a burst); botocore's
standard retries (with backoff) absorb throttling that happens anyway. Waiting happens in
the worker thread that makes the call, before the attempt is sent; the time waited is counted in
stackery_aws_rate_limit_wait_seconds_total{service}.

Configuration (STACKERY_AWS_RATE_LIMITS): comma-separated `service=rate/burst`, `default=rate/burst` for
every service not named, e.g. `default=0,iam=15/30,ec2=40/80`; a rate of 0 turns the limit off for
that service.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT = "default=0,iam=15/30"
"""IAM is limited by default (its control plane allows a few tens of calls per second per account, shared
by everything in it); other services are not, by default: their limits are far above what one operator
makes, and botocore's retries back off when AWS throttles."""


@dataclass(frozen=True)
class Limit:
    rate: float
    """Tokens added per second (0: unlimited)."""
    burst: float
    """Most tokens held (calls that may go at once after a quiet spell)."""


def parse(text: str) -> dict[str, Limit]:
    """'default=0,iam=15/30' -> {"default": Limit(50, 100), "iam": Limit(10, 20)}; ValueError on nonsense."""
    out: dict[str, Limit] = {}
    for item in (x.strip() for x in text.split(",") if x.strip()):
        name, sep, value = item.partition("=")
        rate, slash, burst = value.partition("/")
        try:
            limit = Limit(float(rate), float(burst) if slash else max(float(rate), 1.0))
        except ValueError:
            raise ValueError(f"STACKERY_AWS_RATE_LIMITS: {item!r} is not service=rate/burst") from None
        if not sep or not name.strip() or limit.rate < 0 or limit.burst < 1:
            raise ValueError(f"STACKERY_AWS_RATE_LIMITS: {item!r} is not service=rate/burst (rate >= 0, burst >= 1)")
        out[name.strip()] = limit
    out.setdefault("default", Limit(0, 1))
    return out


class TokenBucket:
    """Thread-safe. take() returns how long the caller waited (0.0 when a token was there)."""

    def __init__(
        self, limit: Limit, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.limit = limit
        self._clock, self._sleep = clock, sleep
        self._tokens = limit.burst
        self._at = clock()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token now (possibly going negative: a reservation) and say how long to wait for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.limit.burst, self._tokens + (now - self._at) * self.limit.rate)
            self._at = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.limit.rate

    def take(self) -> float:
        if self.limit.rate <= 0:
            return 0.0
        wait = self._reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


class Limits:
    """The buckets of one process, made on first use per (service, region)."""

    def __init__(self, config: str = DEFAULT, **bucket_args: Callable[..., float] | Callable[[float], None]) -> None:
        self.config = parse(config)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self._bucket_args = bucket_args

    def bucket(self, service: str, region: str) -> TokenBucket:
        key = (service, region)
        b = self._buckets.get(key)
        if b is None:
            with self._lock:
                b = self._buckets.get(key)
                if b is None:
                    limit = self.config.get(service, self.config["default"])
                    b = self._buckets[key] = TokenBucket(limit, **self._bucket_args)  # type: ignore[arg-type]
        return b
