"""StackeryObjectStore on a real apiserver, against a moto server, with the operator as a process."""

from __future__ import annotations

from pathlib import Path

import pytest
import testbed

from tests.unit.helpers import aws_name

from .conftest import apply, aws, cond, metric, object_store, put_object, ready, wait_for

ROOT = Path(__file__).resolve().parents[2]


def tags_of(s3: object, bucket: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}  # type: ignore[attr-defined]


def test_example_becomes_ready_with_status_columns_and_outputs(bed: testbed.TestBed) -> None:
    bed.kubectl("apply", "-f", str(ROOT / "examples/objectstore.yaml"))
    obj = wait_for(lambda: ready(bed, "stackeryobjectstore", "uploads"), timeout=60, what="uploads Ready")
    st = obj["status"]
    assert st["externalName"] == aws_name("default", "uploads")
    assert st["arn"] == "arn:aws:s3:::" + aws_name("default", "uploads")
    assert cond(obj, "Synced")["status"] == "True" and cond(obj, "Stalled")["status"] == "False"
    table = bed.kubectl("get", "stackery").stdout
    assert "uploads" in table and "READY" in table and "Available" in table and aws_name("default", "uploads") in table
    cm = bed.get("configmap", "uploads-outputs")
    assert cm["data"] == {
        "BUCKET_NAME": aws_name("default", "uploads"),
        "BUCKET_ARN": "arn:aws:s3:::" + aws_name("default", "uploads"),
    }
    s3 = aws(bed, "s3")
    assert s3.get_bucket_versioning(Bucket=aws_name("default", "uploads"))["Status"] == "Enabled"
    assert tags_of(s3, aws_name("default", "uploads"))["stackery.io/name"] == "uploads"
    assert metric(bed, "stackery_resource_ready", name="uploads", kind="StackeryObjectStore") == 1.0


def test_spec_edit_updates_aws_and_generation(bed: testbed.TestBed) -> None:
    apply(bed, object_store("edit-me", tags={"team": "web"}))
    obj = wait_for(lambda: ready(bed, "stackeryobjectstore", "edit-me"), what="edit-me Ready")
    gen = obj["metadata"]["generation"]
    bed.kubectl(
        "patch", "stackeryobjectstore", "edit-me", "--type=merge", "-p", '{"spec": {"versioning": true, "tags": {"team": "api"}}}'
    )
    obj = wait_for(lambda: ready(bed, "stackeryobjectstore", "edit-me"), what="edit applied")
    assert obj["status"]["observedGeneration"] == gen + 1
    s3 = aws(bed, "s3")
    assert s3.get_bucket_versioning(Bucket=aws_name("default", "edit-me"))["Status"] == "Enabled"
    assert tags_of(s3, aws_name("default", "edit-me"))["team"] == "api"


