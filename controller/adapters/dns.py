"""The DNS records part: records a node wants in a Route 53 zone it was given, kept and removed with it.

Why: the CDN (certificate validation CNAMEs, then aliases to the distribution) and the Rest Api (custom
domain aliases) both write records; which records is kind-specific (a function of the pass), keeping them,
reporting their drift and deleting exactly what points at this node is not.

Read budget: one ListResourceRecordSets per observe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

from ..aws.clients import client
from ..core.adapter import SpecT
from ..core.parts import Context, Seen
from .common import compare


def upsert_records(zone: str, records: list[dict[str, str]], comment: str, alias_zone: str | None = None) -> None:
    """UPSERT records in a Route 53 zone: A/AAAA as aliases to `alias_zone` targets, others as plain records."""
    if not records:
        return
    changes = []
    for r in records:
        rrset: dict[str, Any] = {"Name": r["name"], "Type": r["type"]}
        if r["type"] in ("A", "AAAA"):
            rrset["AliasTarget"] = {"HostedZoneId": alias_zone, "DNSName": r["value"], "EvaluateTargetHealth": False}
        else:
            rrset.update(TTL=300, ResourceRecords=[{"Value": r["value"]}])
        changes.append({"Action": "UPSERT", "ResourceRecordSet": rrset})
    client("route53", "us-east-1").change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Comment": comment[:256], "Changes": changes}
    )


@dataclass(frozen=True)
class Records:
    wanted: list[dict[str, str]]
    present: list[dict[str, Any]]
    """The record sets as Route 53 holds them (needed verbatim to delete them)."""


class DnsRecordsPart(Generic[SpecT]):
    """Part "dnsRecords". `records(ctx)`: the records wanted now ({name, type, value}; A/AAAA become
    aliases into `alias_zone`, fixed or read from the pass, e.g. a regional API domain's zone); `zone(ctx)`: the hosted zone, None when the spec wants no records (then
    the zone recorded in status is still read, so records made before are removed)."""

    name = "dnsRecords"

    def __init__(
        self,
        records: Callable[[Context[SpecT]], list[dict[str, str]]],
        zone: Callable[[Context[SpecT]], str | None],
        *,
        after: tuple[str, ...],
        alias_zone: str | Callable[[Context[SpecT]], str],
    ) -> None:
        self.records, self.zone, self.after, self.alias_zone = records, zone, after, alias_zone

    def wanted(self, ctx: Context[SpecT]) -> bool:
        return self.zone(ctx) is not None

    def observe(self, ctx: Context[SpecT]) -> Seen[Records]:
        zone = self.zone(ctx) or ctx.req.status.get("hostedZoneId")
        if not zone:
            return Seen(exists=False)
        wanted = self.records(ctx)
        have = client("route53", "us-east-1").list_resource_record_sets(HostedZoneId=zone).get("ResourceRecordSets", [])
        index = {(rr["Name"].rstrip(".").lower(), rr["Type"]): rr for rr in have}
        shown, present = [], []
        for w in wanted:
            rr = index.get((w["name"].rstrip(".").lower(), w["type"]))
            if rr is None:
                continue
            value = (rr.get("AliasTarget") or {}).get("DNSName") or (rr.get("ResourceRecords") or [{}])[0].get("Value", "")
            same = value.rstrip(".").lower() == w["value"].rstrip(".").lower()
            shown.append({**w, "value": w["value"] if same else value})
            if same:
                present.append(rr)
        return Seen(
            exists=bool(present),
            actual=Records(wanted, present),
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(compare("dnsRecords", wanted, shown)),
            identifiers={"hostedZoneId": zone},
        )

    def ensure(self, ctx: Context[SpecT], seen: Seen[Records]) -> Seen[Records]:
        ref, zone = ctx.req.ref, self.zone(ctx)
        assert zone is not None
        # from this pass's context, not from observe's: what the records point at (a domain, a distribution)
        # may have been made by an earlier part in this very pass
        wanted = self.records(ctx)
        alias = self.alias_zone(ctx) if callable(self.alias_zone) else self.alias_zone
        upsert_records(zone, wanted, f"stackery {ref.namespace}/{ref.name}", alias_zone=alias)
        return Seen(exists=True, actual=Records(wanted, []), owner_uid=ref.uid, identifiers={"hostedZoneId": zone})

    def delete(self, ctx: Context[SpecT], seen: Seen[Records]) -> str | None:
        """Remove the records that point at this node (a dangling alias to a deleted distribution could be taken over)."""
        zone = seen.identifiers.get("hostedZoneId")
        if seen.actual and seen.actual.present and zone:
            client("route53", "us-east-1").change_resource_record_sets(
                HostedZoneId=zone,
                ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": rr} for rr in seen.actual.present]},
            )
        return None
