"""StackeryObjectStore: an S3 bucket with Stackery's secure defaults.

Stackery's Object Store node made a bucket with server-side encryption, public access blocked and a
policy denying non-TLS requests; website hosting relaxed those explicitly. Same here.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from .common import CommonSpec, CommonStatus, Model

RESERVED_BUCKET = r"^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|[.]mrap|--x-s3|--table-s3)$"
BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class Encryption(Model):
    """Default server-side encryption of new objects."""

    type: Literal["AES256", "aws:kms"] = Field(default="AES256", description="AES256 (SSE-S3) or aws:kms (SSE-KMS).")
    kms_key_id: str | None = Field(
        default=None, max_length=2048, description="KMS key id or ARN for aws:kms; omitted means the AWS managed key."
    )
    bucket_key: bool = Field(default=True, description="Use an S3 Bucket Key to cut KMS request costs.")


class Website(Model):
    """Static website hosting. Turning it on makes objects publicly readable over HTTP."""

    index_document: str = Field(default="index.html", min_length=1, max_length=1024, description="Index document.")
    error_document: str | None = Field(default=None, max_length=1024, description="Error document key.")


class CorsRule(Model):
    """One CORS rule."""

    allowed_origins: list[str] = Field(min_length=1, max_length=100, description="Origins, e.g. https://example.com or *.")
    allowed_methods: list[Literal["GET", "PUT", "POST", "DELETE", "HEAD"]] = Field(
        min_length=1, max_length=5, description="HTTP methods allowed."
    )
    allowed_headers: list[str] = Field(default_factory=list, max_length=100, description="Request headers allowed.")
    expose_headers: list[str] = Field(default_factory=list, max_length=100, description="Response headers exposed.")
    max_age_seconds: int | None = Field(default=None, ge=0, le=86400, description="Preflight cache time.")


class Lifecycle(Model):
    """Object expiry."""

    expire_after_days: int | None = Field(default=None, ge=1, le=36500, description="Expire current objects after N days.")
    noncurrent_version_expire_after_days: int | None = Field(
        default=None, ge=1, le=36500, description="Permanently delete noncurrent versions N days after they become noncurrent."
    )


class ObjectStoreSpec(CommonSpec):
    """Desired state of an S3 bucket."""

    bucket_name: str | None = Field(
        default=None,
        pattern=BUCKET_NAME_PATTERN,
        description=(
            "Bucket name. Default: stackery-<namespace>-<name>-<hash of namespace and name>, shortened past 63 "
            "characters (the hash kept). Must follow S3's rules (no reserved prefix/suffix). Immutable."
        ),
    )
    encryption: Encryption = Field(default_factory=Encryption, description="Default encryption (on by default).")
    versioning: bool = Field(default=False, description="Keep every version of every object.")
    website: Website | None = Field(
        default=None,
        description="Enable static website hosting. This relaxes the public access block and adds a public-read policy statement.",
    )
    cors: list[CorsRule] = Field(default_factory=list, max_length=100, description="CORS rules.")
    lifecycle: Lifecycle | None = Field(default=None, description="Expiry rules.")
    force_delete: bool = Field(
        default=False,
        description="On delete, empty the bucket (every object and version) first. Without it a non-empty bucket is never deleted.",
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "has(self.bucketName) == has(oldSelf.bucketName) && (!has(self.bucketName) || self.bucketName == oldSelf.bucketName)",
            "message": "bucketName is immutable: a bucket cannot be renamed; create a new StackeryObjectStore instead",
        },
        {
            "rule": "!has(self.bucketName) || (!self.bucketName.contains('..') && !self.bucketName.matches('^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$'))",
            "message": "bucketName must not contain '..' nor look like an IP address",
        },
        {
            "rule": "!has(self.bucketName) || !self.bucketName.matches('^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|[.]mrap|--x-s3|--table-s3)$')",
            "message": "bucketName must not start with xn--, sthree- or amzn-s3-demo- nor end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3 (reserved by S3)",
        },
        {
            "rule": "!has(self.encryption) || !has(self.encryption.kmsKeyId) || self.encryption.type == 'aws:kms'",
            "message": "encryption.kmsKeyId is only valid with encryption.type aws:kms",
        },
    ]

    @field_validator("bucket_name")
    @classmethod
    def _s3_rules(cls, v: str | None) -> str | None:
        if v is not None and (re.search(RESERVED_BUCKET, v) or ".." in v or re.fullmatch(r"[0-9]+(\.[0-9]+){3}", v)):
            raise ValueError("bucketName breaks S3 naming rules (reserved prefix/suffix, '..' or IP-shaped)")
        return v


class ObjectStoreStatus(CommonStatus):
    """Observed state of the bucket."""

    website_url: str | None = Field(default=None, description="Website endpoint when hosting is on.")
