"""Typed errors: what a caller can act on, without reading DynamoDB error codes."""

from __future__ import annotations

from typing import Any


class StackeryTableError(Exception):
    """Any failed command (the DynamoDB error code is in the message)."""


class ConditionFailed(StackeryTableError):
    """The command's condition did not hold (or insert found the key taken); nothing was written.
    `item` is the item as it is now, when DynamoDB returned it."""

    def __init__(self, message: str, item: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.item = item


class NotFound(StackeryTableError):
    """No such item (get, update without create) or no such table/index."""


class Throttled(StackeryTableError):
    """DynamoDB kept throttling after botocore's retries; back off and try again."""
