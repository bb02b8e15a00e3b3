"""Shared helpers for adapter tests: build requests, count AWS calls through the real instrumentation."""

from __future__ import annotations

from collections import Counter
from typing import Any

from controller import metrics
from controller.core.adapter import ObjectRef, Request

READ_PREFIXES = ("Get", "List", "Head", "Describe")


def request(
    spec_model: Any,
    spec: dict[str, Any],
    *,
    name: str = "data",
    uid: str = "uid-1",
    external: str | None = None,
    adapter: Any = None,
    inputs: dict[str, str] | None = None,
    adopt: bool = False,
    kind: str = "StackeryObjectStore",
) -> Request[Any]:
    ref = ObjectRef(kind=kind, namespace="team-a", name=name, uid=uid)
    parsed = spec_model.model_validate(spec)
    ext = external or adapter.external_name(ref, parsed)
    return Request(ref=ref, spec=parsed, region="us-east-1", external_name=ext, inputs=inputs or {}, adopt=adopt)


def api_calls() -> Counter[str]:
    """Operation -> count, from stackery_aws_api_calls_total (the same counter /metrics exports)."""
    out: Counter[str] = Counter()
    for metric in metrics.AWS_API_CALLS.collect():
        for s in metric.samples:
            if s.name.endswith("_total"):
                out[s.labels["operation"]] += int(s.value)
    return out


def delta(before: Counter[str], after: Counter[str]) -> Counter[str]:
    return Counter({k: after[k] - before[k] for k in after if after[k] - before[k]})


def writes(calls: Counter[str]) -> Counter[str]:
    return Counter({k: v for k, v in calls.items() if not k.startswith(READ_PREFIXES)})


def converge(adapter: Any, r: Request[Any], passes: int = 4) -> Any:
    """Drive an adapter as the reconciler does: create when missing, then update until no diffs."""
    if not adapter.observe(r).exists:
        adapter.create(r)
    for _ in range(passes):  # some changes go one per pass (e.g. DynamoDB index changes)
        obs = adapter.observe(r)
        if not obs.diffs:
            return obs
        adapter.update(r, obs)
    return adapter.observe(r)


def aws_name(namespace: str, name: str, *, prefix: str = "stackery", max_len: int = 63) -> str:
    """The operator's default AWS name of an object (controller.adapters.common.dns_name)."""
    from controller.adapters.common import dns_name

    return dns_name(prefix, ObjectRef("K", namespace, name, "uid"), max_len=max_len)


class Driven:
    """One object driven through its adapter pass after pass, carrying its status between passes as the
    reconciler does (for adapter tests of kinds that read their own earlier identifiers or other nodes)."""

    adapter: Any
    model: Any
    ref: ObjectRef
    passes = 4

    def __init__(self, spec: dict[str, Any], nodes: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.spec, self.nodes, self.status = spec, nodes, {}

    def req(self) -> Any:
        parsed = self.model.model_validate(self.spec)
        return Request(
            ref=self.ref,
            spec=parsed,
            region="us-east-1",
            external_name=self.adapter.external_name(self.ref, parsed),
            nodes=self.nodes,
            status=self.status,
        )

    def sync(self) -> Any:
        obs = converge(self.adapter, self.req(), passes=self.passes)
        self.status.update(obs.identifiers)
        return obs
