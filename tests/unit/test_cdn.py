"""CDN adapter against moto (in-process): certificate in us-east-1 (DNS, EMAIL, bring-your-own),
distribution with OAC, merged bucket policy, domain change, delete order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from controller.adapters.cdn import CDNAdapter, statement_sid
from controller.adapters.objectstore import SID_TLS, ObjectStoreAdapter
from controller.api.cdn import CDNSpec
from controller.api.objectstore import ObjectStoreSpec
from controller.core.adapter import ObjectRef, Observation, Request
from controller.errors import InvalidSpecError, WaitingError
from tests.unit.helpers import aws_name

A = CDNAdapter()
UID = "0f3c9e1a-1111-2222-3333-444455556666"


@pytest.fixture
def acm_wait(aws: None) -> Iterator[Any]:
    """Set how long moto keeps certificates PENDING_VALIDATION (it issues them by itself afterwards)."""
    from moto import settings

    saved = settings.ACM_VALIDATION_WAIT

    def set_wait(seconds: int) -> None:
        settings.ACM_VALIDATION_WAIT = seconds

    set_wait(3600)
    yield set_wait
    settings.ACM_VALIDATION_WAIT = saved


def make_store(name: str = "site") -> dict[str, Any]:
    oa = ObjectStoreAdapter()
    ref = ObjectRef("StackeryObjectStore", "web", name, f"uid-{name}")
    spec = ObjectStoreSpec()
    r = Request(ref=ref, spec=spec, region="us-east-1", external_name=oa.external_name(ref, spec))
    oa.create(r)
    oa.update(r, oa.observe(r))
    return {"request": r, **oa.observe(r).identifiers}


class Obj:
    """Carries status between passes like the reconciler does."""

    def __init__(self, spec: dict[str, Any], stores: dict[str, dict[str, Any]], region: str = "us-east-1") -> None:
        self.spec, self.stores, self.region, self.status = spec, stores, region, {}

    def req(self) -> Any:
        parsed = CDNSpec.model_validate(self.spec)
        ref = ObjectRef("StackeryCDN", "web", "cdn", UID)
        nodes = {("StackeryObjectStore", k): v for k, v in self.stores.items()}
        return Request(
            ref=ref, spec=parsed, region=self.region, external_name=A.external_name(ref, parsed), nodes=nodes, status=self.status
        )

    def observe(self) -> Observation:
        obs = A.observe(self.req())
        self.status.update(obs.identifiers)
        self.status["conditions"] = [{"type": c.type, "status": c.status, "reason": c.reason} for c in obs.conditions]
        return obs

    def sync(self) -> Observation:
        obs = self.observe()
        if not obs.exists:
            A.create(self.req())
            obs = self.observe()
        if obs.diffs:
            A.update(self.req(), obs)
            obs = self.observe()
        return obs


def cond(obs: Observation, ctype: str) -> Any:
    return next(c for c in obs.conditions if c.type == ctype)


def cf() -> Any:
    return boto3.client("cloudfront", region_name="us-east-1")


def acm(region: str = "us-east-1") -> Any:
    return boto3.client("acm", region_name=region)


def bucket_policy(bucket: str) -> dict[str, Any]:
    return json.loads(boto3.client("s3", region_name="us-east-1").get_bucket_policy(Bucket=bucket)["Policy"])


def test_no_custom_domain(acm_wait: Any) -> None:
    store = make_store()
    o = Obj({"objectStore": "site"}, {"site": store})
    obs = o.sync()
    assert obs.diffs == ()
    assert [c.type for c in obs.conditions] == ["DistributionDeployed"]
    assert cond(obs, "DistributionDeployed").status == "True" and obs.waiting is None
    dist = cf().get_distribution(Id=obs.identifiers["distributionId"])["Distribution"]
    assert dist["DistributionConfig"]["ViewerCertificate"].get("CloudFrontDefaultCertificate") is True
    assert dist["DistributionConfig"]["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert obs.outputs["CDN_DOMAIN_NAME"].endswith(".cloudfront.net")
    assert acm().list_certificates()["CertificateSummaryList"] == []
    oacs = cf().list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [o["Name"] for o in oacs] == [aws_name("web", "cdn", max_len=64)]


def test_merged_bucket_policy_neither_side_drifts(acm_wait: Any) -> None:
    store = make_store()
    o = Obj({"objectStore": "site"}, {"site": store})
    obs = o.sync()
    sids = [s["Sid"] for s in bucket_policy(store["externalName"])["Statement"]]
    assert sids == [SID_TLS, statement_sid(UID)]
    ours = bucket_policy(store["externalName"])["Statement"][1]
    assert ours["Condition"] == {"StringEquals": {"AWS:SourceArn": obs.identifiers["arn"]}}
    assert ours["Principal"] == {"Service": "cloudfront.amazonaws.com"} and ours["Action"] == "s3:GetObject"
    assert ObjectStoreAdapter().observe(store["request"]).diffs == ()  # the ObjectStore leaves our statement alone
    assert o.observe().diffs == ()


def test_dns_validation_pending_then_issued(acm_wait: Any) -> None:
    store = make_store()
    o = Obj({"objectStore": "site", "domains": ["www.example.com", "example.com"]}, {"site": store}, region="eu-west-1")
    obs = o.observe()
    assert not obs.exists and cond(obs, "CertificateIssued").reason == "Requesting"
    with pytest.raises(WaitingError) as err:
        A.create(o.req())
    assert err.value.reason == "PendingValidation"
    obs = o.observe()
    c = cond(obs, "CertificateIssued")
    assert c.status == "False" and c.reason == "PendingValidation"
    rec = obs.identifiers["validationRecords"][0]
    assert rec["type"] == "CNAME" and rec["name"] in c.message and rec["value"] in c.message
    assert [x["DomainName"] for x in acm("us-east-1").list_certificates()["CertificateSummaryList"]] == ["www.example.com"]
    assert acm("eu-west-1").list_certificates()["CertificateSummaryList"] == []  # always us-east-1
    # a retried create requests no second certificate (idempotency token + owner-tag lookup)
    with pytest.raises(WaitingError):
        A.create(o.req())
    assert len(acm().list_certificates()["CertificateSummaryList"]) == 1

    acm_wait(0)
    obs = o.sync()
    assert cond(obs, "CertificateIssued").status == "True" and cond(obs, "DistributionDeployed").status == "True"
    assert obs.diffs == () and obs.waiting is None
    cfg = cf().get_distribution(Id=obs.identifiers["distributionId"])["Distribution"]["DistributionConfig"]
    assert sorted(cfg["Aliases"]["Items"]) == ["example.com", "www.example.com"]
    assert cfg["ViewerCertificate"]["ACMCertificateArn"] == obs.identifiers["certificateArn"]
    assert obs.identifiers["dnsRecords"] == [
        {"name": d, "type": "CNAME", "value": obs.identifiers["distributionDomainName"]}
        for d in ["www.example.com", "example.com"]
    ]
    assert obs.outputs["CDN_URL"] == "https://www.example.com"


def test_email_validation_names_the_addresses(acm_wait: Any) -> None:
    store = make_store()
    o = Obj(
        {
            "objectStore": "site",
            "domains": ["shop.example.org"],
            "certificate": {"validation": "EMAIL", "validationDomain": "example.org"},
        },
        {"site": store},
    )
    with pytest.raises(WaitingError) as err:
        A.create(o.req())
    assert "admin@example.org" in err.value.message and "webmaster@example.org" in err.value.message
    obs = o.observe()
    assert obs.identifiers["validationEmails"][0] == "admin@example.org"


def test_bring_your_own_certificate(acm_wait: Any) -> None:
    store = make_store()
    elsewhere = acm("eu-west-1").request_certificate(DomainName="a.example.com", ValidationMethod="DNS")["CertificateArn"]
    wrong = Obj({"objectStore": "site", "domains": ["a.example.com"], "certificateArn": elsewhere}, {"site": store})
    assert cond(wrong.observe(), "CertificateIssued").reason == "WrongRegion"  # observe reports, never raises
    with pytest.raises(InvalidSpecError) as err:
        A.create(wrong.req())
    assert "us-east-1" in err.value.message
    assert not wrong.observe().residual  # nothing was created: deleting it is immediate
    acm_wait(0)
    mine = acm().request_certificate(DomainName="a.example.com", ValidationMethod="DNS")["CertificateArn"]
    o = Obj({"objectStore": "site", "domains": ["a.example.com"], "certificateArn": mine}, {"site": store})
    obs = o.sync()
    assert obs.diffs == () and obs.identifiers["certificateArn"] == mine
    assert A.delete(o.req(), obs).done is False  # disable first
    o.observe()
    assert A.delete(o.req(), o.observe()).done
    assert [c["CertificateArn"] for c in acm().list_certificates()["CertificateSummaryList"]] == [mine]  # not ours: kept


def test_domain_change_switches_after_issue_then_retires_old(acm_wait: Any) -> None:
    acm_wait(0)
    store = make_store()
    o = Obj({"objectStore": "site", "domains": ["old.example.com"]}, {"site": store})
    obs = o.sync()
    old = obs.identifiers["certificateArn"]
    acm_wait(3600)
    o.spec = {**o.spec, "domains": ["new.example.com"]}
    obs = o.observe()
    assert "certificate" in {d.field for d in obs.diffs}
    with pytest.raises(WaitingError):
        A.update(o.req(), obs)
    cfg = cf().get_distribution(Id=obs.identifiers["distributionId"])["Distribution"]["DistributionConfig"]
    assert cfg["Aliases"]["Items"] == ["old.example.com"] and cfg["ViewerCertificate"]["ACMCertificateArn"] == old
    acm_wait(0)
    obs = o.sync()
    assert obs.diffs == ()
    cfg = cf().get_distribution(Id=obs.identifiers["distributionId"])["Distribution"]["DistributionConfig"]
    assert cfg["Aliases"]["Items"] == ["new.example.com"] and cfg["ViewerCertificate"]["ACMCertificateArn"] != old
    assert [c["DomainName"] for c in acm().list_certificates()["CertificateSummaryList"]] == ["new.example.com"]


def test_object_store_switch_moves_origin_and_statement(acm_wait: Any) -> None:
    a, b = make_store("a"), make_store("b")
    o = Obj({"objectStore": "a"}, {"a": a, "b": b})
    o.sync()
    o.spec = {"objectStore": "b"}
    obs = o.sync()
    assert obs.diffs == ()
    cfg = cf().get_distribution(Id=obs.identifiers["distributionId"])["Distribution"]["DistributionConfig"]
    assert cfg["Origins"]["Items"][0]["DomainName"].startswith(b["externalName"])
    assert [s["Sid"] for s in bucket_policy(a["externalName"])["Statement"]] == [SID_TLS]
    assert [s["Sid"] for s in bucket_policy(b["externalName"])["Statement"]] == [SID_TLS, statement_sid(UID)]


def test_delete_order_and_leftovers(acm_wait: Any) -> None:
    acm_wait(0)
    store = make_store()
    o = Obj({"objectStore": "site", "domains": ["www.example.com"]}, {"site": store})
    obs = o.sync()
    dist_id = obs.identifiers["distributionId"]
    first = A.delete(o.req(), obs)
    assert not first.done and "disabling" in first.message
    assert cf().get_distribution(Id=dist_id)["Distribution"]["DistributionConfig"]["Enabled"] is False
    assert acm().list_certificates()["CertificateSummaryList"]  # nothing else touched yet
    assert A.delete(o.req(), o.observe()).done
    assert cf().list_distributions()["DistributionList"].get("Items", []) == []
    assert acm().list_certificates()["CertificateSummaryList"] == []
    assert cf().list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == []
    assert [s["Sid"] for s in bucket_policy(store["externalName"])["Statement"]] == [SID_TLS]  # bucket intact
    after = o.observe()
    assert not after.exists and not after.residual


def test_in_sync_read_budget(acm_wait: Any) -> None:
    from .helpers import api_calls, delta, writes

    acm_wait(0)
    o = Obj({"objectStore": "site", "domains": ["www.example.com"]}, {"site": make_store()})
    o.sync()
    before = api_calls()
    assert o.observe().diffs == ()
    calls = delta(before, api_calls())
    # 5: the origin access control is a part of its own now (core.parts), read by the id in status
    assert writes(calls) == {} and sum(calls.values()) == 5, dict(calls)


@pytest.mark.parametrize(
    "bad",
    [
        {"objectStore": "s", "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"},
        {"objectStore": "s", "certificate": {"validation": "DNS"}},
        {
            "objectStore": "s",
            "domains": ["a.example.com"],
            "certificate": {},
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        },
    ],
)
def test_model_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CDNSpec.model_validate(bad)


def test_route53_records_made_by_the_operator(acm_wait: Any) -> None:
    r53 = boto3.client("route53", region_name="us-east-1")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="z1")["HostedZone"]["Id"].split("/")[-1]
    store = make_store()
    o = Obj(
        {"objectStore": "site", "domains": ["example.com", "www.example.com"], "route53": {"hostedZoneId": zone}}, {"site": store}
    )
    with pytest.raises(WaitingError) as err:
        A.create(o.req())
    assert "the operator is creating it in Route 53" in err.value.message

    def records() -> dict[tuple[str, str], Any]:
        rrs = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        return {(r["Name"], r["Type"]): r for r in rrs}

    assert any(t == "CNAME" and n.startswith("_") for n, t in records())  # validation record published
    acm_wait(0)
    obs = o.sync()
    assert obs.diffs == () and obs.identifiers["dnsRecords"] == []  # nothing left for a person to do
    got = records()
    for name in ("example.com.", "www.example.com."):  # apex included: alias A/AAAA, not CNAME
        for rtype in ("A", "AAAA"):
            alias = got[(name, rtype)]["AliasTarget"]
            assert alias["DNSName"].rstrip(".") == obs.identifiers["distributionDomainName"]
            assert alias["HostedZoneId"] == "Z2FDTNDATAQYW2"
    # a record changed behind our back is drift, and is put back
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "www.example.com",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                }
            ]
        },
    )
    obs = o.observe()
    assert [d.field for d in obs.diffs] == ["dnsRecords"]
    A.update(o.req(), obs)
    assert o.observe().diffs == ()
