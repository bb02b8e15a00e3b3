"""core.parts against a recording fake cloud (moto cannot show slow deletes or pending states), and the
core-v2 promises of the reconciler: confirmed deletes, waits without blocking, undeclared status keys,
connections only to wireable kinds, progress metrics counted once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from controller import metrics
from controller.core.adapter import NodeRef, Reference
from controller.core.conditions import Cond
from controller.core.parts import Composite, Context, Seen, ordered
from controller.core.reconciler import Reconciler
from controller.errors import WaitingError

from .fakes import REF, Clock, FakeAdapter, FakeCluster, Obj, WidgetSpec, classify, make, test_settings
from .helpers import request


@dataclass
class Cloud:
    """name -> state ("pending", "available", "deleting"); log of every call in order."""

    items: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    slow_delete: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)


class FakePart:
    def __init__(self, cloud: Cloud, name: str, after: tuple[str, ...] = (), blocks: bool = True) -> None:
        self.cloud, self.name, self.after, self.blocks = cloud, name, after, blocks

    def wanted(self, ctx: Context[Any]) -> bool:
        return True

    def observe(self, ctx: Context[Any]) -> Seen[str]:
        self.cloud.log.append(f"observe {self.name}")
        state = self.cloud.items.get(self.name)
        if state is None:
            return Seen(exists=False)
        return Seen(
            exists=True,
            actual=state,
            owner_uid=ctx.req.ref.uid,
            deleting=state == "deleting",
            waiting=f"{self.name} is pending" if state == "pending" else None,
            waiting_blocks=self.blocks,
            identifiers={"externalName": "x"},
        )

    def ensure(self, ctx: Context[Any], seen: Seen[str]) -> Seen[str]:
        for dep in self.after:
            assert self.cloud.items.get(dep) in ("available", "pending"), f"{self.name} created before {dep}"
        if not seen.exists:
            self.cloud.log.append(f"create {self.name}")
            self.cloud.items[self.name] = "pending" if self.name in self.cloud.pending else "available"
        return self.observe(ctx)

    def delete(self, ctx: Context[Any], seen: Seen[str]) -> str | None:
        dependents = [p.name for p in PARTS.values() if self.name in p.after and p.name in self.cloud.items]
        assert not dependents, f"{self.name} deleted before {dependents}"
        self.cloud.log.append(f"delete {self.name}")
        if self.name in self.cloud.slow_delete:
            self.cloud.items[self.name] = "deleting"
        else:
            del self.cloud.items[self.name]
        return None


PARTS: dict[str, FakePart] = {}


class Network(Composite[WidgetSpec]):
    """vpc <- subnet <- nat <- route (a Virtual Network in miniature)."""

    def __init__(self, cloud: Cloud) -> None:
        parts = [
            FakePart(cloud, "route", ("nat",)),
            FakePart(cloud, "nat", ("subnet",)),
            FakePart(cloud, "subnet", ("vpc",)),
            FakePart(cloud, "vpc"),
        ]
        PARTS.clear()
        PARTS.update({p.name: p for p in parts})
        super().__init__(parts, primary="vpc")

    def external_name(self, ref: Any, spec: WidgetSpec) -> str:
        return "net"

    def references(self, spec: WidgetSpec) -> list[Reference]:
        return []

    def claims(self, spec: WidgetSpec) -> list[Any]:
        return []


def test_order_follows_dependencies_and_rejects_cycles() -> None:
    cloud = Cloud()
    assert [p.name for p in Network(cloud).parts] == ["vpc", "subnet", "nat", "route"]
    with pytest.raises(ValueError, match="cycle"):
        ordered([FakePart(cloud, "a", ("b",)), FakePart(cloud, "b", ("a",))])
    with pytest.raises(ValueError, match="unknown"):
        ordered([FakePart(cloud, "a", ("zzz",))])


def test_create_in_order_and_wait_on_a_pending_part_without_blocking() -> None:
    cloud = Cloud(pending={"nat"})
    net = Network(cloud)
    r = request(WidgetSpec, {}, adapter=net)
    with pytest.raises(WaitingError, match="nat is pending"):
        net.create(r, net.observe(r))
    assert [x for x in cloud.log if x.startswith("create")] == ["create vpc", "create subnet", "create nat"]
    assert "route" not in cloud.items  # waits for the NAT gateway: nothing created after it
    cloud.items["nat"] = "available"  # AWS finished
    net.update(r, net.observe(r))
    assert cloud.items == {"vpc": "available", "subnet": "available", "nat": "available", "route": "available"}


def test_a_missing_part_after_create_is_drift() -> None:
    cloud = Cloud()
    net = Network(cloud)
    r = request(WidgetSpec, {}, adapter=net)
    net.create(r)
    del cloud.items["route"]  # deleted out of band
    obs = net.observe(r)
    assert obs.exists and [d.field for d in obs.diffs] == ["route"]
    net.update(r, obs)
    assert "route" in cloud.items


def test_delete_in_reverse_order_each_part_confirmed_before_the_next() -> None:
    cloud = Cloud(slow_delete={"nat"})
    net = Network(cloud)
    r = request(WidgetSpec, {}, adapter=net)
    net.create(r)
    first = net.delete(r, net.observe(r))
    assert not first.done and "nat" in first.message
    assert set(cloud.items) == {"vpc", "subnet", "nat"}  # subnet and vpc untouched while the NAT is deleting
    second = net.delete(r, net.observe(r))
    assert not second.done and "waiting for the nat" in second.message
    assert [x for x in cloud.log if x.startswith("delete")] == ["delete route", "delete nat"]  # no second delete call
    del cloud.items["nat"]  # AWS finished deleting
    done = net.delete(r, net.observe(r))
    assert done.done and done.confirmed and cloud.items == {}
    assert [x for x in cloud.log if x.startswith("delete")] == ["delete route", "delete nat", "delete subnet", "delete vpc"]


# ------------------------------------------------------------------ reconciler promises
def test_finalizer_stays_until_observe_confirms_the_delete() -> None:
    """AWS accepts the delete (DeleteTable) but the resource is still there: not released yet."""
    rec, adapter, _, _ = make()
    obj = Obj(spec={})
    obj.status.update(rec.reconcile(obj.managed()).status)
    real_delete = adapter.delete

    def accepted_but_still_there(req: Any, obs: Any) -> Any:
        adapter.calls.append("delete")
        return type(adapter.delete_result)(done=True)

    adapter.delete = accepted_but_still_there  # type: ignore[method-assign]
    result = rec.finalize(obj.managed())
    assert not result.done and "waiting for AWS to confirm" in result.status["conditions"][0]["message"]
    adapter.delete = real_delete  # type: ignore[method-assign]
    assert rec.finalize(obj.managed()).done


def test_a_resource_in_its_deleting_state_is_waited_for_not_deleted_again() -> None:
    from controller.core.adapter import Observation

    rec, adapter, _, _ = make()
    obj = Obj(spec={})
    adapter.observe = lambda req: Observation(exists=True, owner_uid=REF.uid, deleting=True, waiting="table is DELETING")  # type: ignore[method-assign]
    result = rec.finalize(obj.managed())
    assert not result.done and "delete" not in adapter.calls


def test_undeclared_status_keys_are_dropped() -> None:
    rec = Reconciler(
        kind="Widget",
        spec_model=WidgetSpec,
        adapter=FakeAdapter(),
        cluster=FakeCluster(),
        settings=test_settings(),
        classify=classify,
        status_fields=frozenset({"externalName", "conditions"}),
        clock=Clock(),
    )
    status = rec.reconcile(Obj(spec={}).managed()).status
    assert status["externalName"] == "widget-ns-w" and "arn" not in status


def test_connecting_to_a_kind_without_wiring_is_stalled_with_its_name() -> None:
    class Wired(FakeAdapter):
        def references(self, spec: WidgetSpec) -> list[Reference]:
            return [NodeRef("StackeryCDN", "www", wire=True)]

    rec, adapter, _, _ = make(adapter=Wired())
    obj = Obj(spec={})
    status = rec.reconcile(obj.managed()).status
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and "StackeryCDN www cannot be connected to" in stalled["message"]
    assert adapter.writes == []


def test_progress_metric_counted_once_however_often_observed() -> None:
    """The certificate issue time is observed on the pass where CertificateIssued turns True, once."""
    from controller.core.adapter import Observation

    rec, adapter, _, clock = make()
    obj = Obj(spec={})
    obj.status.update(rec.reconcile(obj.managed()).status)
    since = clock.now.timestamp() - 120

    def with_cert(status: str) -> Any:
        def observe(req: Any) -> Any:
            adapter.calls.append("observe")
            return Observation(exists=True, owner_uid=REF.uid, conditions=(Cond("CertificateIssued", status, "x", since=since),))

        return observe

    metrics.CERTIFICATE_ISSUE_SECONDS.labels("Widget")

    def count() -> float:
        samples = metrics.CERTIFICATE_ISSUE_SECONDS.collect()[0].samples
        return next(s.value for s in samples if s.name.endswith("_count") and s.labels.get("kind") == "Widget")

    before = count()
    adapter.observe = with_cert("False")  # type: ignore[method-assign]
    obj.status.update(rec.reconcile(obj.managed()).status)
    adapter.observe = with_cert("True")  # type: ignore[method-assign]
    for _ in range(3):
        clock.advance(400)
        obj.status.update(rec.reconcile(obj.managed()).status)
    assert count() - before == 1
