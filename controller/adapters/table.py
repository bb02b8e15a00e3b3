"""Table adapter: a DynamoDB table with its stream, TTL, point-in-time recovery, global secondary
indexes, deletion protection and Application Auto Scaling (targets + target-tracking policies for the
table and each index).

Read budget of one drift check (observe): DescribeTable, ListTagsOfResource, DescribeTimeToLive,
DescribeContinuousBackups, DescribeScalableTargets, plus one DescribeScalingPolicies per scalable
resource (table and each index) when autoscaling is on: 5 calls, or 6 + indexes with autoscaling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api.table import TableSpec
from ..aws.clients import client, error_code, or_none
from ..core.adapter import NOT_FOUND, DeleteResult, Diff, ObjectRef, Observation, Reference, Request
from ..core.wiring import Access, GrantContext, Statement, Wiring
from ..errors import BlockedError, InvalidSpecError, WaitingError
from ..policy import Claim, ClaimKind
from .common import compare, dns_name, foreign, owner_of, tag_dict, tag_list
from .dynamodb import (
    DIMENSIONS,
    METRIC,
    attribute_definitions,
    index_create,
    index_definition,
    key_schema,
    policy_name,
    scaling_policies,
    scaling_targets,
    throughput,
)

Req = Request[TableSpec]
READ_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Scan",
    "dynamodb:Query",
    "dynamodb:DescribeTable",
    "dynamodb:ConditionCheckItem",
]
WRITE_ACTIONS = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]


@dataclass(frozen=True)
class Table:
    """What observe read that update/delete need again."""

    table: dict[str, Any]
    """DescribeTable's (or the last CreateTable/UpdateTable's) table description."""
    tags: dict[str, str]
    ttl: str | None
    targets: dict[str, list[int]]
    policies: dict[str, float]
    pitr: bool = False


def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    arn = str(status["arn"])
    actions = READ_ACTIONS if access == "ReadOnly" else READ_ACTIONS + WRITE_ACTIONS
    return [{"Action": actions, "Resource": [arn, f"{arn}/index/*"]}]


WIRING = Wiring(env=(("TABLE_NAME", "externalName"), ("TABLE_ARN", "arn")), grants=grants)


def judge(req: Req, state: Table) -> Observation[Table]:
    """The observation of a table in this state (pure: observe's reads and the writes' answers both end here)."""
    spec, name, t, tags = req.spec, req.external_name, state.table, state.tags
    arn = t["TableArn"]
    uid, owner = owner_of(tags)
    if t.get("TableStatus") == "DELETING":  # DeleteTable is asynchronous: gone only when DescribeTable says so
        return Observation(
            exists=True,
            owner_uid=uid,
            owner=owner,
            deleting=True,
            waiting=f"table {name} is DELETING",
            waiting_reason="Deleting",
        )
    if t.get("KeySchema") != key_schema(spec.hash_key, spec.range_key):
        raise InvalidSpecError(
            f"table {name} has keys {t.get('KeySchema')}, the spec asks for {key_schema(spec.hash_key, spec.range_key)}; "
            "DynamoDB keys cannot change: match the spec to the table, or use another tableName"
        )
    billing = t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    stream = t.get("StreamSpecification") or {"StreamEnabled": False}
    want_stream = {"enabled": spec.stream.enabled, "viewType": spec.stream.view_type if spec.stream.enabled else None}
    have_stream = {
        "enabled": bool(stream.get("StreamEnabled")),
        "viewType": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
    }
    want_gsi = {g.name: index_definition(g) for g in spec.global_secondary_indexes}
    have_gsi = {
        g["IndexName"]: {"KeySchema": g["KeySchema"], "Projection": {"ProjectionType": g["Projection"]["ProjectionType"]}}
        for g in t.get("GlobalSecondaryIndexes", [])
    }
    diffs: list[Diff] = [
        *compare("tags", req.tags(), tags),
        *compare("billingMode", spec.billing_mode, billing),
        *compare("stream", want_stream, have_stream),
        *compare("ttlAttribute", spec.ttl_attribute, state.ttl),
        *compare("pointInTimeRecovery", spec.point_in_time_recovery, state.pitr),
        *compare("deletionProtection", spec.deletion_protection, bool(t.get("DeletionProtectionEnabled"))),
        *compare("globalSecondaryIndexes", want_gsi, have_gsi),
        *compare("autoscaling", scaling_targets(spec, name), state.targets),
        *compare("autoscalingTarget", scaling_policies(spec, name), state.policies),
    ]
    if spec.billing_mode == "PROVISIONED" and spec.autoscaling is None and billing == "PROVISIONED":
        have_tp = {k: t["ProvisionedThroughput"][k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
        diffs += compare("capacity", throughput(spec), have_tp)
    outputs = {"TABLE_NAME": name, "TABLE_ARN": arn}
    if t.get("LatestStreamArn") and have_stream["enabled"]:
        outputs["TABLE_STREAM_ARN"] = t["LatestStreamArn"]
    status = t.get("TableStatus", "ACTIVE")
    return Observation(
        exists=True,
        owner_uid=uid,
        owner=owner,
        diffs=tuple(diffs),
        identifiers={
            "arn": arn,
            "externalName": name,
            "region": req.region,
            "tableStatus": status,
            "streamArn": outputs.get("TABLE_STREAM_ARN"),
        },
        outputs=outputs,
        actual=state,
        waiting=None if status == "ACTIVE" else f"table is {status}",
        waiting_reason="TableUpdating",
    )


# ------------------------------------------------------------------ adapter
class TableAdapter:
    name_scope: ClaimKind | None = None
    tagged_at_create: bool = True

    def external_name(self, ref: ObjectRef, spec: TableSpec) -> str:
        return spec.table_name or dns_name("stackery", ref, max_len=255)

    def references(self, spec: TableSpec) -> list[Reference]:
        return []

    def claims(self, spec: TableSpec) -> list[Claim]:
        return []  # tableName: a new name, or a table tagged as this object's (ownership tags)

    def observe(self, req: Req) -> Observation[Table]:
        ddb = client("dynamodb", req.region)
        name = req.external_name
        found = or_none(lambda: ddb.describe_table(TableName=name), "ResourceNotFoundException")
        if found is None:
            return NOT_FOUND
        t = found["Table"]
        tags = tag_dict(ddb.list_tags_of_resource(ResourceArn=t["TableArn"]).get("Tags"))
        other = foreign(req, tags)
        if other is not None:
            return other
        if t.get("TableStatus") == "DELETING" or t.get("KeySchema") != key_schema(req.spec.hash_key, req.spec.range_key):
            return judge(req, Table(t, tags, None, {}, {}))  # nothing more worth reading
        ttl = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        ttl_attr = ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None
        pitr = (
            ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            .get("PointInTimeRecoveryDescription", {})
            .get("PointInTimeRecoveryStatus")
            == "ENABLED"
        )
        targets, policies = self._scaling(req, t)
        return judge(req, Table(t, tags, ttl_attr, targets, policies, pitr))

    def _scaling(self, req: Req, t: dict[str, Any]) -> tuple[dict[str, list[int]], dict[str, float]]:
        aas = client("application-autoscaling", req.region)
        name = req.external_name
        index_names = {g["IndexName"] for g in t.get("GlobalSecondaryIndexes", [])} | {
            g.name for g in req.spec.global_secondary_indexes
        }
        rids = [f"table/{name}"] + [f"table/{name}/index/{i}" for i in sorted(index_names)]
        found = aas.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=rids).get("ScalableTargets", [])
        targets = {f"{x['ResourceId']}|{x['ScalableDimension']}": [x["MinCapacity"], x["MaxCapacity"]] for x in found}
        policies: dict[str, float] = {}
        for rid in sorted({x["ResourceId"] for x in found}):
            for p in aas.describe_scaling_policies(ServiceNamespace="dynamodb", ResourceId=rid).get("ScalingPolicies", []):
                cfg = p.get("TargetTrackingScalingPolicyConfiguration") or {}
                if p.get("PolicyName") == policy_name(p["ScalableDimension"]) and p.get("ResourceId") == rid:
                    policies[f"{rid}|{p['ScalableDimension']}"] = float(cfg.get("TargetValue", 0))
        return targets, policies

    def create(self, req: Req, obs: Observation[Table] | None = None) -> Observation[Table] | None:
        ddb = client("dynamodb", req.region)
        spec = req.spec
        kwargs: dict[str, Any] = {
            "TableName": req.external_name,
            "KeySchema": key_schema(spec.hash_key, spec.range_key),
            "AttributeDefinitions": attribute_definitions(spec),
            "BillingMode": spec.billing_mode,
            "Tags": tag_list(req.tags()),
            "DeletionProtectionEnabled": spec.deletion_protection,
        }
        tp = throughput(spec)
        if tp is not None:
            kwargs["ProvisionedThroughput"] = tp
        if spec.stream.enabled:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream.view_type}
        if spec.global_secondary_indexes:
            kwargs["GlobalSecondaryIndexes"] = [index_create(g, spec) for g in spec.global_secondary_indexes]
        try:
            made = ddb.create_table(**kwargs)["TableDescription"]
        except Exception as exc:
            if error_code(exc) != "ResourceInUseException":  # already there (a retried create): observe decides
                raise
            return None
        # CreateTable's answer is the table as it stands (CREATING on AWS): TTL, backups and scaling are not set
        # yet, so they are differences update applies (once ACTIVE); nothing is read back.
        return judge(req, Table(made, req.tags(), None, {}, {}))

    def update(self, req: Req, obs: Observation[Table]) -> Observation[Table]:
        assert obs.actual is not None
        actual = obs.actual
        if actual.table.get("TableStatus", "ACTIVE") != "ACTIVE":
            raise WaitingError(f"table {req.external_name} is {actual.table['TableStatus']}", reason="TableUpdating")
        ddb = client("dynamodb", req.region)
        name, spec, t = req.external_name, req.spec, actual.table
        changed = {d.field for d in obs.diffs}
        if "tags" in changed:
            ddb.tag_resource(ResourceArn=t["TableArn"], Tags=tag_list(req.tags()))
            extra = sorted(set(actual.tags) - set(req.tags()))
            if extra:
                ddb.untag_resource(ResourceArn=t["TableArn"], TagKeys=extra)
        if "billingMode" in changed or "capacity" in changed:
            kw: dict[str, Any] = {"TableName": name, "BillingMode": spec.billing_mode}
            tp = throughput(spec)
            if tp is not None:
                kw["ProvisionedThroughput"] = tp
                live = [g["IndexName"] for g in t.get("GlobalSecondaryIndexes", [])]
                if live and "billingMode" in changed:
                    kw["GlobalSecondaryIndexUpdates"] = [{"Update": {"IndexName": i, "ProvisionedThroughput": tp}} for i in live]
            t = ddb.update_table(**kw)["TableDescription"]
        if "stream" in changed:
            have = t.get("StreamSpecification") or {}
            if have.get("StreamEnabled"):  # a view type change needs the stream off first
                t = ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})["TableDescription"]
            if spec.stream.enabled:
                t = ddb.update_table(
                    TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": spec.stream.view_type}
                )["TableDescription"]
        if "deletionProtection" in changed:
            t = ddb.update_table(TableName=name, DeletionProtectionEnabled=spec.deletion_protection)["TableDescription"]
        if "globalSecondaryIndexes" in changed:
            t = self._indexes(req, t)
        if "ttlAttribute" in changed:
            old = actual.ttl
            if old is not None:
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"AttributeName": old, "Enabled": False})
            if spec.ttl_attribute is not None:
                ddb.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"AttributeName": spec.ttl_attribute, "Enabled": True}
                )
        if "pointInTimeRecovery" in changed:
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": spec.point_in_time_recovery}
            )
        if "autoscaling" in changed or "autoscalingTarget" in changed:
            self._apply_scaling(req, actual.targets, actual.policies)
        # what every write answered (UpdateTable: the table description) or set: no read-back
        return judge(
            req,
            Table(
                t,
                req.tags() if "tags" in changed else actual.tags,
                spec.ttl_attribute if "ttlAttribute" in changed else actual.ttl,
                scaling_targets(spec, name) if "autoscaling" in changed else actual.targets,
                scaling_policies(spec, name) if {"autoscaling", "autoscalingTarget"} & changed else actual.policies,
                spec.point_in_time_recovery if "pointInTimeRecovery" in changed else actual.pitr,
            ),
        )

    def _indexes(self, req: Req, t: dict[str, Any]) -> dict[str, Any]:
        """One index change per UpdateTable call (a DynamoDB rule); the rest follow on later passes. Returns the
        table description UpdateTable answered."""
        ddb = client("dynamodb", req.region)
        want = {g.name: g for g in req.spec.global_secondary_indexes}
        have = {g["IndexName"]: g for g in t.get("GlobalSecondaryIndexes", [])}
        for name, g in have.items():
            definition = {"KeySchema": g["KeySchema"], "Projection": {"ProjectionType": g["Projection"]["ProjectionType"]}}
            if name not in want or definition != index_definition(want[name]):
                self._drop_scaling(req, f"table/{req.external_name}/index/{name}")
                got = ddb.update_table(TableName=req.external_name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": name}}])
                return dict(got["TableDescription"])
        for name, g in want.items():
            if name not in have:
                got = ddb.update_table(
                    TableName=req.external_name,
                    AttributeDefinitions=attribute_definitions(req.spec),
                    GlobalSecondaryIndexUpdates=[{"Create": index_create(g, req.spec)}],
                )
                return dict(got["TableDescription"])
        return t

    def _apply_scaling(self, req: Req, targets: dict[str, list[int]], policies: dict[str, float]) -> None:
        aas = client("application-autoscaling", req.region)
        want = scaling_targets(req.spec, req.external_name)
        want_pol = scaling_policies(req.spec, req.external_name)
        for key, (lo, hi) in want.items():
            rid, dim = key.split("|")
            if targets.get(key) != [lo, hi]:
                aas.register_scalable_target(
                    ServiceNamespace="dynamodb", ResourceId=rid, ScalableDimension=dim, MinCapacity=lo, MaxCapacity=hi
                )
            if policies.get(key) != want_pol[key]:
                aas.put_scaling_policy(
                    PolicyName=policy_name(dim),
                    ServiceNamespace="dynamodb",
                    ResourceId=rid,
                    ScalableDimension=dim,
                    PolicyType="TargetTrackingScaling",
                    TargetTrackingScalingPolicyConfiguration={
                        "TargetValue": want_pol[key],
                        "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC["read" if "Read" in dim else "write"]},
                    },
                )
        for key in sorted(set(targets) - set(want)):
            rid, dim = key.split("|")
            self._drop_target(rid, dim, req.region, has_policy=key in policies)

    def _drop_target(self, rid: str, dim: str, region: str, *, has_policy: bool) -> None:
        aas = client("application-autoscaling", region)
        if has_policy:  # moto (unlike AWS) keeps policies after deregistering: delete them explicitly
            try:
                aas.delete_scaling_policy(
                    PolicyName=policy_name(dim), ServiceNamespace="dynamodb", ResourceId=rid, ScalableDimension=dim
                )
            except Exception as exc:  # AWS says ObjectNotFoundException, moto ValidationException
                if error_code(exc) not in ("ObjectNotFoundException", "ValidationException"):
                    raise
        try:
            aas.deregister_scalable_target(ServiceNamespace="dynamodb", ResourceId=rid, ScalableDimension=dim)
        except Exception as exc:
            if error_code(exc) not in ("ObjectNotFoundException", "ValidationException"):
                raise

    def _drop_scaling(self, req: Req, rid: str) -> None:
        for (level, _), dim in DIMENSIONS.items():
            if (level == "index") == ("/index/" in rid):
                self._drop_target(rid, dim, req.region, has_policy=True)

    def delete(self, req: Req, obs: Observation[Table]) -> DeleteResult:
        assert obs.actual is not None
        ddb = client("dynamodb", req.region)
        name, t = req.external_name, obs.actual.table
        if t.get("DeletionProtectionEnabled"):
            raise BlockedError(
                f"table {name} has deletion protection on, so it was not deleted. Set spec.deletionProtection: false "
                "first, or set spec.deletionPolicy: Retain to keep the table.",
                reason="DeletionProtected",
            )
        notes: tuple[tuple[str, str], ...] = ()
        if req.spec.backup_before_delete:
            backup_name = f"{name}-final-{req.ref.uid[:8]}"[:255]
            found = [b for b in ddb.list_backups(TableName=name).get("BackupSummaries", []) if b.get("BackupName") == backup_name]
            if not found:
                made = ddb.create_backup(TableName=name, BackupName=backup_name)["BackupDetails"]
                found = [{"BackupArn": made["BackupArn"], "BackupStatus": made["BackupStatus"]}]
            backup = found[0]
            if backup.get("BackupStatus") != "AVAILABLE":
                return DeleteResult(done=False, message=f"waiting for backup {backup['BackupArn']} before deleting table {name}")
            notes = (("BackupTaken", f"backup {backup['BackupArn']} of table {name} taken before deleting it"),)
        for rid in {k.split("|")[0] for k in obs.actual.targets}:
            self._drop_scaling(req, rid)
        or_none(lambda: ddb.delete_table(TableName=name), "ResourceNotFoundException")
        return DeleteResult(done=True, notes=notes)
