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
