"""Client-side AWS rate limits: the token bucket's arithmetic on a fake clock, the configuration's
parsing (bad values refused), and that every attempt of a real boto3 client — retries included — takes a
token of its (service, region) bucket, with the waiting counted in metrics."""

from __future__ import annotations

import pytest

from controller import metrics
from controller.aws import clients
from controller.aws.limits import Limit, Limits, TokenBucket, parse


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_bucket_allows_the_burst_then_the_rate() -> None:
    c = Clock()
    b = TokenBucket(Limit(rate=10, burst=5), clock=c, sleep=c.sleep)
    assert [b.take() for _ in range(5)] == [0.0] * 5  # the burst goes at once
    assert b.take() == pytest.approx(0.1)  # then one every 1/rate seconds
    assert b.take() == pytest.approx(0.1)
    c.now += 10  # a quiet spell refills up to the burst, not beyond
    assert [b.take() for _ in range(5)] == [0.0] * 5
    assert b.take() > 0
    # 100 calls at 10/s after the burst take about 9.5 s of waiting in all
    c2 = Clock()
    b2 = TokenBucket(Limit(rate=10, burst=5), clock=c2, sleep=c2.sleep)
    for _ in range(100):
        b2.take()
    assert c2.now == pytest.approx(9.5)


def test_unlimited_and_parsing() -> None:
    assert TokenBucket(Limit(0, 1)).take() == 0.0
    cfg = parse("default=50/100, iam=10/20,ec2=5")
    assert cfg == {"default": Limit(50, 100), "iam": Limit(10, 20), "ec2": Limit(5, 5)}
    assert parse("")["default"] == Limit(0, 1)  # unlimited unless configured
    for bad in ("iam", "iam=x/2", "=5/5", "iam=-1/5", "iam=5/0"):
        with pytest.raises(ValueError, match="STACKERY_AWS_RATE_LIMITS"):
            parse(bad)
    limits = Limits("default=50/100,iam=10/20")
    assert limits.bucket("iam", "us-east-1").limit == Limit(10, 20)
    assert limits.bucket("s3", "eu-west-1").limit == Limit(50, 100)
    assert Limits().bucket("s3", "us-east-1").limit.rate == 0 and Limits().bucket("iam", "us-east-1").limit == Limit(15, 30)
    assert limits.bucket("iam", "us-east-1") is limits.bucket("iam", "us-east-1")
    assert limits.bucket("iam", "us-east-1") is not limits.bucket("iam", "eu-west-1")


def test_every_attempt_takes_a_token_and_waits_are_counted(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    clients.configure_limits("default=1000/1000,sqs=2/1")
    taken: list[tuple[str, str]] = []
    real = Limits.bucket

    def spy(self: Limits, service: str, region: str) -> TokenBucket:
        taken.append((service, region))
        return real(self, service, region)

    monkeypatch.setattr(Limits, "bucket", spy)
    before = sum(
        s.value
        for m in metrics.AWS_RATE_LIMIT_WAIT.collect()
        for s in m.samples
        if s.labels.get("service") == "sqs" and s.name.endswith("_total")
    )
    sqs = clients.client("sqs", "us-east-1")
    for i in range(3):
        sqs.create_queue(QueueName=f"q{i}")
    after = sum(
        s.value
        for m in metrics.AWS_RATE_LIMIT_WAIT.collect()
        for s in m.samples
        if s.labels.get("service") == "sqs" and s.name.endswith("_total")
    )
    assert taken == [("sqs", "us-east-1")] * 3
    assert after - before == pytest.approx(1.0, abs=0.2)  # burst 1, then 0.5 s each at 2/s
    clients.configure_limits("default=0,iam=15/30")


def test_retried_attempts_take_tokens_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint answering 503 to everything: botocore retries, and each attempt takes a token, as many
    as the attempts counted in stackery_aws_api_calls_total."""
    import http.server
    import threading

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{srv.server_port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients.reset()
    clients.configure_limits("default=1000/1000")
    tokens: list[str] = []
    real = TokenBucket.take

    def counted(self: TokenBucket) -> float:
        tokens.append("t")
        return real(self)

    monkeypatch.setattr(TokenBucket, "take", counted)
    from .helpers import api_calls, delta

    before = api_calls()
    with pytest.raises(Exception):  # noqa: B017 - the error is not the point: the attempts are
        clients.client("sqs", "us-east-1").list_queues()
    attempts = delta(before, api_calls())["ListQueues"]
    srv.shutdown()
    clients.reset()
    clients.configure_limits("default=0,iam=15/30")
    assert attempts >= 2 and len(tokens) == attempts
