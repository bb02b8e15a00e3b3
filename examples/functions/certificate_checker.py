"""Stackery's own Table-commands use case: a checker Function, run by a Timer every minute, selects the
pending certificate records of a StackeryTable and updates them (stackery-tables, clients/tables).

The table: partition key `domain`, sort key `issued` (N), and an index `by-status` (status, checked) so
pending records are read without a scan. A record: {domain, issued, status: pending|issued|failed,
checked, attempts, certificateArn}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackery_tables import ConditionFailed, Table

MAX_ATTEMPTS = 3


def check(table: Table, is_issued: Callable[[str], bool], now: int) -> dict[str, int]:
    """One round: every pending record is checked once; a record that stays pending for MAX_ATTEMPTS
    rounds is marked failed. Each update is conditional on the record still being pending, so two rounds
    running at once never undo each other."""
    out = {"checked": 0, "issued": 0, "failed": 0}
    for rec in table.select({"status": "pending"}, index="by-status"):
        key = {"domain": rec["domain"], "issued": rec["issued"]}
        out["checked"] += 1
        try:
            if is_issued(rec["domain"]):
                table.update(key, set={"status": "issued", "checked": now}, when={"status": "pending"})
                out["issued"] += 1
                continue
            new = table.update(key, set={"checked": now}, increment={"attempts": 1}, when={"status": "pending"})
            if new["attempts"] >= MAX_ATTEMPTS:
                table.update(key, set={"status": "failed"}, when={"status": "pending", "attempts": {">=": MAX_ATTEMPTS}})
                out["failed"] += 1
        except ConditionFailed:
            continue  # another round got there first
    return out


def handler(event: Any, context: Any) -> dict[str, int]:
    """Lambda entry point: TABLE_NAME comes from the function's connection to the StackeryTable."""
    import time

    import boto3

    acm = boto3.client("acm")
    table = Table()
    arns: dict[str, str] = {}

    def is_issued(domain: str) -> bool:
        arn = arns.get(domain) or table.get({"domain": domain, "issued": 0}).get("certificateArn", "")
        return bool(arn) and acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"

    return check(table, is_issued, int(time.time()))
