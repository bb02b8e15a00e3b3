from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from controller.aws import clients


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto for adapter tests (the e2e tier uses a real moto server over HTTP)."""
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    clients.reset()
    with mock_aws():
        yield
    clients.reset()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
