from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto for the client's tests (the client takes its boto3 client from the caller)."""
    from moto import mock_aws

    saved = {
        k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    with mock_aws():
        yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
