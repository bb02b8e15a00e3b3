"""The operator's error vocabulary, shared by every layer.

Why: the reconciler must decide in exactly one place whether a failure needs a person (Stalled, no
hot retry), is worth retrying with backoff, or is a wait on something else. Adapters and the AWS layer
raise these; nothing above them inspects botocore exceptions.
"""

from __future__ import annotations

from typing import Any


class StackeryError(Exception):
    """Base class. `reason` is a CamelCase condition reason; the message is shown to users."""

    reason: str = "Error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class TerminalError(StackeryError):
    """Retrying cannot help until a person changes something (spec, permissions, quota)."""

    reason = "TerminalError"


class InvalidSpecError(TerminalError):
    reason = "InvalidSpec"


class OwnershipConflictError(TerminalError):
    reason = "OwnershipConflict"


class OutOfScopeError(TerminalError):
    """A spec names something outside its namespace's scope (see controller.policy); no AWS write made."""

    reason = "OutOfScope"


class RecoverableError(StackeryError):
    """Transient: throttling, 5xx, timeouts, network. Retried with exponential backoff."""

    reason = "ReconcileError"


class WaitingError(StackeryError):
    """Not an error: the object waits for something outside it (a reference, an AWS state).
    retry_after None means the operator's wait setting."""

    reason = "Waiting"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after: float | None = None, observed: Any = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after
        self.observed = observed
        """What the pass had made and seen when it stopped to wait (an Observation), so the status shows it
        (a requested certificate's validation record) without reading it back; None: the core observes."""


class BlockedError(StackeryError):
    """An action (typically delete) refuses to go on without a person, e.g. a non-empty bucket.

    The object keeps its finalizer; the condition says how to proceed. Re-checked slowly.
    """

    reason = "Blocked"
