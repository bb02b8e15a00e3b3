"""ObjectStore adapter: one S3 bucket with encryption, public access block, TLS-only policy,
versioning, website hosting, CORS, lifecycle and tags.

Read budget of one drift check (observe): 8 calls — GetBucketTagging (also the existence check),
GetBucketEncryption, GetPublicAccessBlock, GetBucketPolicy, GetBucketVersioning, GetBucketWebsite,
GetBucketCors, GetBucketLifecycleConfiguration. A bucket owned by someone else stops after the first.

The bucket policy is shared: other nodes (a CDN) add their own statements. This adapter manages only
statements whose Sid starts with "StackeryObjectStore" and leaves every other statement untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.objectstore import ObjectStoreSpec
from ..aws.clients import client, error_code, or_none
from ..core.adapter import NOT_FOUND, DeleteResult, Diff, ObjectRef, Observation, Reference, Request
from ..core.wiring import Access, GrantContext, Statement, Wiring
from ..errors import BlockedError, TerminalError
from ..policy import Claim, ClaimKind
from .common import (
    compare,
    dns_name,
    foreign,
    owner_of,
    read_bucket_policy,
    replace_statements,
    tag_dict,
    tag_list,
    write_bucket_policy,
)

SID_PREFIX = "StackeryObjectStore"
SID_TLS = SID_PREFIX + "DenyInsecureTransport"
SID_PUBLIC = SID_PREFIX + "PublicRead"
LIFECYCLE_ID = "stackery-expiry"
EMPTY_BATCHES_PER_PASS = 20  # 20 x 1000 keys per reconcile pass, then the finalizer retries

Req = Request[ObjectStoreSpec]
READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation"]
WRITE_ACTIONS = [
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:DeleteObject",
    "s3:GetLifecycleConfiguration",
    "s3:PutLifecycleConfiguration",
]


@dataclass(frozen=True)
class Bucket:
    """The bucket's settings as read (or as just written); update/delete need the whole policy again."""

    policy: dict[str, Any] | None
    tags: Mapping[str, str] = field(default_factory=dict)
    encryption: dict[str, Any] | None = None
    public_access_block: dict[str, bool] | None = None
    versioning: str | None = None
    website: dict[str, Any] | None = None
    cors: list[dict[str, Any]] | None = None
    lifecycle: list[dict[str, Any]] | None = None


def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    arn = str(status["arn"])
    actions = READ_ACTIONS if access == "ReadOnly" else READ_ACTIONS + WRITE_ACTIONS
    return [{"Action": actions, "Resource": [arn, f"{arn}/*"]}]


WIRING = Wiring(env=(("BUCKET_NAME", "externalName"), ("BUCKET_ARN", "arn")), grants=grants)


