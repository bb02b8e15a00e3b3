"""Database: four parts — two security groups (a client group, and the database's own group admitting
the engine port from the client group only), a DB subnet group (the network's private subnets), an Aurora cluster (aurora-*
engines only) and a DB instance (the instance, or the cluster's db.serverless writer) — composed by
core.parts.

Why a client group: a node connected to the database (a placed Function, a Bastion, later a Docker
Service) carries the database's client group, and the database's group admits exactly that group. No
address range is ever opened (Stackery opened 0.0.0.0/0), no other object's resource is written, and the
database need not wait for its consumers (who themselves wait for it to be Ready): no cycle.

The master password is generated, stored and rotated by RDS in Secrets Manager
(ManageMasterUserPassword); the operator reads it only to fill an outputs Secret (spec.outputs.secretName).
The subnet group is never modified (moto's modify_db_subnet_group deletes the group; AWS refuses moving an
instance to another subnet group): the network, hence its private subnets, is immutable.

Delete: refused while spec.deletionProtection is true (Stalled, DeletionProtected); otherwise AWS's own
deletion protection is turned off (the spec asked), the final snapshot `<identifier>-final-<uid8>` is taken
unless skipFinalSnapshot, and the instance (writer), cluster, subnet group and groups go in that order.

Read budget of one drift check: DescribeSecurityGroups (both groups, one call), DescribeDBSubnetGroups,
DescribeDBInstances (+ DescribeDBClusters for Aurora) = 3 (4), + GetSecretValue with outputs.secretName.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from ..api.database import DatabaseSpec
from ..aws.clients import client, error_code, or_none
from ..core.adapter import DeleteResult, NodeRef, ObjectRef, Observation, Reference, Request
from ..core.conditions import Cond
from ..core.parts import Composite, Context, Seen, part_tags
from ..core.wiring import Access, GrantContext, Statement, Wiring
from ..errors import BlockedError, InvalidSpecError
from ..policy import Claim
from .common import compare, dns_name, owner_of, tag_dict, tag_list
from .guard import GuardedGroupsPart
from .placement import private_subnets

Ctx = Context[DatabaseSpec]
NETWORK = "StackeryVirtualNetwork"
USABLE = ("available", "backing-up", "storage-optimization", "maintenance")
WAIT_REASONS = {"creating": "Creating", "backing-up": "BackingUp"}


# ------------------------------------------------------------------ names and helpers
def identifier(ref: ObjectRef) -> str:
    """DB instance / cluster identifier: 1-63 letters, digits, single hyphens, starting with a letter."""
    return dns_name("stackery", ref, max_len=63)


def writer_identifier(ref: ObjectRef) -> str:
    return dns_name("stackery-writer", ref, max_len=63)


def final_snapshot(ident: str, ref: ObjectRef) -> str:
    return f"{ident}-final-{ref.uid.replace('-', '')[:8]}"


def network(ctx: Ctx) -> Mapping[str, Any]:
    """The network's status; while everything is deleted at once the network may no longer be handed over
    (it is deleting too), and a delete only needs the VPC id this object recorded."""
    got = ctx.req.nodes.get((NETWORK, ctx.req.spec.virtual_network))
    return got if got is not None else {"vpcId": ctx.req.status.get("vpcId")}


def major(engine: str, version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2]) if "mysql" in engine else parts[0]


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[._]", version))


def engine_version_diff(spec: DatabaseSpec, actual: str | None) -> list[Any]:
    """A newer minor version in AWS (automatic minor upgrades) is not drift; an older one, or another
    major version, is."""
    want = spec.engine_version
    if not want or not actual or want == actual:
        return []
    if major(spec.engine, want) == major(spec.engine, actual) and version_key(want) < version_key(actual):
        return []
    return compare("engineVersion", want, actual)


def check_version_change(spec: DatabaseSpec, actual: str) -> None:
    """Before any engine-version write: refuse a downgrade, and a major upgrade the spec did not allow."""
    want = str(spec.engine_version)
    if version_key(want) < version_key(actual):
        raise InvalidSpecError(
            f"engineVersion {want} is older than the running {actual}: RDS cannot downgrade. Set engineVersion to "
            f"{actual} or newer (restore a snapshot into a new StackeryDatabase to go back)."
        )
    if major(spec.engine, want) != major(spec.engine, actual) and not spec.allow_major_version_upgrade:
        raise InvalidSpecError(
            f"engineVersion {want} is a new major version (running {actual}): a major upgrade restarts the database "
            "and may need application changes. Set allowMajorVersionUpgrade: true to go ahead."
        )


def status_conditions(state: str) -> tuple[Cond, ...]:
    return (
        Cond(
            "Available",
            "True" if state in USABLE else "False",
            "Available" if state in USABLE else state.title().replace("-", ""),
        ),
        Cond(
            "Modifying",
            "True" if state in ("modifying", "upgrading", "rebooting") else "False",
            "Modifying" if state == "modifying" else "Idle",
        ),
        Cond("BackingUp", "True" if state == "backing-up" else "False", "BackingUp" if state == "backing-up" else "Idle"),
    )


def waiting_for(kind: str, ident: str, state: str) -> tuple[str | None, str]:
    if state in USABLE:
        return None, ""
    if state == "creating":
        return f"{kind} {ident} is being created (RDS takes 5-15 minutes)", "Creating"
    if state in ("modifying", "upgrading", "rebooting", "configuring-enhanced-monitoring", "resetting-master-credentials"):
        return f"{kind} {ident} is {state}", "Modifying"
    return f"{kind} {ident} is {state}", state.title().replace("-", "")


# ------------------------------------------------------------------ security groups
def _vpc(ctx: Ctx) -> str | None:
    vpc = network(ctx).get("vpcId")
    return str(vpc) if vpc else None


def security_groups() -> GuardedGroupsPart[DatabaseSpec]:
    """The client group connected nodes carry, and the database's group admitting the engine port from it."""
    return GuardedGroupsPart(
        client_prefix="stackery-dbclients",
        vpc=_vpc,
        port=lambda ctx: ctx.req.spec.port,
        clients="nodes connected to the database",
    )


