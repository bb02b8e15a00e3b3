"""A namespace is a tenant: scope checks before any AWS call, names that cannot collide, adoption
switches and half-made creates that never orphan a resource, and a region that is not a change.

Driven through the generic reconciler with the in-memory FakeAdapter (the rules live in core, so they
hold for every kind); the per-kind claims are checked against the real adapters at the end.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.adapters.cdn import CDNAdapter
from controller.adapters.common import dns_name
from controller.adapters.configstore import ConfigStoreAdapter
from controller.adapters.function import FunctionAdapter
from controller.api.cdn import CDNSpec
from controller.api.configstore import ConfigStoreSpec
from controller.api.function import FunctionSpec
from controller.core.adapter import ObjectRef
from controller.core.reconciler import EXTERNAL_NAME_ANNOTATION, Result
from controller.policy import Claim, Policy, Scope, load, parse

from .fakes import FakeAdapter, Obj, make


def run(rec: Any, obj: Obj) -> Result:
    result = rec.reconcile(obj.managed())
    obj.status = {**obj.status, **result.status}
    return result


def finalize(rec: Any, obj: Obj) -> Result:
    result = rec.finalize(obj.managed())
    obj.status = {**obj.status, **result.status}
    return result


# ------------------------------------------------------------------ names
@pytest.mark.parametrize(
    ("a", "b"),
    [(("ns", "a-late"), ("ns-a", "late")), (("ns", "my.bucket"), ("ns", "my-bucket")), (("a--b", "c"), ("a", "b--c"))],
)
def test_default_names_of_different_objects_never_collide(a: tuple[str, str], b: tuple[str, str]) -> None:
    for max_len in (63, 64, 255):
        na = dns_name("stackery", ObjectRef("K", a[0], a[1], "u1"), max_len=max_len)
        nb = dns_name("stackery", ObjectRef("K", b[0], b[1], "u2"), max_len=max_len)
        assert na != nb


def test_long_names_are_shortened_but_keep_their_hash() -> None:
    ns, name = "n" * 63, "x" * 200
    got = dns_name("stackery", ObjectRef("K", ns, name, "u"), max_len=63)
    other = dns_name("stackery", ObjectRef("K", ns, name + "y", "u"), max_len=63)
    assert len(got) == 63 and got != other and got.startswith("stackery-nnn")


# ------------------------------------------------------------------ scope
def test_out_of_scope_claim_is_stalled_before_any_aws_call() -> None:
    adapter = FakeAdapter(claimed=[Claim("ssmPath", "spec.path", "/team-a/app/")])
    rec, _, _, _ = make(adapter)
    obj = Obj(spec={"size": 2})
    run(rec, obj)
    stalled = obj.cond("Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "OutOfScope"
    assert "spec.path '/team-a/app/'" in stalled["message"] and "must start with /ns/" in stalled["message"]
    assert adapter.calls == []  # not even observe: nothing of namespace team-a was read
    assert obj.cond("Ready")["status"] == "False"


def test_adoption_annotation_is_checked_like_the_field_it_stands_for() -> None:
    adapter = FakeAdapter(name_scope="ssmPath")  # a ConfigStore: its AWS name is an SSM path
    rec, _, _, _ = make(adapter)
    obj = Obj(spec={"size": 2}, annotations={EXTERNAL_NAME_ANNOTATION: "/team-a/app/"})
    run(rec, obj)
    stalled = obj.cond("Stalled")
    assert stalled["reason"] == "OutOfScope" and f"annotation {EXTERNAL_NAME_ANNOTATION}" in stalled["message"]
    assert adapter.calls == []


def test_the_operator_policy_widens_a_namespace_scope() -> None:
    adapter = FakeAdapter(claimed=[Claim("ssmPath", "spec.path", "/shared/app/")])
    rec, _, _, _ = make(adapter, policy=Policy(namespaces={"ns": {"ssmPathPrefixes": ["/shared/"]}}))
    obj = Obj(spec={"size": 2})
    run(rec, obj)
    assert obj.cond("Ready")["status"] == "True"
    # another namespace does not get what ns was given
    assert (
        Policy(namespaces={"ns": {"ssmPathPrefixes": ["/shared/"]}})
        .scope("other")
        .violation(Claim("ssmPath", "spec.path", "/shared/app/"))
    )


@pytest.mark.parametrize(
    ("claim", "ok"),
    [
        (Claim("ssmPath", "spec.path", "/ns/x/"), True),
        (Claim("ssmPath", "spec.path", "/ns-b/x/"), False),
        (Claim("roleArn", "spec.roleArn", "arn:aws:iam::123456789012:role/stackery/ns/stackery-fn-x"), True),
        (Claim("roleArn", "spec.roleArn", "arn:aws:iam::123456789012:role/stackery/other/stackery-fn-x"), False),
        (Claim("roleArn", "spec.roleArn", "arn:aws:iam::123456789012:role/admin"), False),
        (Claim("codeBucket", "spec.code.s3.bucket", "team-a-artifacts"), False),
        (Claim("image", "spec.code.imageUri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/ns/app:1"), True),
        (Claim("image", "spec.code.imageUri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/other/app:1"), False),
        (Claim("adopt", "annotation", "prod-bucket"), False),
        (Claim("domain", "spec.domains[0]", "www.example.com"), True),  # built-in default: any domain
        (Claim("certificate", "spec.certificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/x"), False),
        (Claim("hostedZone", "spec.route53.hostedZoneId", "Z123"), False),
    ],
)
def test_default_scope_is_the_namespace_own(claim: Claim, ok: bool) -> None:
    assert (Policy().scope("ns").violation(claim) is None) == ok


def test_policy_file_is_strict_and_merges_default_with_namespace(tmp_path: Any) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(
        "default:\n  domains: ['*.example.com']\nnamespaces:\n  ns:\n    codeBuckets: [artifacts]\n"
        "    identity: {roleArn: 'arn:aws:iam::111111111111:role/ns', externalId: x}\n"
    )
    scope = load(str(f)).scope("ns")
    assert scope.code_buckets == ("artifacts",) and scope.domains == ("*.example.com",)
    assert scope.identity is not None and scope.identity.role_arn.endswith(":role/ns") and scope.identity.external_id == "x"
    assert scope.violation(Claim("domain", "spec.domains[0]", "evil.com"))
    assert load(str(f)).scope("other").identity is None
    with pytest.raises(ValueError, match="unknown keys"):
        parse({"namespaces": {"ns": {"codebuckets": ["typo"]}}})
    with pytest.raises(ValueError, match="roleArn"):
        parse({"namespaces": {"ns": {"identity": {"role": "x"}}}})


def test_each_kind_claims_what_its_user_may_name() -> None:
    fn = FunctionSpec.model_validate(
        {"code": {"s3": {"bucket": "code-bucket", "key": "k"}}, "roleArn": "arn:aws:iam::123456789012:role/r"}
    )
    assert {(c.kind, c.field) for c in FunctionAdapter().claims(fn)} == {
        ("roleArn", "spec.roleArn"),
        ("codeBucket", "spec.code.s3.bucket"),
    }
    cs = ConfigStoreSpec.model_validate({"path": "/x/"})
    assert [c.kind for c in ConfigStoreAdapter().claims(cs)] == ["ssmPath"]
    cdn = CDNSpec.model_validate(
        {
            "objectStore": "s",
            "domains": ["a.example.com", "b.example.com"],
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b-2c3d",
            "route53": {"hostedZoneId": "Z123"},
        }
    )
    assert [c.field for c in CDNAdapter().claims(cdn)] == [
        "spec.domains[0]",
        "spec.domains[1]",
        "spec.certificateArn",
        "spec.route53.hostedZoneId",
    ]
    assert isinstance(Policy().scope("x"), Scope)


# ------------------------------------------------------------------ adoption switch
def adopted(policy: str) -> tuple[Any, FakeAdapter, Obj]:
    adapter = FakeAdapter(
        cloud={
            "legacy-1": {"tags": {}, "size": 1, "color": "blue"},
            "legacy-2": {"tags": {}, "size": 1, "color": "blue"},
        }
    )
    rec, _, _, _ = make(adapter, policy=Policy(namespaces={"ns": {"adopt": ["legacy-*"]}}))
    obj = Obj(spec={"size": 2, "deletionPolicy": policy}, annotations={EXTERNAL_NAME_ANNOTATION: "legacy-1"})
    run(rec, obj)
    assert obj.status["resourceName"] == "legacy-1" and adapter.cloud["legacy-1"]["tags"]["stackery.io/uid"] == "uid-1"
    obj.annotations[EXTERNAL_NAME_ANNOTATION] = "legacy-2"
    return rec, adapter, obj


def test_changed_adoption_annotation_deletes_the_previous_resource_with_an_event() -> None:
    rec, adapter, obj = adopted("Delete")
    result = run(rec, obj)
    assert "legacy-1" not in adapter.cloud
    assert adapter.cloud["legacy-2"]["tags"]["stackery.io/uid"] == "uid-1"
    assert obj.status["resourceName"] == "legacy-2"
    assert [e.reason for e in result.events if e.reason == "PreviousDeleted"] == ["PreviousDeleted"]


def test_changed_adoption_annotation_with_retain_keeps_the_previous_resource_and_says_so() -> None:
    rec, adapter, obj = adopted("Retain")
    result = run(rec, obj)
    assert adapter.cloud["legacy-1"]["size"] == 2  # left as it was, not orphaned silently: an Event says so
    assert any(e.reason == "PreviousRetained" and "legacy-1" in e.message for e in result.events)
    assert obj.status["resourceName"] == "legacy-2"


def test_delete_after_an_unfinished_switch_removes_both() -> None:
    rec, adapter, obj = adopted("Delete")
    adapter.fail["create"] = RuntimeError("never called: legacy-2 exists")
    # the switch has not run yet when the object is deleted: the held resource is still legacy-1
    obj.annotations[EXTERNAL_NAME_ANNOTATION] = "legacy-2"
    result = finalize(rec, obj)
    assert result.done
    assert "legacy-1" not in adapter.cloud
    assert "legacy-2" in adapter.cloud  # never taken over (untagged): not ours to delete
    assert [e.reason for e in result.events] == ["Deleted", "NotOwned"]


# ------------------------------------------------------------------ half-made creates
def test_untagged_leftover_of_a_failed_create_is_deleted_with_the_object() -> None:
    class HalfCreate(FakeAdapter):
        def create(self, req: Any, obs: Any = None) -> None:  # resource made, then tagging refused
            self.calls.append("create")
            self.cloud[req.external_name] = {"tags": {}, "size": 1, "color": "blue"}
            raise RuntimeError("PutBucketTagging refused")

    adapter = HalfCreate()
    rec, _, cluster, _ = make(adapter)
    obj = Obj(spec={"size": 2})
    run(rec, obj)
    obj.status["pendingCreate"] = cluster.pending[-1]  # what mark_pending_create wrote before the call
    assert obj.cond("Ready")["status"] == "False"
    result = finalize(rec, obj)
    assert result.done and adapter.cloud == {}
    assert [e.reason for e in result.events] == ["Deleted"]


def test_untagged_resource_without_the_marker_is_never_deleted() -> None:
    adapter = FakeAdapter(cloud={"widget-ns-w": {"tags": {}, "size": 1, "color": "blue"}})
    rec, _, _, _ = make(adapter)
    obj = Obj(spec={"size": 2})
    result = finalize(rec, obj)
    assert result.done and "widget-ns-w" in adapter.cloud
    assert [e.reason for e in result.events] == ["NotOwned"]


# ------------------------------------------------------------------ region
def test_region_equal_to_the_default_is_not_a_change_and_another_is_refused() -> None:
    rec, adapter, _, _ = make()
    obj = Obj(spec={"size": 2})
    run(rec, obj)
    assert obj.status["resourceRegion"] == "us-east-1"
    obj.edit(region="us-east-1")  # writing the default explicitly
    run(rec, obj)
    assert obj.cond("Ready")["status"] == "True"
    writes = list(adapter.writes)
    obj.edit(region="eu-west-1")
    run(rec, obj)
    stalled = obj.cond("Stalled")
    assert stalled["status"] == "True" and "spec.region eu-west-1" in stalled["message"]
    assert "us-east-1" in stalled["message"] and adapter.writes == writes
    # deleting still removes what exists, where it is
    result = finalize(rec, obj)
    assert result.done and adapter.cloud == {}