def test_drift_reported_then_corrected_with_metrics(bed: testbed.TestBed) -> None:
    apply(bed, object_store("drifty", versioning=True, driftPolicy="Report"))
    wait_for(lambda: ready(bed, "stackeryobjectstore", "drifty"), what="drifty Ready")
    s3 = aws(bed, "s3")
    s3.put_bucket_versioning(Bucket=aws_name("default", "drifty"), VersioningConfiguration={"Status": "Suspended"})

    def drift_reported() -> list[dict[str, str]]:
        return [d for d in bed.get("stackeryobjectstore", "drifty")["status"].get("drift", []) if d["field"] == "versioning"]

    drift = wait_for(drift_reported, timeout=60, what="drift reported")
    assert drift[0]["desired"] == "Enabled" and drift[0]["actual"] == "Suspended"
    obj = bed.get("stackeryobjectstore", "drifty")
    assert cond(obj, "Synced")["reason"] == "DriftDetected" and cond(obj, "Ready")["status"] == "True"
    wait_for(lambda: metric(bed, "stackery_resource_drifted", name="drifty") == 1.0, what="drifted gauge 1")
    # Report leaves AWS alone
    assert s3.get_bucket_versioning(Bucket=aws_name("default", "drifty"))["Status"] == "Suspended"
    events = bed.kubectl("get", "events", "--field-selector", "involvedObject.name=drifty").stdout
    assert "DriftDetected" in events

    bed.kubectl("patch", "stackeryobjectstore", "drifty", "--type=merge", "-p", '{"spec": {"driftPolicy": "Correct"}}')
    wait_for(lambda: s3.get_bucket_versioning(Bucket=aws_name("default", "drifty"))["Status"] == "Enabled", what="corrected")
    wait_for(lambda: metric(bed, "stackery_resource_drifted", name="drifty") == 0.0, what="drifted gauge 0")
    obj = wait_for(lambda: ready(bed, "stackeryobjectstore", "drifty"), what="in sync")
    assert obj["status"]["drift"] == []

    # with Correct, later drift is put back by the periodic check on its own
    s3.put_bucket_versioning(Bucket=aws_name("default", "drifty"), VersioningConfiguration={"Status": "Suspended"})
    wait_for(
        lambda: s3.get_bucket_versioning(Bucket=aws_name("default", "drifty"))["Status"] == "Enabled",
        timeout=60,
        what="drift corrected by resync",
    )
    assert (metric(bed, "stackery_drift_detected_total", kind="StackeryObjectStore") or 0) >= 1


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (object_store("bad-name", bucketName="Not_A_Bucket"), "spec.bucketName"),
        (object_store("bad-enum", deletionPolicy="Sometimes"), 'Unsupported value: "Sometimes"'),
        (object_store("bad-tag", tags={"stackery.io/uid": "x"}), "(ownership tags)"),
        (object_store("bad-kms", encryption={"type": "AES256", "kmsKeyId": "k"}), "kmsKeyId is only valid"),
        (object_store("bad-field", versioning=True, colour="red"), 'unknown field "spec.colour"'),
    ],
)
def test_invalid_manifests_rejected_at_admission(bed: testbed.TestBed, manifest: dict[str, object], message: str) -> None:
    before = {b["Name"] for b in aws(bed, "s3").list_buckets()["Buckets"]}
    import json

    res = bed.kubectl("apply", "--validate=strict", "-f", "-", input=json.dumps(manifest), check=False)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr
    assert bed.kubectl("get", "stackeryobjectstore", manifest["metadata"]["name"], check=False).returncode != 0  # type: ignore[index]
    assert {b["Name"] for b in aws(bed, "s3").list_buckets()["Buckets"]} == before


def test_immutable_bucket_name(bed: testbed.TestBed) -> None:
    apply(bed, object_store("named", bucketName="stackery-e2e-named-bucket"))
    wait_for(lambda: ready(bed, "stackeryobjectstore", "named"), what="named Ready")
    res = bed.kubectl(
        "patch",
        "stackeryobjectstore",
        "named",
        "--type=merge",
        "-p",
        '{"spec": {"bucketName": "stackery-e2e-renamed"}}',
        check=False,
    )
    assert res.returncode != 0 and "bucketName is immutable" in res.stderr
    assert "stackery-e2e-renamed" not in {b["Name"] for b in aws(bed, "s3").list_buckets()["Buckets"]}


def test_delete_policies(bed: testbed.TestBed) -> None:
    s3 = aws(bed, "s3")
    apply(bed, object_store("gone"))
    apply(bed, object_store("kept", deletionPolicy="Retain"))
    apply(bed, object_store("full"))
    for n in ("gone", "kept", "full"):
        wait_for(lambda n=n: ready(bed, "stackeryobjectstore", n), what=f"{n} Ready")  # type: ignore[misc]
    put_object(s3, aws_name("default", "full"), "precious.txt", b"do not lose me")

    bed.kubectl("delete", "stackeryobjectstore", "gone", "kept", "--timeout=60s")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert aws_name("default", "gone") not in names and aws_name("default", "kept") in names

    bed.kubectl("delete", "stackeryobjectstore", "full", "--wait=false")
    obj = wait_for(
        lambda: (o := bed.get("stackeryobjectstore", "full")) and cond(o, "Stalled").get("reason") == "BucketNotEmpty" and o,
        what="BucketNotEmpty",
    )
    assert "forceDelete" in cond(obj, "Stalled")["message"]
    assert obj["metadata"]["finalizers"] == ["stackery.io/finalizer"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=aws_name("default", "full"))["Contents"]] == ["precious.txt"]
    # the user clearly asks for the data to go: then it goes
    bed.kubectl("patch", "stackeryobjectstore", "full", "--type=merge", "-p", '{"spec": {"forceDelete": true}}')
    wait_for(
        lambda: bed.kubectl("get", "stackeryobjectstore", "full", check=False).returncode != 0, timeout=60, what="full deleted"
    )
    assert aws_name("default", "full") not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_ownership_conflict_between_objects(bed: testbed.TestBed) -> None:
    apply(bed, object_store("first", bucketName="stackery-e2e-shared"))
    wait_for(lambda: ready(bed, "stackeryobjectstore", "first"), what="first Ready")
    apply(bed, object_store("second", bucketName="stackery-e2e-shared", versioning=True))
    obj = wait_for(
        lambda: (
            (o := bed.get("stackeryobjectstore", "second")).get("status", {}).get("conditions")
            and cond(o, "Stalled")["status"] == "True"
            and o
        ),
        what="second Stalled",
    )
    assert cond(obj, "Stalled")["reason"] == "OwnershipConflict"
    assert "default/StackeryObjectStore/first" in cond(obj, "Stalled")["message"]
    assert aws(bed, "s3").get_bucket_versioning(Bucket="stackery-e2e-shared").get("Status") is None
    bed.kubectl("delete", "stackeryobjectstore", "second", "--timeout=60s")
    assert "stackery-e2e-shared" in {b["Name"] for b in aws(bed, "s3").list_buckets()["Buckets"]}


