"""Deleting everything in a namespace at once (what a GitOps prune does): every kind, the Secret and
ConfigMaps too, dependencies listed first so the Function's Table and the CDN's bucket go before them.
Every finalizer is released and AWS ends with zero leftovers of every resource type, counted in moto.
The network and the database are listed first: they wait (InUse) until the function placed in / connected
to them is gone."""

from __future__ import annotations

import functools
import json

import testbed

from .conftest import apply_list, aws, node, ready, wait_for
from .test_table_function_e2e import ZIP

NS = "prune"
ORDER = (
    "stackeryvirtualnetworks,stackerydatabases,stackerytables,stackeryobjectstores,secrets,stackeryconfigstores,configmaps,"
    "stackeryfunctions,stackerycdns,stackeryrestapis"
)


obj = functools.partial(node, namespace=NS)


def leftovers(bed: testbed.TestBed, cdn_uid: str) -> dict[str, list[str]]:
    """Every AWS resource moto holds that carries (or is named for) namespace prune."""
    s3, ddb, lam, iam, ssm, cf = (aws(bed, s) for s in ("s3", "dynamodb", "lambda", "iam", "ssm", "cloudfront"))
    ag, logs, ec2, rds = aws(bed, "apigateway"), aws(bed, "logs"), aws(bed, "ec2"), aws(bed, "rds")
    mine = [{"Name": "tag:stackery.io/namespace", "Values": [NS]}]
    found: dict[str, list[str]] = {
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"] if f"-{NS}-" in b["Name"]],
        "tables": [t for t in ddb.list_tables()["TableNames"] if f"-{NS}-" in t],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"] if f"-{NS}-" in f["FunctionName"]],
        "roles": [r["RoleName"] for r in iam.list_roles(PathPrefix=f"/stackery/{NS}/")["Roles"]],
        "parameters": [p["Name"] for p in ssm.get_parameters_by_path(Path=f"/{NS}", Recursive=True)["Parameters"]],
        "mappings": [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"] if f"-{NS}-" in m["FunctionArn"]],
        "distributions": [
            d["Id"] for d in (cf.list_distributions()["DistributionList"].get("Items") or []) if cdn_uid in d.get("Comment", "")
        ],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=mine)["Vpcs"]],
        "subnets": [v["SubnetId"] for v in ec2.describe_subnets(Filters=mine)["Subnets"]],
        "securityGroups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=mine)["SecurityGroups"]],
        "addresses": [a["AllocationId"] for a in ec2.describe_addresses(Filters=mine)["Addresses"]],
        "routeTables": [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=mine)["RouteTables"]],
        "restApis": [a["name"] for a in ag.get_rest_apis()["items"] if f"-{NS}-" in a["name"]],
        "dbInstances": [
            i["DBInstanceIdentifier"]
            for i in rds.describe_db_instances()["DBInstances"]
            if f"-{NS}-" in i["DBInstanceIdentifier"]
        ],
        "dbSubnetGroups": [
            g["DBSubnetGroupName"]
            for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
            if f"-{NS}-" in g["DBSubnetGroupName"]
        ],
        "dbSnapshots": [
            s["DBSnapshotIdentifier"]
            for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
            if f"-{NS}-" in s["DBSnapshotIdentifier"]
        ],
        "logGroups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"] if f"-{NS}-" in g["logGroupName"]],
        "originAccessControls": [
            o["Name"]
            for o in cf.list_origin_access_controls()["OriginAccessControlList"].get("Items") or []
            if f"-{NS}-" in o["Name"]
        ],
    }
    return {k: v for k, v in found.items() if v}


def test_delete_everything_at_once_leaves_nothing(bed: testbed.TestBed) -> None:
    from .test_database_e2e import grant_secret_writes

    bed.kubectl("create", "namespace", NS)
    grant_secret_writes(bed, NS)
    bed.kubectl("create", "secret", "generic", "db", "-n", NS, "--from-literal=password=s3cret")
    items = [
        obj("StackeryObjectStore", "site"),
        obj("StackeryTable", "orders", stream={"enabled": True}),
        obj(
            "StackeryConfigStore",
            "cfg",
            parameters={"MODE": {"value": "prod"}, "DB_PASSWORD": {"secretKeyRef": {"name": "db", "key": "password"}}},
            outputs={"configMapName": "cfg-outputs"},
        ),
        obj(
            "StackeryFunction",
            "worker",
            code={"zipBase64": ZIP},
            connections=[
                {"kind": "StackeryTable", "name": "orders"},
                {"kind": "StackeryConfigStore", "name": "cfg"},
                {"kind": "StackeryObjectStore", "name": "site"},
                {"kind": "StackeryDatabase", "name": "db"},
            ],
            triggers=[{"table": "orders"}],
            virtualNetwork="net",
            outputs={"configMapName": "worker-outputs"},
        ),
        obj("StackeryCDN", "www", objectStore="site"),
        obj("StackeryVirtualNetwork", "net", natGateways="Single"),
        # a clear ask to destroy the data: protection off, no final snapshot (else the snapshot is kept)
        obj(
            "StackeryDatabase",
            "db",
            virtualNetwork="net",
            engine="mysql",
            deletionProtection=False,
            skipFinalSnapshot=True,
            outputs={"secretName": "db-credentials"},
        ),
        obj("StackeryRestApi", "api", routes=[{"method": "GET", "path": "/orders", "function": "worker"}], accessLogs=True),
    ]
    apply_list(bed, *items)
    ready_objs = {}
    for kind, name in (
        ("stackeryobjectstore", "site"),
        ("stackerytable", "orders"),
        ("stackeryconfigstore", "cfg"),
        ("stackeryfunction", "worker"),
        ("stackerycdn", "www"),
        ("stackeryrestapi", "api"),
        ("stackeryvirtualnetwork", "net"),
        ("stackerydatabase", "db"),
    ):
        ready_objs[kind] = wait_for(lambda k=kind, n=name: ready(bed, k, n, NS), timeout=120, what=f"{kind} {name} Ready")  # type: ignore[misc]
    cdn_uid = ready_objs["stackerycdn"]["metadata"]["uid"]
    made = leftovers(bed, cdn_uid)
    assert set(made) >= {
        "buckets",
        "tables",
        "functions",
        "roles",
        "parameters",
        "mappings",
        "distributions",
        "restApis",
        "vpcs",
        "securityGroups",
        "dbInstances",
        "dbSubnetGroups",
    }, made

    bed.kubectl("delete", ORDER, "--all", "-n", NS, "--wait=false")

    def all_gone() -> bool:
        out = bed.kubectl("get", ORDER.replace("secrets,", "").replace("configmaps,", ""), "-n", NS, "-o", "json").stdout
        left = json.loads(out)["items"]
        if left:  # kept as wait_for's last answer: what each remaining object says
            raise RuntimeError(
                "; ".join(
                    f"{o['kind']} {o['metadata']['name']}: "
                    + " | ".join(
                        f"{c['type']}={c['status']} {c.get('message', '')}" for c in o.get("status", {}).get("conditions", [])
                    )
                    for o in left
                )
            )
        return True

    wait_for(all_gone, timeout=180, what="every object's finalizer released")
    assert leftovers(bed, cdn_uid) == {}
