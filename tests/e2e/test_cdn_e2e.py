"""StackeryCDN on a real apiserver against a moto server (which issues certificates by itself after
MOTO_ACM_VALIDATION_WAIT=3 seconds): progress as conditions, coexisting policy statements, delete."""

from __future__ import annotations

import json
import time

import testbed

from tests.unit.helpers import aws_name

from .conftest import aws, cond, ready, wait_for, watch
from .test_objectstore_e2e import ROOT


def test_cdn_progress_policy_coexistence_and_delete(bed: testbed.TestBed) -> None:
    progress = watch(bed, "stackerycdn", "www", "default")
    try:
        bed.kubectl("apply", "-f", str(ROOT / "examples/cdn.yaml"))
        cdn = wait_for(lambda: ready(bed, "stackerycdn", "www"), timeout=90, what="CDN Ready")
    finally:
        time.sleep(1)
        progress.terminate()
        seen = progress.communicate(timeout=10)[0]
    st = cdn["status"]
    # the watch showed the whole story: pending with the exact record, then issued, deployed, ready
    rows = [line.split(None, 3) for line in seen.splitlines()[1:] if line.strip()]
    states = [tuple(r[:3]) for r in rows]
    pending = [r for r in rows if r[0] == "PendingValidation"]
    assert pending, seen
    assert "create this DNS record" in pending[0][3] and "CNAME" in pending[0][3] and "acm-validations.aws" in pending[0][3]
    first_pending = states.index(tuple(pending[0][:3]))
    issued = next(i for i, s in enumerate(states) if s[0] == "Issued")
    ready_at = next(i for i, s in enumerate(states) if s == ("Issued", "Deployed", "True"))
    assert first_pending < issued <= ready_at, seen
    assert all(s[2] != "True" for s in states[:ready_at]), seen  # never Ready before both hold
    assert st["certificateArn"].startswith("arn:aws:acm:us-east-1:")
    assert st["distributionDomainName"].endswith(".cloudfront.net")
    assert st["dnsRecords"] == [
        {"name": d, "type": "CNAME", "value": st["distributionDomainName"]} for d in ("www.example.com", "example.com")
    ]
    events = bed.kubectl("get", "events", "--field-selector", "involvedObject.name=www", "-o", "json").stdout
    for reason in ("PendingValidation", "Issued", "Deployed"):
        assert f'"reason": "{reason}"' in events, reason
    assert bed.get("configmap", "www-cdn-outputs")["data"]["CDN_URL"] == "https://www.example.com"
    table = bed.kubectl("get", "stackerycdn", "www").stdout
    assert "Issued" in table and st["distributionDomainName"] in table

    # both statements live in the bucket policy and neither object reports drift across resyncs
    s3 = aws(bed, "s3")
    bucket = aws_name("default", "www-content")
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]]
    assert sids[0] == "StackeryObjectStoreDenyInsecureTransport" and sids[1].startswith("StackeryCDN")
    first = {
        k: bed.get(k, n)["status"]["lastSyncTime"] for k, n in (("stackerycdn", "www"), ("stackeryobjectstore", "www-content"))
    }
    wait_for(
        lambda: all(
            bed.get(k, n)["status"]["lastSyncTime"] > first[k]
            for k, n in (("stackerycdn", "www"), ("stackeryobjectstore", "www-content"))
        ),
        timeout=60,
        what="a resync of both",
    )
    for kind, name in (("stackerycdn", "www"), ("stackeryobjectstore", "www-content")):
        obj = bed.get(kind, name)
        assert obj["status"]["drift"] == [] and cond(obj, "Synced")["status"] == "True", (kind, obj["status"])

    # delete: nothing of the CDN left, the bucket and its own statement intact
    bed.kubectl("delete", "stackerycdn", "www", "--timeout=90s")
    cf = aws(bed, "cloudfront")
    assert cf.list_distributions()["DistributionList"].get("Items", []) == []
    assert cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == []
    certs = aws(bed, "acm").list_certificates()["CertificateSummaryList"]
    assert st["certificateArn"] not in [c["CertificateArn"] for c in certs]
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]]
    assert sids == ["StackeryObjectStoreDenyInsecureTransport"]
    assert ready(bed, "stackeryobjectstore", "www-content")


def test_cdn_bad_input(bed: testbed.TestBed) -> None:
    bad = {
        "apiVersion": "stackery.io/v1alpha1",
        "kind": "StackeryCDN",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"objectStore": "www-content", "domains": ["Not A Domain"]},
    }
    res = bed.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert res.returncode != 0 and "domains must be lowercase DNS names" in res.stderr
    wrong_region = {
        **bad,
        "spec": {
            "objectStore": "nowhere",
            "domains": ["a.example.com"],
            "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-1111-2222-333344445555",
        },
    }
    bed.kubectl("apply", "-f", "-", input=json.dumps(wrong_region))
    obj = wait_for(lambda: (o := bed.get("stackerycdn", "bad")).get("status", {}).get("conditions") and o, what="conditions")
    assert cond(obj, "Ready")["reason"] == "WaitingForReference"  # the ObjectStore does not exist yet
    bed.apply(
        {
            "apiVersion": "stackery.io/v1alpha1",
            "kind": "StackeryObjectStore",
            "metadata": {"name": "nowhere", "namespace": "default"},
            "spec": {},
        }
    )
    obj = wait_for(
        lambda: (o := bed.get("stackerycdn", "bad")) and cond(o, "Stalled")["status"] == "True" and o,
        timeout=60,
        what="Stalled on the certificate region",
    )
    assert "us-east-1" in cond(obj, "Stalled")["message"]
    assert aws(bed, "cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    bed.kubectl("delete", "stackerycdn", "bad", "--timeout=60s")
