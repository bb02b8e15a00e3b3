"""Classification of AWS failures into the operator's error vocabulary, in one place.

Why: whether an error needs a person (Stalled, no hot retry) or a retry with backoff must not be
decided differently by each kind (ACK's lesson).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from ..errors import RecoverableError, StackeryError, TerminalError
from .clients import _THROTTLE_CODES

_ACCESS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "OptInRequired",
    }
)
_LIMIT = frozenset(
    {"LimitExceeded", "LimitExceededException", "TooManyBuckets", "ServiceQuotaExceededException", "QuotaExceededException"}
)
_TRANSIENT = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "OperationAborted",
        "ConflictException",
        "ExpiredToken",
        "ExpiredTokenException",
        "ResourceInUseException",
        "ConcurrentModificationException",
        "TooManyUpdates",
        "ResourceConflictException",
    }
)


def classify(exc: BaseException) -> StackeryError:
    if isinstance(exc, StackeryError):
        return exc
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")) or str(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        op = getattr(exc, "operation_name", "")
        text = f"AWS {op} failed: {code}: {message}"
        if code in _THROTTLE_CODES or status == 429:  # 429 is throttling whatever code (if any) came with it
            return RecoverableError(text, reason="Throttled")
        if code in _ACCESS:
            return TerminalError(
                text + " (grant this permission to the AWS identity the operator uses for this namespace: its own role, "
                "or the namespace's role in the operator's policy; see docs/security.md)",
                reason="AccessDenied",
            )
        if code in _LIMIT:
            return TerminalError(text + " (raise the quota or remove resources)", reason="LimitExceeded")
        if code in _TRANSIENT or status >= 500 or status == 0:
            return RecoverableError(text, reason="AWSUnavailable")
        return TerminalError(text, reason="AWSRejected")
    if isinstance(exc, (BotoConnectionError, BotoCoreError, OSError, TimeoutError)):
        return RecoverableError(f"cannot reach AWS: {exc}", reason="AWSUnavailable")
    return RecoverableError(f"unexpected {type(exc).__name__}: {exc}", reason="InternalError")
