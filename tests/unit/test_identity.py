"""Per-namespace AWS identity: a namespace mapped by the operator's policy to an IAM role is served with
credentials from STS AssumeRole (external id, session tag), cached and refreshed before they expire;
other namespaces keep the operator's own identity. Against moto's STS, which records who called.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws import clients
from controller.policy import Policy

from .helpers import api_calls, delta

POLICY = Policy(
    namespaces={
        "team-a": {"identity": {"roleArn": "arn:aws:iam::123456789012:role/stackery-team-a", "externalId": "ext-a"}},
    }
)


def caller() -> str:
    return str(clients.client("sts", "us-east-1").get_caller_identity()["Arn"])


def test_mapped_namespace_runs_as_its_assumed_role(aws: Any) -> None:
    before = api_calls()
    with clients.acting_as(POLICY.scope("team-a").identity):
        who = caller()
        clients.client("s3", "us-east-1").create_bucket(Bucket="team-a-made")
        account = clients.account_id("us-east-1")
    assert ":assumed-role/stackery-team-a/stackery-team-a" in who
    assert account == "123456789012"
    with clients.acting_as(POLICY.scope("team-b").identity):  # unmapped: the operator's own identity
        assert "assumed-role" not in caller()
    assert "assumed-role" not in caller()
    calls = delta(before, api_calls())
    assert calls["AssumeRole"] == 1  # one session for team-a, shared by every client it uses


def test_assumed_credentials_are_refreshed_before_expiry(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # 900 s sessions are inside botocore's 15-minute advisory refresh window: every use refreshes, which
    # shows the refresh path works (a real 1-hour session refreshes ~45 minutes in).
    monkeypatch.setattr(clients, "SESSION_SECONDS", 900)
    before = api_calls()
    with clients.acting_as(POLICY.scope("team-a").identity):
        caller()
        clients.client("s3", "us-east-1").list_buckets()
    assert delta(before, api_calls())["AssumeRole"] >= 2


def test_identity_is_per_pass_not_global(aws: Any) -> None:
    with clients.acting_as(POLICY.scope("team-a").identity):
        a = clients.client("s3", "us-east-1")
    b = clients.client("s3", "us-east-1")
    assert a is not b


def test_every_attempt_is_counted_with_an_honest_outcome(aws: Any) -> None:
    """Throttling absorbed by botocore's retries is still counted (each attempt), and a not-found answer
    is not an error. The throttling answers are injected before they reach moto (moto never throttles)."""
    from botocore.awsrequest import AWSResponse

    from controller import metrics

    class Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Any:
            yield self.body

    s3 = clients.client("s3", "us-east-1")
    s3.create_bucket(Bucket="honest")
    answers = [503, 503]

    def throttle(request: Any, **_: Any) -> Any:
        if answers and request.method == "GET" and "versioning" in request.url:
            answers.pop()
            body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            return AWSResponse(request.url, 503, {}, Raw(body))
        return None

    s3.meta.events.register_first("before-send.s3.GetBucketVersioning", throttle)
    before = {
        (s.labels["operation"], s.labels["outcome"]): s.value
        for m in metrics.AWS_API_CALLS.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }
    s3.get_bucket_versioning(Bucket="honest")  # two throttled attempts, then success
    try:
        s3.get_bucket_tagging(Bucket="missing-bucket")
    except s3.exceptions.NoSuchBucket:
        pass
    after = {
        (s.labels["operation"], s.labels["outcome"]): s.value
        for m in metrics.AWS_API_CALLS.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }

    def grew(key: tuple[str, str]) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert grew(("GetBucketVersioning", "throttled")) == 2 and grew(("GetBucketVersioning", "success")) == 1
    assert grew(("GetBucketTagging", "not_found")) == 1 and grew(("GetBucketTagging", "error")) == 0