# ------------------------------------------------------------------ subnet group
class SubnetGroupPart:
    """Never modified (see the module docstring). Its owner is written in its description too: the
    tagging API of some endpoints (moto) does not return subnet-group tags."""

    name = "subnetGroup"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def _name(self, ctx: Ctx) -> str:
        return identifier(ctx.req.ref)

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        rds = client("rds", ctx.req.region)
        got = or_none(lambda: rds.describe_db_subnet_groups(DBSubnetGroupName=self._name(ctx)), "DBSubnetGroupNotFoundFault")
        if not got or not got.get("DBSubnetGroups"):
            return Seen(exists=False)
        sg = got["DBSubnetGroups"][0]
        found = re.search(r" uid (\S+)$", sg.get("DBSubnetGroupDescription", ""))
        owner_uid = found.group(1) if found else None
        return Seen(
            exists=True,
            actual=dict(sg),
            owner_uid=owner_uid,
            owner=sg.get("DBSubnetGroupDescription") if owner_uid != ctx.req.ref.uid else None,
            identifiers={"subnetGroup": sg["DBSubnetGroupName"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        subnets = private_subnets(network(ctx))
        desc = f"StackeryDatabase {ctx.req.ref.namespace}/{ctx.req.ref.name} uid {ctx.req.ref.uid}"
        try:
            client("rds", ctx.req.region).create_db_subnet_group(
                DBSubnetGroupName=self._name(ctx),
                DBSubnetGroupDescription=desc,
                SubnetIds=subnets,
                Tags=tag_list(part_tags(ctx.req, self.name)),
            )
        except Exception as exc:
            if error_code(exc) != "DBSubnetGroupAlreadyExists":
                raise
            return self.observe(ctx)
        return Seen(
            exists=True,
            actual={"DBSubnetGroupName": self._name(ctx), "DBSubnetGroupDescription": desc},
            owner_uid=ctx.req.ref.uid,
            identifiers={"subnetGroup": self._name(ctx)},
        )

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        try:
            client("rds", ctx.req.region).delete_db_subnet_group(DBSubnetGroupName=self._name(ctx))
        except Exception as exc:
            code = error_code(exc)
            if code == "InvalidDBSubnetGroupStateFault":
                return f"subnet group {self._name(ctx)} is still in use by the database AWS is deleting; retrying"
            if code != "DBSubnetGroupNotFoundFault":
                raise
        return None


# ------------------------------------------------------------------ shared by cluster and instance
def _pending(found: Mapping[str, Any], key: str) -> Any:
    """The value a setting will have: the pending one (applyImmediately: false) when AWS holds one."""
    pending = found.get("PendingModifiedValues") or {}
    return pending.get(key, found.get(key))


def _common_diffs(spec: DatabaseSpec, found: Mapping[str, Any], group: str | None) -> list[Any]:
    diffs = [
        *compare("backupRetentionDays", spec.backup_retention_days, _pending(found, "BackupRetentionPeriod")),
        *compare("deletionProtection", spec.deletion_protection, bool(found.get("DeletionProtection"))),
        *engine_version_diff(spec, str(_pending(found, "EngineVersion") or "") or None),
        *compare("masterPassword.managed", True, bool(found.get("MasterUserSecret"))),
    ]
    if spec.preferred_backup_window:
        diffs += compare("preferredBackupWindow", spec.preferred_backup_window, found.get("PreferredBackupWindow"))
    if spec.preferred_maintenance_window:
        diffs += compare(
            "preferredMaintenanceWindow",
            spec.preferred_maintenance_window,
            str(found.get("PreferredMaintenanceWindow", "")).lower(),
        )
    if group:
        have = sorted(g["VpcSecurityGroupId"] for g in found.get("VpcSecurityGroups", []))
        diffs += compare("securityGroups", [group], have)
    return diffs


def _common_changes(spec: DatabaseSpec, fields: set[str], found: Mapping[str, Any], group: str | None) -> dict[str, Any]:
    """Keyword arguments of ModifyDBInstance / ModifyDBCluster for the changed shared settings."""
    kw: dict[str, Any] = {}
    if "backupRetentionDays" in fields:
        kw["BackupRetentionPeriod"] = spec.backup_retention_days
    if "deletionProtection" in fields:
        kw["DeletionProtection"] = spec.deletion_protection
    if "preferredBackupWindow" in fields:
        kw["PreferredBackupWindow"] = spec.preferred_backup_window
    if "preferredMaintenanceWindow" in fields:
        kw["PreferredMaintenanceWindow"] = spec.preferred_maintenance_window
    if "masterPassword.managed" in fields:
        kw["ManageMasterUserPassword"] = True
    if "securityGroups" in fields and group:
        kw["VpcSecurityGroupIds"] = [group]
    if "engineVersion" in fields:
        check_version_change(spec, str(_pending(found, "EngineVersion")))
        kw["EngineVersion"] = spec.engine_version
        kw["AllowMajorVersionUpgrade"] = spec.allow_major_version_upgrade
    return kw


def _db_group(ctx: Ctx) -> str | None:
    got = ctx.seen.get("securityGroups")
    db = (got.actual or {}).get("own") if got is not None else None
    return str(db["GroupId"]) if db else None


def _secrets(ctx: Ctx, secret_arn: str | None, host: str | None, port: int | None, user: str) -> dict[str, str]:
    """Credentials for the outputs Secret, read only when the spec asks for one. The user name is the
    database's (moto's managed secret holds a made-up one)."""
    spec = ctx.req.spec
    if spec.outputs is None or spec.outputs.secret_name is None or not secret_arn or not host:
        return {}
    raw = json.loads(client("secretsmanager", ctx.req.region).get_secret_value(SecretId=secret_arn)["SecretString"])
    password = str(raw["password"])
    dbname = spec.database_name or ("postgres" if "postgres" in spec.engine else "")
    scheme = "postgresql" if "postgres" in spec.engine else "mysql"
    return {
        "username": user,
        "password": password,
        "host": host,
        "port": str(port or spec.port),
        "dbname": dbname,
        "uri": f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port or spec.port}/{dbname}",
    }


def _allow_delete(found: Mapping[str, Any], modify: Any, **ident: str) -> None:
    """The spec said deletionProtection: false (checked before any part is touched): AWS's own flag goes
    off too, if it is still on (the object was deleted before that change was applied)."""
    if found.get("DeletionProtection"):
        modify(**ident, DeletionProtection=False, ApplyImmediately=True)


# ------------------------------------------------------------------ Aurora cluster
class ClusterPart:
    name = "cluster"
    after: tuple[str, ...] = ("securityGroups", "subnetGroup")

    def wanted(self, ctx: Ctx) -> bool:
        return ctx.req.spec.aurora

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        if not ctx.req.spec.aurora:
            return Seen(exists=False)
        rds = client("rds", ctx.req.region)
        got = or_none(lambda: rds.describe_db_clusters(DBClusterIdentifier=identifier(ctx.req.ref)), "DBClusterNotFoundFault")
        if not got or not got.get("DBClusters"):
            return Seen(exists=False)
        return self._seen(ctx, got["DBClusters"][0])

    def _seen(self, ctx: Ctx, c: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        spec = ctx.req.spec
        uid, owner = owner_of(tag_dict(c.get("TagList")))
        scaling = c.get("ServerlessV2ScalingConfiguration") or {}
        want = spec.serverless
        diffs = [
            *_common_diffs(spec, c, _db_group(ctx)),
            *compare("serverless.minCapacity", want.min_capacity if want else 0.5, scaling.get("MinCapacity")),
            *compare("serverless.maxCapacity", want.max_capacity if want else 2, scaling.get("MaxCapacity")),
        ]
        state = str(c.get("Status", "available"))
        waiting, reason = waiting_for("cluster", c["DBClusterIdentifier"], state)
        secret = (c.get("MasterUserSecret") or {}).get("SecretArn")
        return Seen(
            exists=True,
            actual=dict(c),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "endpoint": c.get("Endpoint"),
                "readerEndpoint": c.get("ReaderEndpoint"),
                "port": c.get("Port"),
                "engineVersion": c.get("EngineVersion"),
                "masterUserSecretArn": secret,
                "arn": c.get("DBClusterArn"),
                "externalName": c["DBClusterIdentifier"],
            },
            waiting=waiting,
            waiting_reason=reason,
            waiting_blocks=False,  # the writer is created while the cluster is still creating
            deleting=state == "deleting",
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        spec, rds, ident = ctx.req.spec, client("rds", ctx.req.region), identifier(ctx.req.ref)
        scaling = spec.serverless.model_dump(by_alias=False) if spec.serverless else {"min_capacity": 0.5, "max_capacity": 2}
        scaling_cfg = {"MinCapacity": scaling["min_capacity"], "MaxCapacity": scaling["max_capacity"]}
        if seen.exists and seen.actual:
            fields = {d.field for d in seen.diffs}
            kw = _common_changes(spec, fields, seen.actual, _db_group(ctx))
            if fields & {"serverless.minCapacity", "serverless.maxCapacity"}:
                kw["ServerlessV2ScalingConfiguration"] = scaling_cfg
            if kw:
                got = rds.modify_db_cluster(DBClusterIdentifier=ident, ApplyImmediately=spec.apply_immediately, **kw)
                return self._seen(ctx, got["DBCluster"])
            return seen
        kw = {
            "DBClusterIdentifier": ident,
            "Engine": spec.engine,
            "MasterUsername": spec.master_username,
            "ManageMasterUserPassword": True,
            "DBSubnetGroupName": identifier(ctx.req.ref),
            "VpcSecurityGroupIds": [_db_group(ctx)],
            "StorageEncrypted": True,
            "BackupRetentionPeriod": spec.backup_retention_days,
            "DeletionProtection": spec.deletion_protection,
            "CopyTagsToSnapshot": True,
            "ServerlessV2ScalingConfiguration": scaling_cfg,
            "Tags": tag_list(ctx.req.tags()),
        }
        optional = {
            "EngineVersion": spec.engine_version,
            "DatabaseName": spec.database_name,
            "PreferredBackupWindow": spec.preferred_backup_window,
            "PreferredMaintenanceWindow": spec.preferred_maintenance_window,
        }
        kw.update({k: v for k, v in optional.items() if v})
        try:
            made = rds.create_db_cluster(**kw)["DBCluster"]
        except Exception as exc:  # a retried create (moto answers DBClusterSnapshotAlreadyExistsFault)
            if error_code(exc) not in ("DBClusterAlreadyExistsFault", "DBClusterSnapshotAlreadyExistsFault"):
                raise
            return self.observe(ctx)
        return self._seen(ctx, made)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        spec, rds, ident = ctx.req.spec, client("rds", ctx.req.region), identifier(ctx.req.ref)
        _allow_delete(seen.actual or {}, rds.modify_db_cluster, DBClusterIdentifier=ident)
        snap = final_snapshot(ident, ctx.req.ref)
        kw: dict[str, Any] = {"SkipFinalSnapshot": True} if spec.skip_final_snapshot else {"FinalDBSnapshotIdentifier": snap}
        try:
            rds.delete_db_cluster(DBClusterIdentifier=ident, **kw)
        except Exception as exc:
            code = error_code(exc)
            if code == "InvalidDBClusterStateFault":
                return f"cluster {ident} cannot be deleted yet ({exc}); retrying"
            if code != "DBClusterNotFoundFault":
                raise
            return None
        ctx.notes.append(_snapshot_note(spec, ident, snap, "cluster"))
        return None


def _snapshot_note(spec: DatabaseSpec, ident: str, snap: str, what: str) -> tuple[str, str]:
    if spec.skip_final_snapshot:
        return ("FinalSnapshotSkipped", f"{what} {ident} deleted without a final snapshot (skipFinalSnapshot: true)")
    return ("FinalSnapshot", f"final snapshot {snap} of {what} {ident} is taken before it is deleted, and kept")


# ------------------------------------------------------------------ DB instance (or Aurora writer)
class InstancePart:
    name = "instance"
    after: tuple[str, ...] = ("securityGroups", "subnetGroup", "cluster")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def _ident(self, ctx: Ctx) -> str:
        return writer_identifier(ctx.req.ref) if ctx.req.spec.aurora else identifier(ctx.req.ref)

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        rds = client("rds", ctx.req.region)
        got = or_none(
            lambda: rds.describe_db_instances(DBInstanceIdentifier=self._ident(ctx)),
            "DBInstanceNotFound",
            "DBInstanceNotFoundFault",
        )
        if not got or not got.get("DBInstances"):
            return Seen(exists=False)
        return self._seen(ctx, got["DBInstances"][0])

    def _seen(self, ctx: Ctx, i: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        spec = ctx.req.spec
        uid, owner = owner_of(tag_dict(i.get("TagList")))
        state = str(i.get("DBInstanceStatus", "available"))
        endpoint = i.get("Endpoint") or {}
        diffs = [
            *compare("publiclyAccessible", False, bool(i.get("PubliclyAccessible"))),
            *compare("autoMinorVersionUpgrade", True, bool(i.get("AutoMinorVersionUpgrade", True))),
        ]
        ids: dict[str, Any] = {"databaseStatus": state}
        cluster = ctx.seen.get("cluster")
        if spec.aurora:
            diffs += compare("instanceClass", "db.serverless", _pending(i, "DBInstanceClass"))
        else:
            storage = spec.storage
            diffs += [
                *_common_diffs(spec, i, _db_group(ctx)),
                *compare("instanceClass", spec.instance_class, _pending(i, "DBInstanceClass")),
                *compare("storage.allocatedGib", storage.allocated_gib if storage else 20, _pending(i, "AllocatedStorage")),
                *compare("storage.maxAllocatedGib", storage.max_allocated_gib if storage else None, i.get("MaxAllocatedStorage")),
                *compare("multiAz", spec.multi_az, bool(_pending(i, "MultiAZ"))),
            ]
            ids.update(
                {
                    "endpoint": endpoint.get("Address"),
                    "port": endpoint.get("Port"),
                    "engineVersion": i.get("EngineVersion"),
                    "masterUserSecretArn": (i.get("MasterUserSecret") or {}).get("SecretArn"),
                    "arn": i.get("DBInstanceArn"),
                    "externalName": i["DBInstanceIdentifier"],
                }
            )
        pending = sorted(f"{k}: {v}" for k, v in (i.get("PendingModifiedValues") or {}).items() if k != "MasterUserPassword")
        ids["pendingModifications"] = pending
        ids["databaseName"] = i.get("DBName") or spec.database_name
        ids["masterUsername"] = i.get("MasterUsername") or spec.master_username
        waiting, reason = waiting_for("database", i["DBInstanceIdentifier"], state)
        c = cluster.actual if cluster is not None and cluster.actual else {}
        host = c.get("Endpoint") if spec.aurora else endpoint.get("Address")
        port = c.get("Port") if spec.aurora else endpoint.get("Port")
        secret = (c.get("MasterUserSecret") or {}).get("SecretArn") if spec.aurora else ids.get("masterUserSecretArn")
        arn = c.get("DBClusterArn") if spec.aurora else i.get("DBInstanceArn")
        ident = c.get("DBClusterIdentifier") if spec.aurora else i["DBInstanceIdentifier"]
        message = f"{spec.engine} at {host}:{port}" if host else ""
        if pending:
            message += f"; waiting for the maintenance window: {', '.join(pending)}"
        return Seen(
            exists=True,
            actual=dict(i),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers=ids,
            outputs={
                "DB_ID": str(ident or ""),
                "DB_ADDRESS": str(host or ""),
                "DB_PORT": str(port or ""),
                "DB_ARN": str(arn or ""),
                "DB_ROOT_USER_SECRET_ARN": str(secret or ""),
            },
            conditions=status_conditions(state),
            waiting=waiting,
            waiting_reason=reason,
            deleting=state == "deleting",
            message=message,
            secrets=_secrets(ctx, secret, host, port, str(ids["masterUsername"])) if waiting is None else {},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        spec, rds, ident = ctx.req.spec, client("rds", ctx.req.region), self._ident(ctx)
        if seen.exists and seen.actual:
            fields = {d.field for d in seen.diffs}
            kw: dict[str, Any] = {} if spec.aurora else _common_changes(spec, fields, seen.actual, _db_group(ctx))
            if "publiclyAccessible" in fields:
                kw["PubliclyAccessible"] = False
            if "autoMinorVersionUpgrade" in fields:
                kw["AutoMinorVersionUpgrade"] = True
            if "instanceClass" in fields:
                kw["DBInstanceClass"] = "db.serverless" if spec.aurora else spec.instance_class
            if "storage.allocatedGib" in fields and spec.storage:
                kw["AllocatedStorage"] = spec.storage.allocated_gib
            if "storage.maxAllocatedGib" in fields:
                # 0 would be "off" in AWS's terms; without a ceiling the allocated size is the ceiling
                kw["MaxAllocatedStorage"] = (spec.storage.max_allocated_gib if spec.storage else None) or (
                    spec.storage.allocated_gib if spec.storage else 20
                )
            if "multiAz" in fields:
                kw["MultiAZ"] = spec.multi_az
            if kw:
                got = rds.modify_db_instance(DBInstanceIdentifier=ident, ApplyImmediately=spec.apply_immediately, **kw)
                return self._seen(ctx, got["DBInstance"])
            return seen
        tags = tag_list(ctx.req.tags())
        kw = {
            "DBInstanceIdentifier": ident,
            "Engine": spec.engine,
            "PubliclyAccessible": False,
            "AutoMinorVersionUpgrade": True,
            "CopyTagsToSnapshot": True,
            "Tags": tags,
        }
        if spec.aurora:
            kw.update({"DBClusterIdentifier": identifier(ctx.req.ref), "DBInstanceClass": "db.serverless"})
        else:
            storage = spec.storage
            kw.update(
                {
                    "DBInstanceClass": spec.instance_class,
                    "AllocatedStorage": storage.allocated_gib if storage else 20,
                    "StorageType": "gp3",
                    "StorageEncrypted": True,
                    "MasterUsername": spec.master_username,
                    "ManageMasterUserPassword": True,
                    "DBSubnetGroupName": identifier(ctx.req.ref),
                    "VpcSecurityGroupIds": [_db_group(ctx)],
                    "MultiAZ": spec.multi_az,
                    "BackupRetentionPeriod": spec.backup_retention_days,
                    "DeletionProtection": spec.deletion_protection,
                }
            )
            optional = {
                "EngineVersion": spec.engine_version,
                "DBName": spec.database_name,
                "MaxAllocatedStorage": storage.max_allocated_gib if storage else None,
                "KmsKeyId": storage.kms_key_id if storage else None,
                "PreferredBackupWindow": spec.preferred_backup_window,
                "PreferredMaintenanceWindow": spec.preferred_maintenance_window,
            }
            kw.update({k: v for k, v in optional.items() if v})
        try:
            made = rds.create_db_instance(**kw)["DBInstance"]
        except Exception as exc:
            if error_code(exc) not in ("DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"):
                raise
            return self.observe(ctx)
        return self._seen(ctx, made)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        spec, rds, ident = ctx.req.spec, client("rds", ctx.req.region), self._ident(ctx)
        kw: dict[str, Any] = {}
        if not spec.aurora:  # a cluster member has no snapshot of its own: the cluster's is taken
            _allow_delete(seen.actual or {}, rds.modify_db_instance, DBInstanceIdentifier=ident)
            snap = final_snapshot(ident, ctx.req.ref)
            kw = {"SkipFinalSnapshot": True} if spec.skip_final_snapshot else {"FinalDBSnapshotIdentifier": snap}
            kw["DeleteAutomatedBackups"] = False
        try:
            rds.delete_db_instance(DBInstanceIdentifier=ident, **kw)
        except Exception as exc:
            code = error_code(exc)
            if code == "InvalidDBInstanceState":
                return f"database {ident} cannot be deleted yet ({exc}); retrying"
            if code not in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
                raise
            return None
        if not spec.aurora:
            ctx.notes.append(_snapshot_note(spec, ident, final_snapshot(ident, ctx.req.ref), "database"))
        return None


# ------------------------------------------------------------------ wiring
def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    """Read the master user's secret (exactly that one); network reach comes from the client group."""
    secret = status.get("masterUserSecretArn")
    return [{"Action": ["secretsmanager:GetSecretValue"], "Resource": [str(secret)]}] if secret else []


WIRING = Wiring(
    env=(
        ("DB_ID", "externalName"),
        ("DB_ADDRESS", "endpoint"),
        ("DB_PORT", "port"),
        ("DB_ARN", "arn"),
        ("DB_ROOT_USER_SECRET_ARN", "masterUserSecretArn"),
    ),
    grants=grants,
    network="virtualNetwork",
    client_group="clientSecurityGroupId",
)


# ------------------------------------------------------------------ adapter
class DatabaseAdapter(Composite[DatabaseSpec]):
    def __init__(self) -> None:
        super().__init__([security_groups(), SubnetGroupPart(), ClusterPart(), InstancePart()], primary="instance")

    def external_name(self, ref: ObjectRef, spec: DatabaseSpec) -> str:
        return identifier(ref)

    def references(self, spec: DatabaseSpec) -> list[Reference]:
        return [NodeRef(NETWORK, spec.virtual_network, role="placement")]

    def claims(self, spec: DatabaseSpec) -> list[Claim]:
        return []

    def summary(self, ctx: Context[DatabaseSpec]) -> Observation[Context[DatabaseSpec]]:
        obs = super().summary(ctx)
        req = ctx.req
        net = req.nodes.get((NETWORK, req.spec.virtual_network)) or {}
        where = {"virtualNetwork": req.spec.virtual_network, "vpcId": net.get("vpcId") or req.status.get("vpcId")}
        return replace(obs, identifiers={**obs.identifiers, **where})

    def delete(self, req: Request[DatabaseSpec], obs: Observation[Context[DatabaseSpec]]) -> DeleteResult:
        if req.spec.deletion_protection:
            raise BlockedError(
                f"StackeryDatabase {req.ref.name} has deletionProtection: true, so nothing was deleted. To delete the "
                f"database (a final snapshot is kept unless skipFinalSnapshot), run: kubectl patch stackerydatabase "
                f'{req.ref.name} -n {req.ref.namespace} --type merge -p \'{{"spec":{{"deletionProtection":false}}}}\'. '
                "To keep the database and release this object instead, set spec.deletionPolicy: Retain.",
                reason="DeletionProtected",
            )
        return super().delete(req, obs)