# ------------------------------------------------------------------ pure helpers
def desired_encryption(spec: ObjectStoreSpec) -> dict[str, Any]:
    default: dict[str, Any] = {"SSEAlgorithm": spec.encryption.type}
    if spec.encryption.type == "aws:kms" and spec.encryption.kms_key_id:
        default["KMSMasterKeyID"] = spec.encryption.kms_key_id
    return {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": spec.encryption.bucket_key}


def desired_public_access_block(spec: ObjectStoreSpec) -> dict[str, bool]:
    public = spec.website is not None
    return {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": not public,
        "RestrictPublicBuckets": not public,
    }


def desired_statements(spec: ObjectStoreSpec, bucket: str) -> list[dict[str, Any]]:
    arn = f"arn:aws:s3:::{bucket}"
    if spec.website is not None:  # website endpoints are HTTP-only: a TLS-only deny would break them
        return [{"Sid": SID_PUBLIC, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{arn}/*"}]
    return [
        {
            "Sid": SID_TLS,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def desired_website(spec: ObjectStoreSpec) -> dict[str, Any] | None:
    if spec.website is None:
        return None
    site: dict[str, Any] = {"IndexDocument": {"Suffix": spec.website.index_document}}
    if spec.website.error_document:
        site["ErrorDocument"] = {"Key": spec.website.error_document}
    return site


def desired_cors(spec: ObjectStoreSpec) -> list[dict[str, Any]] | None:
    if not spec.cors:
        return None
    rules = []
    for r in spec.cors:
        rule: dict[str, Any] = {"AllowedOrigins": r.allowed_origins, "AllowedMethods": list(r.allowed_methods)}
        if r.allowed_headers:
            rule["AllowedHeaders"] = r.allowed_headers
        if r.expose_headers:
            rule["ExposeHeaders"] = r.expose_headers
        if r.max_age_seconds is not None:
            rule["MaxAgeSeconds"] = r.max_age_seconds
        rules.append(rule)
    return rules


def desired_lifecycle(spec: ObjectStoreSpec) -> list[dict[str, Any]] | None:
    lc = spec.lifecycle
    if lc is None or (lc.expire_after_days is None and lc.noncurrent_version_expire_after_days is None):
        return None
    rule: dict[str, Any] = {"ID": LIFECYCLE_ID, "Status": "Enabled", "Filter": {"Prefix": ""}}
    if lc.expire_after_days is not None:
        rule["Expiration"] = {"Days": lc.expire_after_days}
    if lc.noncurrent_version_expire_after_days is not None:
        rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": lc.noncurrent_version_expire_after_days}
    return [rule]


def our_statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [s for s in (policy or {}).get("Statement", []) if str(s.get("Sid", "")).startswith(SID_PREFIX)]


def merged_policy(actual: dict[str, Any] | None, ours: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The bucket policy with our statements replaced and everybody else's kept in place."""
    return replace_statements(actual, lambda sid: sid.startswith(SID_PREFIX), ours)


def _norm_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Drop the empty/absent differences AWS introduces when echoing lifecycle/CORS rules."""
    return {k: v for k, v in rule.items() if v not in (None, [], {}, "")}


def desired_state(req: Req, have: Bucket) -> Bucket:
    """The bucket as the spec wants it, from what it holds: the (shared) policy with our statements in it, and
    versioning, which is never turned off once on, only suspended."""
    spec = req.spec
    ver = have.versioning
    return Bucket(
        policy=merged_policy(have.policy, desired_statements(spec, req.external_name)),
        tags=req.tags(),
        encryption=desired_encryption(spec),
        public_access_block=desired_public_access_block(spec),
        versioning="Enabled" if spec.versioning else ver if ver in (None, "Suspended") else "Suspended",
        website=desired_website(spec),
        cors=[_norm_rule(r) for r in desired_cors(spec) or []] or None,
        lifecycle=[_norm_rule(r) for r in desired_lifecycle(spec) or []] or None,
    )


def judge(req: Req, b: Bucket) -> Observation[Bucket]:
    """The observation of a bucket in state b (pure: observe's reads and update's writes both end here)."""
    spec, bucket = req.spec, req.external_name
    uid, owner = owner_of(dict(b.tags))
    want = desired_state(req, b)
    diffs: list[Diff] = [
        *compare("tags", want.tags, dict(b.tags)),
        *compare("encryption", want.encryption, b.encryption),
        *compare("publicAccessBlock", want.public_access_block, b.public_access_block),
        *compare("policy", desired_statements(spec, bucket), our_statements(b.policy)),
        *compare("versioning", want.versioning, b.versioning),
        *compare("website", want.website, b.website),
        *compare("cors", want.cors, b.cors),
        *compare("lifecycle", want.lifecycle, b.lifecycle),
    ]
    arn = f"arn:aws:s3:::{bucket}"
    website_url = f"http://{bucket}.s3-website-{req.region}.amazonaws.com" if b.website else None
    outputs = {"BUCKET_NAME": bucket, "BUCKET_ARN": arn}
    if website_url:
        outputs["WEBSITE_URL"] = website_url
    return Observation(
        exists=True,
        owner_uid=uid,
        owner=owner,
        diffs=tuple(diffs),
        identifiers={"arn": arn, "externalName": bucket, "region": req.region, "websiteUrl": website_url},
        outputs=outputs,
        actual=b,
    )


# ------------------------------------------------------------------ adapter
class ObjectStoreAdapter:
    name_scope: ClaimKind | None = None
    tagged_at_create: bool = False

    def external_name(self, ref: ObjectRef, spec: ObjectStoreSpec) -> str:
        return spec.bucket_name or dns_name("stackery", ref, max_len=63)

    def references(self, spec: ObjectStoreSpec) -> list[Reference]:
        return []

    def claims(self, spec: ObjectStoreSpec) -> list[Claim]:
        return []  # bucketName: a new name, or a bucket tagged as this object's (ownership tags)

    def _get(self, s3: Any, op: str, bucket: str, *missing: str) -> Any:
        return or_none(lambda: getattr(s3, op)(Bucket=bucket), *missing)

    def observe(self, req: Req) -> Observation[Bucket]:
        s3 = client("s3", req.region)
        bucket = req.external_name
        try:
            tagging = s3.get_bucket_tagging(Bucket=bucket)
            tags = tag_dict(tagging.get("TagSet"))
        except Exception as exc:
            code = error_code(exc)
            if code == "NoSuchBucket":
                return NOT_FOUND
            if code == "NoSuchTagSet":
                tags = {}
            elif code in ("AccessDenied", "AllAccessDisabled"):
                raise TerminalError(
                    f"bucket name {bucket} is taken by another AWS account; choose another spec.bucketName",
                    reason="BucketNameTaken",
                ) from None
            else:
                raise
        other = foreign(req, tags)
        if other is not None:
            return other

        enc = self._get(s3, "get_bucket_encryption", bucket, "ServerSideEncryptionConfigurationNotFoundError")
        enc_rule = ((enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules") or [None])[0]
        if enc_rule is not None:
            enc_rule = {
                "ApplyServerSideEncryptionByDefault": enc_rule.get("ApplyServerSideEncryptionByDefault", {}),
                "BucketKeyEnabled": bool(enc_rule.get("BucketKeyEnabled", False)),
            }
        pab = self._get(s3, "get_public_access_block", bucket, "NoSuchPublicAccessBlockConfiguration")
        site = self._get(s3, "get_bucket_website", bucket, "NoSuchWebsiteConfiguration")
        cors = self._get(s3, "get_bucket_cors", bucket, "NoSuchCORSConfiguration")
        lc = self._get(s3, "get_bucket_lifecycle_configuration", bucket, "NoSuchLifecycleConfiguration")
        state = Bucket(
            policy=read_bucket_policy(bucket, req.region),
            tags=tags,
            encryption=enc_rule,
            public_access_block=(pab or {}).get("PublicAccessBlockConfiguration"),
            versioning=s3.get_bucket_versioning(Bucket=bucket).get("Status"),
            website={k: site[k] for k in ("IndexDocument", "ErrorDocument") if site and k in site} or None,
            cors=[_norm_rule({k: v for k, v in r.items() if k != "ID"}) for r in (cors or {}).get("CORSRules", [])] or None,
            lifecycle=[_norm_rule(r) for r in (lc or {}).get("Rules", [])] or None,
        )
        return judge(req, state)

    def create(self, req: Req, obs: Observation[Bucket] | None = None) -> Observation[Bucket] | None:
        s3 = client("s3", req.region)
        cfg: dict[str, Any] = {"Tags": tag_list(req.tags())}
        if req.region != "us-east-1":
            cfg["LocationConstraint"] = req.region
        try:
            s3.create_bucket(Bucket=req.external_name, CreateBucketConfiguration=cfg, ObjectOwnership="BucketOwnerEnforced")
        except Exception as exc:
            if error_code(exc) == "BucketAlreadyExists":
                raise TerminalError(
                    f"bucket name {req.external_name} is taken (S3 names are global); set another spec.bucketName",
                    reason="BucketNameTaken",
                ) from None
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
            return None  # made by an earlier pass that did not get to record it: only a read can tell what it holds
        # Tags at creation are not honoured everywhere (moto ignores them): tag explicitly, right away.
        s3.put_bucket_tagging(Bucket=req.external_name, Tagging={"TagSet": tag_list(req.tags())})
        # A new bucket holds only its tags as far as this object relies on: every other setting is written by
        # update (even where AWS's defaults might already match, so nothing rests on a default that changes).
        return judge(req, Bucket(policy=None, tags=req.tags()))

    def update(self, req: Req, obs: Observation[Bucket]) -> Observation[Bucket]:
        s3 = client("s3", req.region)
        bucket, spec = req.external_name, req.spec
        changed = {d.field for d in obs.diffs}
        after = desired_state(req, obs.actual or Bucket(policy=None))  # what each write below sets
        # Order matters: relax the public access block before a public policy, tag first so
        # ownership is recorded before anything else changes.
        if "tags" in changed:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list(req.tags())})
        if "encryption" in changed:
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [desired_encryption(spec)]})
        if "publicAccessBlock" in changed:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=desired_public_access_block(spec))
        if "policy" in changed:
            write_bucket_policy(bucket, req.region, after.policy)
        if "versioning" in changed:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": after.versioning})
        if "website" in changed:
            site = desired_website(spec)
            if site is None:
                s3.delete_bucket_website(Bucket=bucket)
            else:
                s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=site)
        if "cors" in changed:
            rules = desired_cors(spec)
            if rules is None:
                s3.delete_bucket_cors(Bucket=bucket)
            else:
                s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        if "lifecycle" in changed:
            lc = desired_lifecycle(spec)
            if lc is None:
                s3.delete_bucket_lifecycle(Bucket=bucket)
            else:
                s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": lc})
        return judge(req, after)  # every differing setting was written as desired: no read-back

    def delete(self, req: Req, obs: Observation[Bucket]) -> DeleteResult:
        s3 = client("s3", req.region)
        bucket = req.external_name
        if not req.spec.force_delete:
            listing = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
            if listing.get("Versions") or listing.get("DeleteMarkers"):
                raise BlockedError(
                    f"bucket {bucket} is not empty, so it was not deleted and nothing in it was touched. To proceed: "
                    "empty the bucket yourself, or set spec.forceDelete: true to let the operator delete every "
                    "object and version, or set spec.deletionPolicy: Retain to keep the bucket.",
                    reason="BucketNotEmpty",
                )
        else:
            # The bucket is going away: drop our own policy statements first (other parties' stay), so
            # our TLS-only Deny cannot get in the way of emptying it (moto ignores its Condition).
            policy = obs.actual.policy if obs.actual else None
            if our_statements(policy):
                write_bucket_policy(bucket, req.region, merged_policy(policy, []))
            removed = self._empty(s3, bucket)
            if removed is None:
                return DeleteResult(done=False, message=f"emptying bucket {bucket} (forceDelete)")
        try:
            s3.delete_bucket(Bucket=bucket)
        except Exception as exc:
            if error_code(exc) == "NoSuchBucket":
                return DeleteResult(done=True)
            if error_code(exc) == "BucketNotEmpty":
                raise BlockedError(f"bucket {bucket} received new objects while being deleted", reason="BucketNotEmpty") from None
            raise
        return DeleteResult(done=True)

    @staticmethod
    def _empty(s3: Any, bucket: str) -> int | None:
        """Delete up to EMPTY_BATCHES_PER_PASS batches; the count when empty, None when more remain."""
        total = 0
        for _ in range(EMPTY_BATCHES_PER_PASS):
            listing = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
            keys = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])
            ]
            if not keys:
                return total
            result = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            errors = result.get("Errors") or []
            if errors:
                first = errors[0]
                raise BlockedError(
                    f"forceDelete could not delete {len(errors)} object(s) from {bucket}, e.g. {first.get('Key')}: "
                    f"{first.get('Code')}: {first.get('Message')}. Fix the bucket policy or permissions, or set "
                    "spec.deletionPolicy: Retain.",
                    reason="BucketNotEmpty",
                )
            total += len(keys)
        return None
