"""ObjectStore adapter against moto (in-process), through the generic reconciler where it matters."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from controller import metrics
from controller.adapters.objectstore import SID_TLS, ObjectStoreAdapter, merged_policy, our_statements
from controller.api.objectstore import ObjectStoreSpec
from controller.aws.errors import classify
from controller.core.adapter import ObjectRef
from controller.core.reconciler import Reconciler
from controller.errors import BlockedError

from .fakes import FakeCluster, Obj, test_settings
from .helpers import api_calls, converge, delta, request, writes

A = ObjectStoreAdapter()


def req(spec: dict[str, Any], **kw: Any) -> Any:
    return request(ObjectStoreSpec, spec, adapter=A, **kw)


def ensure(r: Any) -> Any:
    return converge(A, r)


def s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def put_object(bucket: str, key: str, body: bytes) -> None:
    """moto evaluates bucket-policy Deny statements on object calls but ignores their Condition, so our
    TLS-only statement (Deny unless aws:SecureTransport) denies everything there. Lift it for the put."""
    policy = s3().get_bucket_policy(Bucket=bucket)["Policy"]
    s3().delete_bucket_policy(Bucket=bucket)
    try:
        s3().put_object(Bucket=bucket, Key=key, Body=body)
    finally:
        s3().put_bucket_policy(Bucket=bucket, Policy=policy)


def test_bucket_name_is_deterministic_and_valid() -> None:
    ref = ObjectRef("StackeryObjectStore", "Team_A", "x" * 80, "u")
    name = A.external_name(ref, ObjectStoreSpec())
    assert len(name) <= 63 and name == name.lower() and name == A.external_name(ref, ObjectStoreSpec())
    assert A.external_name(ObjectRef("K", "ns", "n", "u"), ObjectStoreSpec(bucket_name="my-bucket")) == "my-bucket"


def test_secure_defaults(aws: None) -> None:
    r = req({})
    ensure(r)
    b = r.external_name
    enc = s3().get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3().get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3().get_bucket_policy(Bucket=b)["Policy"])
    tls = next(s for s in policy["Statement"] if s["Sid"] == SID_TLS)
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    tags = {t["Key"]: t["Value"] for t in s3().get_bucket_tagging(Bucket=b)["TagSet"]}
    assert tags["stackery.io/uid"] == "uid-1" and tags["stackery.io/kind"] == "StackeryObjectStore"
    obs = A.observe(r)
    assert obs.diffs == ()
    assert obs.outputs == {"BUCKET_NAME": b, "BUCKET_ARN": f"arn:aws:s3:::{b}"}


def test_all_settings_applied_and_in_sync(aws: None) -> None:
    spec = {
        "versioning": True,
        "encryption": {"type": "aws:kms", "kmsKeyId": "alias/app"},
        "cors": [{"allowedOrigins": ["https://a.example"], "allowedMethods": ["GET"], "maxAgeSeconds": 60}],
        "lifecycle": {"expireAfterDays": 30, "noncurrentVersionExpireAfterDays": 7},
        "tags": {"team": "a"},
    }
    r = req(spec)
    ensure(r)
    b = r.external_name
    assert s3().get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    assert s3().get_bucket_cors(Bucket=b)["CORSRules"][0]["AllowedOrigins"] == ["https://a.example"]
    rule = s3().get_bucket_lifecycle_configuration(Bucket=b)["Rules"][0]
    assert rule["Expiration"]["Days"] == 30 and rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    enc = s3().get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/app"}
    assert A.observe(r).diffs == ()


def test_website_relaxes_block_and_swaps_policy(aws: None) -> None:
    r = req({})
    ensure(r)
    r2 = req({"website": {"indexDocument": "index.html", "errorDocument": "404.html"}})
    obs = A.observe(r2)
    assert {d.field for d in obs.diffs} == {"publicAccessBlock", "policy", "website"}
    A.update(r2, obs)
    b = r.external_name
    pab = s3().get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
    assert pab["BlockPublicPolicy"] is False and pab["BlockPublicAcls"] is True
    sids = [s["Sid"] for s in json.loads(s3().get_bucket_policy(Bucket=b)["Policy"])["Statement"]]
    assert sids == ["StackeryObjectStorePublicRead"]
    obs = A.observe(r2)
    assert obs.diffs == () and obs.outputs["WEBSITE_URL"].startswith(f"http://{b}.s3-website-us-east-1")
    # and back: hosting off restores the block and the TLS-only statement
    A.update(r, A.observe(r))
    assert A.observe(r).diffs == ()


def test_foreign_policy_statements_survive(aws: None) -> None:
    r = req({})
    ensure(r)
    b = r.external_name
    policy = json.loads(s3().get_bucket_policy(Bucket=b)["Policy"])
    cdn = {
        "Sid": "StackeryCDNRead",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{b}/*",
    }
    policy["Statement"].append(cdn)
    s3().put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    assert A.observe(r).diffs == ()  # someone else's statement is not drift
    # our own statement removed out of band: corrected, the CDN statement stays
    s3().put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [cdn]}))
    obs = A.observe(r)
    assert [d.field for d in obs.diffs] == ["policy"]
    A.update(r, obs)
    sids = sorted(s["Sid"] for s in json.loads(s3().get_bucket_policy(Bucket=b)["Policy"])["Statement"])
    assert sids == ["StackeryCDNRead", SID_TLS]


def test_merged_policy_pure() -> None:
    assert merged_policy(None, []) is None
    assert merged_policy({"Statement": [{"Sid": "X"}]}, [{"Sid": "StackeryObjectStoreA"}])["Statement"] == [  # type: ignore[index]
        {"Sid": "X"},
        {"Sid": "StackeryObjectStoreA"},
    ]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c, b: c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"}), "versioning"),
        (lambda c, b: c.delete_bucket_encryption(Bucket=b), "encryption"),
        (lambda c, b: c.delete_public_access_block(Bucket=b), "publicAccessBlock"),
        (lambda c, b: c.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "stackery.io/uid", "Value": "uid-1"}]}), "tags"),
        (lambda c, b: c.delete_bucket_lifecycle(Bucket=b), "lifecycle"),
    ],
)
def test_drift_detected_and_corrected(aws: None, mutate: Any, field: str) -> None:
    r = req({"versioning": True, "lifecycle": {"expireAfterDays": 3}})
    ensure(r)
    mutate(s3(), r.external_name)
    obs = A.observe(r)
    assert [d.field for d in obs.diffs] == [field]
    A.update(r, obs)
    assert A.observe(r).diffs == ()


def reconciler() -> Reconciler[ObjectStoreSpec]:
    settings = test_settings()
    return Reconciler(
        kind="StackeryObjectStore",
        spec_model=ObjectStoreSpec,
        adapter=A,
        cluster=FakeCluster(),
        settings=settings,
        classify=classify,
    )


def test_in_sync_resync_makes_zero_mutating_calls(aws: None) -> None:
    rec = reconciler()
    obj = Obj(
        spec={
            "versioning": True,
            "website": {"indexDocument": "index.html"},
            "cors": [{"allowedOrigins": ["*"], "allowedMethods": ["GET", "HEAD"], "allowedHeaders": ["*"]}],
            "lifecycle": {"expireAfterDays": 10},
            "tags": {"a": "b"},
        },
        ref=ObjectRef("StackeryObjectStore", "team-a", "sync", "uid-sync"),
    )
    obj.status.update(rec.reconcile(obj.managed()).status)
    assert obj.cond("Ready")["status"] == "True"
    before = api_calls()
    obj.status.update(rec.reconcile(obj.managed()).status)
    calls = delta(before, api_calls())
    assert writes(calls) == {}, f"an in-sync resync must not write to AWS: {dict(calls)}"
    # the documented read budget of one drift check
    assert sum(calls.values()) == 8, dict(calls)


def test_delete_refuses_non_empty_bucket_and_keeps_objects(aws: None) -> None:
    r = req({"versioning": True})
    ensure(r)
    b = r.external_name
    put_object(b, "keep.txt", b"precious")
    with pytest.raises(BlockedError) as err:
        A.delete(r, A.observe(r))
    assert err.value.reason == "BucketNotEmpty" and "forceDelete" in err.value.message
    assert [v["Key"] for v in s3().list_object_versions(Bucket=b)["Versions"]] == ["keep.txt"]
    # a delete marker plus the old version (versioned bucket) still count as not empty
    s3().delete_bucket_policy(Bucket=b)
    s3().delete_object(Bucket=b, Key="keep.txt")
    with pytest.raises(BlockedError):
        A.delete(r, A.observe(r))


def test_force_delete_empties_every_version(aws: None) -> None:
    r = req({"versioning": True, "forceDelete": True})
    ensure(r)
    b = r.external_name
    for i in range(3):
        put_object(b, "k", str(i).encode())
    s3().delete_bucket_policy(Bucket=b)
    s3().delete_object(Bucket=b, Key="k")
    ensure(r)  # TLS-only statement back in place: forceDelete must cope with it
    assert our_statements(A.observe(r).actual.policy)
    assert A.delete(r, A.observe(r)).done
    assert not A.observe(r).exists


def test_other_owner_is_reported_without_reading_more(aws: None) -> None:
    r = req({})
    ensure(r)
    other = req({}, uid="uid-2", name="data")
    before = api_calls()
    obs = A.observe(other)
    assert obs.owner_uid == "uid-1" and obs.owner == "team-a/StackeryObjectStore/data"
    assert sum(delta(before, api_calls()).values()) == 1


def test_unreachable_endpoint_is_counted_and_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.aws import clients
    from controller.aws.errors import classify
    from controller.errors import RecoverableError

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    clients.reset()
    try:
        before = api_calls()
        with pytest.raises(Exception) as err:
            clients.client("s3", "us-east-1").get_bucket_tagging(Bucket="nope")
        assert isinstance(classify(err.value), RecoverableError)
        attempts = delta(before, api_calls())["GetBucketTagging"]
        assert attempts > 1  # every attempt botocore made is counted, each as outcome network
        network = [
            s.value
            for m in metrics.AWS_API_CALLS.collect()
            for s in m.samples
            if s.name.endswith("_total") and s.labels["operation"] == "GetBucketTagging" and s.labels["outcome"] == "network"
        ]
        assert network and network[0] >= attempts
    finally:
        clients.reset()


def test_http_429_is_throttling_whatever_its_code() -> None:
    """Found by the bench's throttling row: a 429 whose body botocore could not parse (no code) was classified
    AWSRejected, so a Table stalled on a throttled DescribeTable. HTTP 429 is throttling by definition."""
    from botocore.exceptions import ClientError

    from controller.aws.errors import classify
    from controller.errors import RecoverableError

    err = ClientError({"Error": {"Code": "", "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": 429}}, "DescribeTable")
    got = classify(err)
    assert isinstance(got, RecoverableError) and got.reason == "Throttled"
