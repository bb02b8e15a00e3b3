"""A namespace is a tenant, on the real apiserver (RBAC, CEL) and a moto server, with two plain users:
alice may edit Stackery objects in tenant-a only, bob in tenant-b only. Every claim is checked against
what moto holds afterwards, not only against conditions."""

from __future__ import annotations

import json
from typing import Any

import pytest
import testbed

from tests.unit.helpers import aws_name

from .conftest import aws, cond, metric, ready, wait_for
from .test_table_function_e2e import ZIP

KINDS = "stackeryobjectstores,stackeryconfigstores,stackerytables,stackeryfunctions,stackerycdns"


def obj(kind: str, name: str, ns: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "stackery.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


def stalled(bed: testbed.TestBed, kind: str, name: str, ns: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        o = bed.get(kind, name, ns)
        conds = o.get("status", {}).get("conditions") or []
        return o if any(c["type"] == "Stalled" and c["status"] == "True" for c in conds) else None

    return wait_for(check, timeout=60, what=f"{kind} {ns}/{name} Stalled")


@pytest.fixture(scope="module")
def tenants(bed: testbed.TestBed) -> testbed.TestBed:
    for ns, user in (("tenant-a", "alice"), ("tenant-b", "bob")):
        bed.kubectl("create", "namespace", ns)
        bed.kubectl("create", "role", "stackery-edit", "-n", ns, "--verb=*", f"--resource={KINDS},secrets,configmaps")
        bed.kubectl("create", "rolebinding", f"{user}-edit", "-n", ns, "--role=stackery-edit", f"--user={user}")
    return bed


def test_rbac_keeps_each_user_in_their_namespace(tenants: testbed.TestBed) -> None:
    bed = tenants
    assert bed.kubectl("get", "stackeryconfigstores", "-n", "tenant-b", who="bob").returncode == 0
    denied = bed.kubectl("get", "stackeryconfigstores", "-n", "tenant-a", who="bob", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    denied = bed.kubectl("apply", "-f", "-", who="bob", check=False, input=json.dumps(obj("StackeryTable", "x", "tenant-a")))
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def test_a_namespace_cannot_reach_what_another_owns(tenants: testbed.TestBed) -> None:
    bed = tenants
    # alice's stack in tenant-a, made as tenant-a's own AWS identity (policy: STS AssumeRole)
    assumed_before = metric(bed, "stackery_aws_api_calls_total", operation="AssumeRole") or 0
    bed.apply(obj("StackeryConfigStore", "app", "tenant-a", parameters={"DB_HOST": {"value": "db.tenant-a"}}), who="alice")
    bed.apply(obj("StackeryObjectStore", "files", "tenant-a"), who="alice")
    bed.apply(obj("StackeryFunction", "worker", "tenant-a", code={"zipBase64": ZIP}), who="alice")
    wait_for(lambda: ready(bed, "stackeryconfigstore", "app", "tenant-a"), what="tenant-a config Ready")
    files = wait_for(lambda: ready(bed, "stackeryobjectstore", "files", "tenant-a"), what="tenant-a bucket Ready")
    worker = wait_for(lambda: ready(bed, "stackeryfunction", "worker", "tenant-a"), timeout=90, what="tenant-a function Ready")
    assert (metric(bed, "stackery_aws_api_calls_total", operation="AssumeRole") or 0) > assumed_before
    role_arn = worker["status"]["roleArn"]
    assert ":role/stackery/tenant-a/" in role_arn
    bucket = files["status"]["externalName"]
    ssm, s3, lam = aws(bed, "ssm"), aws(bed, "s3"), aws(bed, "lambda")
    params_before = ssm.get_parameters_by_path(Path="/tenant-a", Recursive=True)["Parameters"]
    bucket_tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]

    # bob, in tenant-b, tries each way into tenant-a
    bed.apply(
        obj("StackeryConfigStore", "steal", "tenant-b", path="/tenant-a/app/", parameters={"DB_HOST": {"value": "evil"}}),
        who="bob",
    )
    bed.apply(
        obj(
            "StackeryConfigStore",
            "adoptpath",
            "tenant-b",
            {"stackery.io/external-name": "/tenant-a/app/"},
            parameters={"DB_HOST": {"value": "evil"}},
        ),
        who="bob",
    )
    bed.apply(obj("StackeryFunction", "runas", "tenant-b", roleArn=role_arn, code={"zipBase64": ZIP}), who="bob")
    bed.apply(obj("StackeryFunction", "codefrom", "tenant-b", code={"s3": {"bucket": bucket, "key": "fn.zip"}}), who="bob")
    bed.apply(
        obj("StackeryObjectStore", "takeover", "tenant-b", {"stackery.io/external-name": bucket}, versioning=True), who="bob"
    )
    s3.create_bucket(Bucket="company-prod-data")  # untagged: belongs to no namespace
    bed.apply(obj("StackeryObjectStore", "prod", "tenant-b", {"stackery.io/external-name": "company-prod-data"}), who="bob")

    for kind, name, reason, words in (
        ("stackeryconfigstore", "steal", "OutOfScope", "spec.path '/tenant-a/app/'"),
        ("stackeryconfigstore", "adoptpath", "OutOfScope", "annotation stackery.io/external-name '/tenant-a/app/'"),
        ("stackeryfunction", "runas", "OutOfScope", "spec.roleArn"),
        ("stackeryfunction", "codefrom", "OutOfScope", "spec.code.s3.bucket"),
        ("stackeryobjectstore", "takeover", "OwnershipConflict", "tenant-a/StackeryObjectStore/files"),
        ("stackeryobjectstore", "prod", "OutOfScope", "company-prod-data"),
    ):
        got = cond(stalled(bed, kind, name, "tenant-b"), "Stalled")
        assert got["reason"] == reason and words in got["message"], (name, got)

    # ... and AWS shows nothing was read into, written, run or taken over
    assert ssm.get_parameters_by_path(Path="/tenant-a", Recursive=True)["Parameters"] == params_before
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert not names & {aws_name("tenant-b", "runas", max_len=64), aws_name("tenant-b", "codefrom", max_len=64)}
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == bucket_tags
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_tagging(Bucket="company-prod-data")  # still untagged: not taken over

    # bob deletes his objects: released at once, and tenant-a's resources are untouched
    bed.kubectl("delete", KINDS, "--all", "-n", "tenant-b", "--timeout=60s", who="bob")
    assert ssm.get_parameters_by_path(Path="/tenant-a", Recursive=True)["Parameters"] == params_before
    assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert aws_name("tenant-a", "worker", max_len=64) in {f["FunctionName"] for f in lam.list_functions()["Functions"]}

    # the policy widens tenant-a (and only tenant-a) to /shared/tenant-a/
    bed.apply(
        obj("StackeryConfigStore", "shared", "tenant-a", path="/shared/tenant-a/", parameters={"X": {"value": "1"}}), who="alice"
    )
    wait_for(lambda: ready(bed, "stackeryconfigstore", "shared", "tenant-a"), what="widened path Ready")
    bed.apply(
        obj("StackeryConfigStore", "shared", "tenant-b", path="/shared/tenant-a/", parameters={"X": {"value": "2"}}), who="bob"
    )
    assert cond(stalled(bed, "stackeryconfigstore", "shared", "tenant-b"), "Stalled")["reason"] == "OutOfScope"
    assert ssm.get_parameter(Name="/shared/tenant-a/X")["Parameter"]["Value"] == "1"


def test_default_names_of_different_objects_do_not_collide(tenants: testbed.TestBed) -> None:
    bed = tenants
    for ns in ("ns", "ns-a"):
        bed.kubectl("create", "namespace", ns)
    bed.apply(obj("StackeryObjectStore", "a-late", "ns"))
    bed.apply(obj("StackeryObjectStore", "late", "ns-a"))
    bed.apply(obj("StackeryObjectStore", "my.bucket", "ns"))
    bed.apply(obj("StackeryObjectStore", "my-bucket", "ns"))
    got = {
        wait_for(lambda n=n, name=name: ready(bed, "stackeryobjectstore", name, n), what=f"{n}/{name}")["status"]["externalName"]  # type: ignore[misc]
        for n, name in (("ns", "a-late"), ("ns-a", "late"), ("ns", "my.bucket"), ("ns", "my-bucket"))
    }
    assert len(got) == 4


def test_admission_refuses_reserved_names(tenants: testbed.TestBed) -> None:
    bed = tenants
    for o, words in (
        (obj("StackeryObjectStore", "r1", "tenant-b", tags={"aws:cloudformation:stack-name": "x"}), "aws:"),
        (obj("StackeryObjectStore", "r2", "tenant-b", bucketName="xn--bucket"), "reserved by S3"),
        (obj("StackeryObjectStore", "r3", "tenant-b", bucketName="data-s3alias"), "reserved by S3"),
        (obj("StackeryConfigStore", "r4", "tenant-b", path="/aws/reference/"), "must not start with /aws"),
        (obj("StackeryFunction", "r5", "tenant-b", code={"zipBase64": "not base64!"}), "zipBase64"),
    ):
        res = bed.kubectl("apply", "-f", "-", who="bob", check=False, input=json.dumps(o))
        assert res.returncode != 0 and words in res.stderr, (o["metadata"]["name"], res.stderr)


def test_region_written_as_it_is_is_not_a_change(tenants: testbed.TestBed) -> None:
    bed = tenants
    bed.apply(obj("StackeryObjectStore", "regional", "tenant-b"))
    wait_for(lambda: ready(bed, "stackeryobjectstore", "regional", "tenant-b"), what="Ready")
    # writing the operator's default region explicitly is accepted by the apiserver and is no change
    bed.kubectl(
        "patch", "stackeryobjectstore", "regional", "-n", "tenant-b", "--type=merge", "-p", '{"spec": {"region": "us-east-1"}}'
    )
    got = wait_for(lambda: ready(bed, "stackeryobjectstore", "regional", "tenant-b"), what="still Ready")
    assert got["status"]["resourceRegion"] == "us-east-1"
    moved = bed.kubectl(
        "patch",
        "stackeryobjectstore",
        "regional",
        "-n",
        "tenant-b",
        "--type=merge",
        "-p",
        '{"spec": {"region": "eu-west-1"}}',
        check=False,
    )
    assert moved.returncode != 0 and "region is immutable" in moved.stderr
    bed.kubectl("delete", "stackeryobjectstore", "regional", "-n", "tenant-b", "--timeout=60s")