def test_operator_killed_mid_create_leaves_no_duplicates(bed: testbed.TestBed) -> None:
    """Crash safety on the real system: SIGKILL the operator while it creates, start it again."""
    import json as _json
    import signal

    items = [object_store(f"crash-{i:02d}", versioning=True) for i in range(15)]
    bed.kubectl("apply", "-f", "-", input=_json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    s3 = aws(bed, "s3")
    wait_for(
        lambda: any(b["Name"].startswith("stackery-default-crash-") for b in s3.list_buckets()["Buckets"]),
        what="creation under way",
    )
    proc = next(p for name, p in bed.procs.procs if name == "operator")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    bed.procs.procs = [(n, p) for n, p in bed.procs.procs if p is not proc]
    bed.start_operator()
    for i in range(15):
        wait_for(lambda i=i: ready(bed, "stackeryobjectstore", f"crash-{i:02d}"), timeout=90, what=f"crash-{i:02d}")  # type: ignore[misc]
    names = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("stackery-default-crash-")]
    assert sorted(names) == sorted(aws_name("default", f"crash-{i:02d}") for i in range(15))
    for n in names:
        assert s3.get_bucket_versioning(Bucket=n)["Status"] == "Enabled"
        assert {t["Key"] for t in s3.get_bucket_tagging(Bucket=n)["TagSet"]} >= {"stackery.io/uid", "stackery.io/name"}


def test_observe_only_reads_reports_and_never_writes_or_deletes(bed: testbed.TestBed) -> None:
    s3 = aws(bed, "s3")
    s3.create_bucket(Bucket="legacy-team-bucket")
    s3.put_bucket_versioning(Bucket="legacy-team-bucket", VersioningConfiguration={"Status": "Enabled"})
    obs_only = object_store("legacy", managementPolicy="ObserveOnly", versioning=False)
    obs_only["metadata"]["annotations"] = {"stackery.io/external-name": "legacy-team-bucket"}
    apply(bed, obs_only)
    obj = wait_for(
        lambda: (o := bed.get("stackeryobjectstore", "legacy")).get("status", {}).get("drift") and o,
        timeout=60,
        what="drift reported",
    )
    fields = {d["field"] for d in obj["status"]["drift"]}
    assert {"versioning", "encryption", "publicAccessBlock", "tags"} <= fields
    assert cond(obj, "Ready")["status"] == "True" and cond(obj, "Synced")["reason"] == "DriftDetected"
    assert s3.get_bucket_versioning(Bucket="legacy-team-bucket")["Status"] == "Enabled"  # untouched
    try:  # no ownership tags were added: ObserveOnly never writes
        tags = s3.get_bucket_tagging(Bucket="legacy-team-bucket")["TagSet"]
    except s3.exceptions.ClientError:
        tags = []
    assert tags == []
    bed.kubectl("delete", "stackeryobjectstore", "legacy", "--timeout=60s")
    assert "legacy-team-bucket" in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_kubectl_explain_documents_fields(bed: testbed.TestBed) -> None:
    out = bed.kubectl("explain", "stackeryobjectstore.spec.forceDelete").stdout
    assert "never deleted" in out
    out = bed.kubectl("explain", "stackerycdn.spec").stdout
    for field in ("objectStore", "domains", "certificateArn", "spaFallback", "deletionPolicy", "driftPolicy"):
        assert field in out
