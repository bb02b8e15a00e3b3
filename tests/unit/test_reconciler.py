"""The generic reconciler against a fake adapter: every path of the state machine."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.core.adapter import DeleteResult
from controller.core.reconciler import EXTERNAL_NAME_ANNOTATION, Result
from controller.errors import BlockedError
from controller.policy import Policy

from .fakes import REF, FakeAdapter, Obj, make

OTHER_TAGS = {
    "stackery.io/uid": "someone-else",
    "stackery.io/name": "other",
    "stackery.io/namespace": "ns",
    "stackery.io/kind": "Widget",
}


def run(rec: Any, obj: Obj) -> Result:
    result = rec.reconcile(obj.managed())
    obj.status = {**obj.status, **result.status}
    return result


def client_error(code: str, status: int = 400, op: str = "PutThing") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} happened"}, "ResponseMetadata": {"HTTPStatusCode": status}}, op
    )


def test_create_then_ready() -> None:
    rec, adapter, cluster, _ = make()
    obj = Obj(spec={"size": 3, "outputs": {"configMapName": "out"}})
    result = run(rec, obj)
    assert adapter.writes == ["create", "update"]  # create, then the spec's settings
    assert adapter.cloud["widget-ns-w"]["size"] == 3
    assert obj.summary() == ("True", "True", "False", "False")
    assert obj.status["observedGeneration"] == 1
    assert obj.status["externalName"] == "widget-ns-w"
    assert cluster.outputs["out"] == {"WIDGET_NAME": "widget-ns-w"}
    assert [e.reason for e in result.events] == ["Available"]
    assert result.requeue_after is not None and 270 <= result.requeue_after <= 330  # resync with jitter


def test_in_sync_resync_makes_no_writes_and_no_events() -> None:
    rec, adapter, _, _ = make()
    obj = Obj(spec={"size": 3})
    run(rec, obj)
    adapter.calls.clear()
    result = run(rec, obj)
    assert adapter.writes == []
    assert result.events == []
    assert obj.summary() == ("True", "True", "False", "False")


def test_a_check_that_finds_nothing_new_is_quiet_until_the_heartbeat() -> None:
    """quiet: the scheduled-check path may leave the status unwritten (issue 15: a status write per check
    was half its CPU, in the operator's own echo of it)."""
    rec, _, _, clock = make()
    obj = Obj(spec={"size": 3})
    assert not run(rec, obj).quiet, "the first pass has everything to say"
    clock.advance(300)
    assert run(rec, obj).quiet
    clock.advance(300)
    quiet = rec.reconcile(obj.managed())  # not merged: the stored lastSyncTime stays 300 s old
    assert quiet.quiet and quiet.status["lastSyncTime"] != obj.status["lastSyncTime"]
    clock.advance(3600)  # the stored lastSyncTime is older than the heartbeat: written anyway
    assert not rec.reconcile(obj.managed()).quiet


def test_a_check_with_news_is_not_quiet() -> None:
    rec, adapter, _, clock = make()
    obj = Obj(spec={"size": 3, "driftPolicy": "Report"})
    run(rec, obj)
    adapter.cloud["widget-ns-w"]["size"] = 9  # drift: conditions and status.drift change, an Event
    clock.advance(300)
    drifted = run(rec, obj)
    assert not drifted.quiet and drifted.events
    clock.advance(300)
    assert run(rec, obj).quiet, "the same drift again: nothing new to say"
    adapter.cloud["widget-ns-w"]["size"] = 3
    clock.advance(300)
    assert not run(rec, obj).quiet, "drift gone: Synced turns True again"


def test_a_kind_that_tags_at_create_writes_no_pending_marker() -> None:
    rec, adapter, cluster, _ = make(FakeAdapter(tagged_at_create=True))
    run(rec, Obj(spec={"size": 3}))
    assert adapter.writes[0] == "create" and cluster.pending == []
    rec, adapter, cluster, _ = make()
    run(rec, Obj(spec={"size": 3}))
    assert cluster.pending == ["widget-ns-w"], "tags in a later call: the marker is written before the create"


def test_spec_change_is_applied_even_with_drift_policy_report() -> None:
    rec, adapter, _, _ = make()
    obj = Obj(spec={"size": 3, "driftPolicy": "Report"})
    run(rec, obj)
    obj.edit(size=5)
    run(rec, obj)
    assert adapter.cloud["widget-ns-w"]["size"] == 5
    assert obj.status["observedGeneration"] == 2
    assert obj.status["drift"] == []


@pytest.mark.parametrize(
    ("policy", "expect_size", "expect_summary", "expect_drift", "event"),
    [
        ("Correct", 3, ("True", "True", "False", "False"), [], "DriftCorrected"),
        ("Report", 9, ("True", "False", "False", "False"), [{"field": "size", "desired": "3", "actual": "9"}], "DriftDetected"),
    ],
)
def test_drift(
    policy: str, expect_size: int, expect_summary: tuple[str, ...], expect_drift: list[dict[str, str]], event: str
) -> None:
    rec, adapter, _, clock = make()
    obj = Obj(spec={"size": 3, "driftPolicy": policy})
    run(rec, obj)
    adapter.cloud["widget-ns-w"]["size"] = 9  # changed behind the operator's back
    clock.advance(400)
    result = run(rec, obj)
    assert adapter.cloud["widget-ns-w"]["size"] == expect_size
    assert obj.summary() == expect_summary
    assert [{k: d[k] for k in ("field", "desired", "actual")} for d in obj.status["drift"]] == expect_drift
    assert event in [e.reason for e in result.events]
    if policy == "Report":
        assert obj.cond("Synced")["reason"] == "DriftDetected"
        # reported again next time, but the Event is not repeated and detectedAt is kept
        first = obj.status["drift"][0]["detectedAt"]
        clock.advance(400)
        again = run(rec, obj)
        assert again.events == []
        assert obj.status["drift"][0]["detectedAt"] == first


def test_observe_only_never_writes() -> None:
    rec, adapter, _, _ = make()
    obj = Obj(spec={"managementPolicy": "ObserveOnly", "size": 3})
    run(rec, obj)
    assert adapter.writes == []
    assert obj.cond("Ready")["reason"] == "NotFound"
    # an existing (even untagged) resource is observed and its drift reported, never changed
    adapter.cloud["widget-ns-w"] = {"tags": {}, "size": 7, "color": "blue"}
    obj.edit(size=3)
    run(rec, obj)
    assert adapter.writes == []
    assert obj.summary() == ("True", "False", "False", "False")
    assert {d["field"] for d in obj.status["drift"]} == {"size", "tags"}


def test_invalid_spec_is_stalled_without_aws_calls() -> None:
    rec, adapter, _, _ = make()
    obj = Obj(spec={"size": 99})
    result = run(rec, obj)
    assert adapter.calls == []
    assert obj.summary() == ("False", "False", "False", "True")
    assert "spec.size" in obj.cond("Stalled")["message"]
    assert result.events[0].type == "Warning"


@pytest.mark.parametrize(
    ("exc", "stalled", "reason"),
    [
        (client_error("AccessDenied", 403), True, "AccessDenied"),
        (client_error("LimitExceededException"), True, "LimitExceeded"),
        (client_error("InvalidParameterValue"), True, "AWSRejected"),
        (client_error("ThrottlingException"), False, "Throttled"),
        (client_error("InternalError", 500), False, "AWSUnavailable"),
        (ConnectionResetError("reset"), False, "AWSUnavailable"),
    ],
)
def test_error_classification(exc: BaseException, stalled: bool, reason: str) -> None:
    rec, adapter, _, _ = make(FakeAdapter(fail={"create": exc}))
    obj = Obj(spec={"size": 3})
    result = run(rec, obj)
    assert obj.cond("Synced")["reason"] == reason
    if stalled:
        assert obj.summary() == ("False", "False", "False", "True")
        assert reason in obj.cond("Stalled")["reason"]
        assert result.requeue_after == 300  # no hot loop: re-checked at the resync interval
        assert obj.status.get("failures") is None
    else:
        assert obj.summary() == ("False", "False", "True", "False")
        assert result.requeue_after == 2
        second = run(rec, obj)
        assert second.requeue_after == 4  # exponential backoff
        assert obj.status["failures"] == 2


def test_backoff_is_capped() -> None:
    rec, _, _, _ = make(FakeAdapter(fail={"create": client_error("ThrottlingException")}))
    obj = Obj()
    delays = [run(rec, obj).requeue_after for _ in range(12)]
    assert delays[-1] == 300
    assert delays == sorted(delays)


def test_retry_message_says_why_which_attempt_and_when() -> None:
    rec, _, _, _ = make(FakeAdapter(fail={"create": client_error("ThrottlingException")}))
    obj = Obj()
    run(rec, obj)
    run(rec, obj)
    msg = obj.cond("Synced")["message"]
    assert "ThrottlingException" in msg and "attempt 2; retrying in 4s, at 00:00:04Z" in msg, msg


def test_backoff_jitter_spreads_objects_that_failed_together() -> None:
    from dataclasses import replace

    from controller.core.status import StatusWriter

    from .fakes import Clock, test_settings

    writer = StatusWriter(kind="Widget", settings=replace(test_settings(), backoff_jitter=0.2), status_fields=None, clock=Clock())
    delays = {writer.backoff(5, f"uid-{i}") for i in range(50)}
    assert len(delays) > 40 and min(delays) >= 32 * 0.8 and max(delays) <= 32 * 1.2
    assert writer.backoff(5, "uid-1") == writer.backoff(5, "uid-1")  # deterministic per object and attempt


def test_failures_start_again_after_a_spec_change_and_for_a_delete() -> None:
    """A long create backoff is not inherited by the fix the user pushes, nor by a delete."""
    adapter = FakeAdapter(fail={"create": client_error("ThrottlingException")})
    rec, _, _, _ = make(adapter)
    obj = Obj(spec={"size": 3})
    for _ in range(8):
        last = run(rec, obj)
    assert obj.status["failures"] == 8 and last.requeue_after == 256
    obj.edit(size=4)
    assert run(rec, obj).requeue_after == 2 and obj.status["failures"] == 1
    for _ in range(6):
        run(rec, obj)
    adapter.fail = {"observe": client_error("ThrottlingException")}
    result = rec.finalize(obj.managed())
    assert not result.done and result.requeue_after == 2  # the delete's first retry is short
    assert result.status["failures"] == 1 and result.status["failureContext"] == "delete/2"


def test_ready_stays_true_on_transient_error_after_ready() -> None:
    rec, adapter, _, clock = make()
    obj = Obj(spec={"size": 3})
    run(rec, obj)
    adapter.fail["observe"] = client_error("ServiceUnavailable", 503)
    clock.advance(400)
    run(rec, obj)
    assert obj.summary() == ("True", "False", "True", "False")


@pytest.mark.parametrize("annotate", [False, True])
def test_ownership(annotate: bool) -> None:
    rec, adapter, _, _ = make()
    adapter.cloud["widget-ns-w"] = {"tags": dict(OTHER_TAGS), "size": 1, "color": "blue"}
    obj = Obj(spec={"size": 3}, annotations={EXTERNAL_NAME_ANNOTATION: "widget-ns-w"} if annotate else {})
    run(rec, obj)
    assert adapter.writes == []
    assert obj.summary() == ("False", "False", "False", "True")
    assert obj.cond("Stalled")["reason"] == "OwnershipConflict"
    assert "someone-else" in obj.cond("Stalled")["message"]


def test_untagged_resource_needs_explicit_adoption() -> None:
    rec, adapter, _, _ = make()
    adapter.cloud["legacy"] = {"tags": {"team": "x"}, "size": 1, "color": "blue"}
    obj = Obj(spec={"size": 3}, annotations={})
    obj.ref = REF
    # not named: the deterministic name is free, so a new one is created; the legacy one untouched
    run(rec, obj)
    assert adapter.cloud["legacy"]["size"] == 1
    # a resource squatting on the deterministic name without tags is refused ...
    adapter2 = FakeAdapter(cloud={"widget-ns-w": {"tags": {}, "size": 1, "color": "blue"}})
    # adopting an untagged resource needs the operator's policy to allow it for the namespace
    rec2, _, _, _ = make(adapter2, policy=Policy(namespaces={"ns": {"adopt": ["widget-*"]}}))
    obj2 = Obj(spec={"size": 3})
    run(rec2, obj2)
    assert adapter2.writes == []
    assert EXTERNAL_NAME_ANNOTATION in obj2.cond("Stalled")["message"]
    # ... until the user adopts it explicitly; then it is tagged and updated
    obj2.annotations[EXTERNAL_NAME_ANNOTATION] = "widget-ns-w"
    obj2.generation += 1
    run(rec2, obj2)
    assert adapter2.cloud["widget-ns-w"]["tags"]["stackery.io/uid"] == "uid-1"
    assert adapter2.cloud["widget-ns-w"]["size"] == 3
    assert obj2.summary()[0] == "True"


def test_crash_between_create_and_status_write_does_not_duplicate() -> None:
    rec, adapter, _, _ = make()
    obj = Obj(spec={"size": 3})
    rec.reconcile(obj.managed())  # AWS was written, but the status patch is lost (crash)
    assert obj.status == {}
    adapter.calls.clear()
    run(rec, obj)  # restart: same empty status
    assert "create" not in adapter.calls
    assert list(adapter.cloud) == ["widget-ns-w"]
    assert obj.summary()[0] == "True"


def test_waiting_for_secret_reference_then_proceeds() -> None:
    rec, adapter, cluster, _ = make()
    obj = Obj(spec={"secret": "db"})
    result = run(rec, obj)
    assert adapter.calls == []
    assert obj.cond("Ready")["reason"] == "WaitingForReference"
    assert obj.summary() == ("False", "False", "True", "False")
    assert result.requeue_after == 10
    cluster.secrets[("ns", "db", "key")] = "s3cr3t"
    run(rec, obj)
    assert obj.summary()[0] == "True"


def test_is_due() -> None:
    rec, _, _, clock = make()
    obj = Obj(spec={"size": 3})
    assert rec.is_due(obj.managed())
    run(rec, obj)
    assert not rec.is_due(obj.managed())
    clock.advance(331)
    assert rec.is_due(obj.managed())
    clock.advance(-331)
    obj.edit(size=4)
    assert rec.is_due(obj.managed())


def test_condition_transition_time_moves_only_on_status_change() -> None:
    rec, adapter, _, clock = make()
    obj = Obj(spec={"size": 3})
    run(rec, obj)
    t0 = obj.cond("Ready")["lastTransitionTime"]
    clock.advance(400)
    run(rec, obj)
    assert obj.cond("Ready")["lastTransitionTime"] == t0
    adapter.fail["observe"] = client_error("AccessDenied", 403)
    clock.advance(400)
    run(rec, obj)
    assert obj.cond("Ready")["lastTransitionTime"] != t0


# ------------------------------------------------------------------ finalize
def test_finalize_deletes() -> None:
    rec, adapter, cluster, _ = make()
    obj = Obj(spec={"size": 3, "outputs": {"configMapName": "out"}})
    run(rec, obj)
    result = rec.finalize(obj.managed())
    assert result.done
    assert adapter.cloud == {}
    assert "out" not in cluster.outputs


def test_finalize_retain_keeps_resource() -> None:
    rec, adapter, _, _ = make()
    obj = Obj(spec={"size": 3, "deletionPolicy": "Retain"})
    run(rec, obj)
    result = rec.finalize(obj.managed())
    assert result.done and "delete" not in adapter.calls
    assert "widget-ns-w" in adapter.cloud
    assert result.events[0].reason == "Retained"


def test_finalize_never_deletes_what_it_does_not_own() -> None:
    rec, adapter, _, _ = make()
    adapter.cloud["widget-ns-w"] = {"tags": dict(OTHER_TAGS), "size": 1, "color": "blue"}
    result = rec.finalize(Obj(spec={}).managed())
    assert result.done and "delete" not in adapter.calls
    assert result.events[0].reason == "NotOwned"


def test_finalize_blocked_keeps_finalizer_and_says_why() -> None:
    rec, adapter, _, _ = make()
    obj = Obj(spec={"size": 3})
    run(rec, obj)
    adapter.fail["delete"] = BlockedError("bucket is not empty; set forceDelete", reason="BucketNotEmpty")
    result = rec.finalize(obj.managed())
    assert not result.done
    assert "widget-ns-w" in adapter.cloud
    stalled = next(c for c in result.status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "BucketNotEmpty"
    assert result.requeue_after == 60


def test_finalize_in_progress_and_transient_error_retry() -> None:
    rec, adapter, _, _ = make(FakeAdapter(delete_result=DeleteResult(done=False, message="disabling")))
    obj = Obj(spec={"size": 3})
    run(rec, obj)
    result = rec.finalize(obj.managed())
    assert not result.done and result.requeue_after == 10
    adapter.fail["delete"] = client_error("ThrottlingException")
    result = rec.finalize(obj.managed())
    assert not result.done and result.requeue_after == 2


def test_finalize_does_not_need_secret_values() -> None:
    rec, adapter, cluster, _ = make()
    cluster.secrets[("ns", "db", "key")] = "v"
    obj = Obj(spec={"secret": "db"})
    run(rec, obj)
    cluster.secrets.clear()  # the Secret was deleted first (kubectl delete -f dir/)
    assert rec.finalize(obj.managed()).done
    assert adapter.cloud == {}


def test_waits_for_referenced_node_until_ready() -> None:
    rec, adapter, cluster, _ = make()
    obj = Obj(spec={"needs": ["g1"]})
    run(rec, obj)
    assert adapter.calls == []
    assert "Gadget g1 (not found)" in obj.cond("Ready")["message"]
    gadget: dict[str, Any] = {
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    cluster.nodes[("Gadget", "g1")] = gadget
    run(rec, obj)
    assert "Gadget g1 (not Ready)" in obj.cond("Ready")["message"]  # status is for an older generation
    gadget["status"]["observedGeneration"] = 2
    run(rec, obj)
    assert obj.summary()[0] == "True"


def test_node_specific_conditions_and_waiting_create_keep_progress() -> None:
    from controller.core.adapter import Observation
    from controller.core.conditions import Cond
    from controller.errors import WaitingError

    class CertAdapter(FakeAdapter):
        def observe(self, req: Any) -> Observation:
            base = super().observe(req)
            cond = Cond("CertificateIssued", "False", "PendingValidation", "create CNAME _a.example.com -> _b.acm")
            return Observation(**{**base.__dict__, "conditions": (cond,), "identifiers": {"certificateArn": "arn:cert"}})

        def create(self, req: Any, obs: Any = None) -> None:
            self.calls.append("create")
            raise WaitingError("certificate waits for validation", reason="PendingValidation")

    rec, adapter, _, _ = make(CertAdapter())
    obj = Obj()
    result = run(rec, obj)
    assert obj.cond("CertificateIssued")["reason"] == "PendingValidation"
    assert obj.cond("Ready")["reason"] == "PendingValidation" and obj.summary()[2] == "True"
    assert obj.status["certificateArn"] == "arn:cert"  # progress recorded even before the main resource exists
    assert {e.reason for e in result.events} == {"PendingValidation"}
    assert len(result.events) == 2  # Ready transition + CertificateIssued transition
    again = run(rec, obj)
    assert again.events == []


def test_unset_deletion_policy_follows_the_operator_default() -> None:
    import dataclasses

    rec, adapter, _, _ = make()
    rec.settings = dataclasses.replace(rec.settings, default_deletion_policy="Retain")
    obj = Obj(spec={"size": 3})
    run(rec, obj)
    result = rec.finalize(obj.managed())
    assert result.done and "widget-ns-w" in adapter.cloud and "deletionPolicy Retain" in result.events[0].message
    # an explicit Delete wins over the default
    obj.spec["deletionPolicy"] = "Delete"
    assert rec.finalize(obj.managed()).done and adapter.cloud == {}


def test_crash_between_create_and_tagging_is_recovered_by_the_pending_marker() -> None:
    class Untagged(FakeAdapter):
        def create(self, req: Any, obs: Any = None) -> None:  # the resource appears, then the process dies before tagging
            self.calls.append("create")
            self.cloud[req.external_name] = {"tags": {}, "size": 1, "color": "blue"}
            raise KeyboardInterrupt

    rec, adapter, cluster, _ = make(Untagged())
    obj = Obj(spec={"size": 3})
    with pytest.raises(KeyboardInterrupt):
        rec.reconcile(obj.managed())
    assert cluster.pending == ["widget-ns-w"]
    obj.status["pendingCreate"] = "widget-ns-w"  # what the marker wrote to the apiserver
    run(rec, obj)  # restart
    assert adapter.calls.count("create") == 1
    assert adapter.cloud["widget-ns-w"]["tags"]["stackery.io/uid"] == "uid-1"
    assert obj.summary()[0] == "True" and obj.status["pendingCreate"] is None
    # without the marker the same untagged resource would be refused, never silently taken
    rec2, adapter2, _, _ = make(FakeAdapter(cloud={"widget-ns-w": {"tags": {}, "size": 1, "color": "blue"}}))
    obj2 = Obj(spec={"size": 3})
    run(rec2, obj2)
    assert obj2.cond("Stalled")["reason"] == "OwnershipConflict"


def test_failed_create_keeps_the_pending_marker() -> None:
    class HalfCreate(FakeAdapter):
        def create(self, req: Any, obs: Any = None) -> None:  # bucket made, tagging throttled
            self.calls.append("create")
            self.cloud[req.external_name] = {"tags": {}, "size": 1, "color": "blue"}
            raise client_error("ThrottlingException")

    rec, adapter, cluster, _ = make(HalfCreate())
    obj = Obj(spec={"size": 3})
    obj.status["pendingCreate"] = "widget-ns-w"  # written by mark_pending_create before the create
    run(rec, obj)
    assert obj.status["pendingCreate"] == "widget-ns-w" and obj.summary()[2] == "True"  # retrying
    run(rec, obj)  # next pass: untagged resource recognised as ours, tagged and configured
    assert adapter.calls.count("create") == 1
    assert adapter.cloud["widget-ns-w"]["tags"]["stackery.io/uid"] == "uid-1"
    assert obj.summary()[0] == "True" and obj.status["pendingCreate"] is None


def test_in_use_object_is_not_deleted_and_names_its_users() -> None:
    """A kind that protects itself while used (a Virtual Network with Functions in it): the finalizer
    stays, Stalled/InUse names the users, no AWS delete; once they are gone the delete proceeds."""
    rec, adapter, cluster, _ = make()
    rec.protect_in_use = True
    obj = Obj(spec={"size": 2})
    run(rec, obj)
    cluster.users = ["StackeryFunction api", "StackeryFunction worker"]
    result = rec.finalize(obj.managed())
    assert not result.done and "delete" not in adapter.calls
    obj.status = {**obj.status, **result.status}
    stalled = obj.cond("Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "InUse"
    assert "StackeryFunction api, StackeryFunction worker" in stalled["message"]
    cluster.users = []
    assert rec.finalize(obj.managed()).done and adapter.cloud == {}


def test_status_values_drop_nested_nulls_but_keep_top_level_deletes() -> None:
    """The apiserver prunes nulls inside status values; a patch keeping them would differ from what is
    stored on every pass (kopf logged 'Merge-patching finished with inconsistencies' each time)."""
    from controller.core.status import _compact

    zones = [{"zoneId": "use1-az1", "natGatewayId": None, "nested": {"a": None, "b": [1, None]}}]
    assert _compact(zones) == [{"zoneId": "use1-az1", "nested": {"b": [1, None]}}]
    assert _compact(None) is None  # a top-level None removes the key in a merge patch
