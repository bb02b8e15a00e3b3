"""Resilience tier: AWS answering 20 % of calls with faults (throttling 429, 503 SlowDown, 500, dropped
connections — hack/faultproxy.py between the operator and moto) while one object of every kind is
created and then everything is deleted at once. Every object ends Ready, AWS holds exactly one of each
resource (no duplicate from a retried create), throttling is visible on /metrics, and after the delete
nothing is left. Then the kube-apiserver goes away for 90 s in the middle of creating more objects:
they all end Ready afterwards, and nothing is overdue.

The longer by-hand scenario is `RESILIENCE_ROUNDS=5 pytest tests/e2e/test_resilience_e2e.py`."""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import faultproxy
import testbed

from tests.unit.test_contract import ssh_key

from .conftest import apply_list, aws, delete_all_at_once, metric, node, object_store, ready, wait_for
from .test_database_e2e import grant_secret_writes
from .test_table_function_e2e import ZIP

NS = "faults"
RATE = 0.2
ROUNDS = int(os.environ.get("RESILIENCE_ROUNDS", "1"))


obj = functools.partial(node, namespace=NS)


def every_kind() -> list[dict[str, Any]]:
    return [
        obj("StackeryObjectStore", "site"),
        obj("StackeryTable", "orders", stream={"enabled": True}),
        obj("StackeryConfigStore", "cfg", parameters={"MODE": {"value": "prod"}}),
        obj("StackeryVirtualNetwork", "net", natGateways="Single"),
        obj(
            "StackeryDatabase",
            "db",
            virtualNetwork="net",
            engine="postgres",
            deletionProtection=False,
            skipFinalSnapshot=True,
            outputs={"secretName": "db-credentials"},
        ),
        obj(
            "StackeryFunction",
            "worker",
            code={"zipBase64": ZIP},
            virtualNetwork="net",
            connections=[
                {"kind": "StackeryTable", "name": "orders"},
                {"kind": "StackeryConfigStore", "name": "cfg"},
                {"kind": "StackeryDatabase", "name": "db"},
            ],
            triggers=[{"table": "orders"}],
        ),
        obj("StackeryCDN", "www", objectStore="site"),
        obj("StackeryRestApi", "api", routes=[{"method": "GET", "path": "/orders", "function": "worker"}]),
        obj(
            "StackeryBastion",
            "jump",
            virtualNetwork="net",
            allowedCidrs=["192.0.2.0/24"],
            users=[{"name": "ops", "publicKey": ssh_key("ops")}],
            connections=[{"kind": "StackeryDatabase", "name": "db"}],
        ),
        obj("StackeryDockerCluster", "apps", virtualNetwork="net"),
        obj(
            "StackeryDockerService",
            "svc",
            cluster="apps",
            image="nginx",
            port=8080,
            desiredCount=0,  # moto runs no tasks
            connections=[{"kind": "StackeryTable", "name": "orders"}, {"kind": "StackeryDatabase", "name": "db"}],
        ),
        obj("StackeryLoadBalancer", "web", virtualNetwork="net", routes=[{"paths": ["/*"], "dockerService": "svc"}]),
        obj("StackeryQueue", "jobs"),
        obj("StackeryTopic", "events", subscriptions=[{"queue": "jobs"}]),
        obj("StackeryStream", "clicks"),
        obj("StackeryTimer", "tick", function="worker"),
    ]


ORDER = (
    "stackeryvirtualnetworks,stackerydatabases,stackerytables,stackeryobjectstores,stackeryconfigstores,stackeryfunctions,"
    "stackerycdns,stackeryrestapis,stackerybastions,stackerydockerclusters,stackerydockerservices,stackeryloadbalancers,"
    "stackeryqueues,stackerytopics,stackerystreams,stackerytimers"
)


def counts(bed: testbed.TestBed) -> dict[str, int]:
    """AWS resources of namespace NS, by type (moto read directly, not through the proxy)."""
    mine = [{"Name": "tag:stackery.io/namespace", "Values": [NS]}]
    s3, ddb, lam, ec2, rds = (aws(bed, s) for s in ("s3", "dynamodb", "lambda", "ec2", "rds"))
    cf, ag, iam = aws(bed, "cloudfront"), aws(bed, "apigateway"), aws(bed, "iam")
    live = [
        i
        for r in ec2.describe_instances(Filters=mine)["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    return {
        "buckets": len([b for b in s3.list_buckets()["Buckets"] if f"-{NS}-" in b["Name"]]),
        "tables": len([t for t in ddb.list_tables()["TableNames"] if f"-{NS}-" in t]),
        "functions": len([f for f in lam.list_functions()["Functions"] if f"-{NS}-" in f["FunctionName"]]),
        "mappings": len([m for m in lam.list_event_source_mappings()["EventSourceMappings"] if f"-{NS}-" in m["FunctionArn"]]),
        "roles": len(iam.list_roles(PathPrefix=f"/stackery/{NS}/")["Roles"]),
        "vpcs": len(ec2.describe_vpcs(Filters=mine)["Vpcs"]),
        "subnets": len(ec2.describe_subnets(Filters=mine)["Subnets"]),
        "natGateways": len(  # (moto ignores tag filters on DescribeNatGateways: filtered here)
            [
                n
                for n in ec2.describe_nat_gateways()["NatGateways"]
                if n["State"] not in ("deleted", "deleting")
                and {t["Key"]: t["Value"] for t in n.get("Tags", [])}.get("stackery.io/namespace") == NS
            ]
        ),
        "securityGroups": len(ec2.describe_security_groups(Filters=mine)["SecurityGroups"]),
        "instances": len(live),
        "dbInstances": len([i for i in rds.describe_db_instances()["DBInstances"] if f"-{NS}-" in i["DBInstanceIdentifier"]]),
        "distributions": len(
            [
                d
                for d in cf.list_distributions()["DistributionList"].get("Items") or []
                if f"stackery {NS}/" in d.get("Comment", "")
            ]
        ),
        "restApis": len([a for a in ag.get_rest_apis()["items"] if f"-{NS}-" in a["name"]]),
        **containers(bed),
    }


def containers(bed: testbed.TestBed) -> dict[str, int]:
    ecs, elb, logs = aws(bed, "ecs"), aws(bed, "elbv2"), aws(bed, "logs")
    clusters = [a for a in ecs.list_clusters()["clusterArns"] if f"-{NS}-" in a]
    live = ecs.describe_clusters(clusters=clusters)["clusters"] if clusters else []
    services = 0
    for c in clusters:
        arns = ecs.list_services(cluster=c)["serviceArns"]
        services += len(
            [x for x in (ecs.describe_services(cluster=c, services=arns)["services"] if arns else []) if x["status"] == "ACTIVE"]
        )
    lbs = [
        lb
        for lb in elb.describe_load_balancers()["LoadBalancers"]
        if any(
            t["Key"] == "stackery.io/namespace" and t["Value"] == NS
            for d in elb.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"]
            for t in d["Tags"]
        )
    ]
    groups = [
        g
        for g in elb.describe_target_groups()["TargetGroups"]
        if any(
            t["Key"] == "stackery.io/namespace" and t["Value"] == NS
            for d in elb.describe_tags(ResourceArns=[g["TargetGroupArn"]])["TagDescriptions"]
            for t in d["Tags"]
        )
    ]
    return {
        "clusters": len([c for c in live if c["status"] == "ACTIVE"]),
        "services": services,
        "taskDefinitions": len([a for a in ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] if f"-{NS}-" in a]),
        "loadBalancers": len(lbs),
        "listeners": sum(len(elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]) for lb in lbs),
        "targetGroups": len(groups),
        "logGroups": len(logs.describe_log_groups(logGroupNamePrefix=f"/stackery/{NS}/")["logGroups"]),
        **messaging(bed),
    }


def messaging(bed: testbed.TestBed) -> dict[str, int]:
    sqs, sns, k, sch = aws(bed, "sqs"), aws(bed, "sns"), aws(bed, "kinesis"), aws(bed, "scheduler")
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"] if f"-{NS}-" in t["TopicArn"]]
    streams = [n for n in k.list_streams()["StreamNames"] if f"-{NS}-" in n]
    return {
        "queues": len([u for u in sqs.list_queues().get("QueueUrls", []) if f"-{NS}-" in u]),
        "topics": len(topics),
        "subscriptions": sum(len(sns.list_subscriptions_by_topic(TopicArn=t)["Subscriptions"]) for t in topics),
        "streams": len(
            [
                n
                for n in streams
                if k.describe_stream_summary(StreamName=n)["StreamDescriptionSummary"]["StreamStatus"] != "DELETING"
            ]
        ),
        "scheduleGroups": len([g for g in sch.list_schedule_groups()["ScheduleGroups"] if f"-{NS}-" in g["Name"]]),
    }


EXPECTED = {
    "buckets": 1,
    "tables": 1,
    "functions": 1,
    "mappings": 1,
    "roles": 5,  # the function's, the bastion's, the service's task and execution roles, the timer's
    "vpcs": 1,
    "subnets": 4,
    "natGateways": 1,
    # function, database + its client group, bastion, service + its client group, load balancer (the VPC
    # default group is untagged)
    "securityGroups": 7,
    "instances": 1,
    "dbInstances": 1,
    "distributions": 1,
    "restApis": 1,
    "clusters": 1,
    "services": 1,
    "taskDefinitions": 1,
    "loadBalancers": 1,
    "listeners": 1,
    "targetGroups": 1,
    "logGroups": 1,
    "queues": 1,
    "topics": 1,
    "subscriptions": 1,
    "streams": 1,
    "scheduleGroups": 1,
}


def throttled(bed: testbed.TestBed) -> float:
    return bed.metric_total("stackery_aws_api_calls_total", outcome="throttled")


def test_every_kind_under_aws_faults_then_an_apiserver_outage_mid_create(bed: testbed.TestBed) -> None:
    bed.kubectl("create", "namespace", NS)
    grant_secret_writes(bed, NS)
    proxy = faultproxy.FaultProxy(bed.moto_url, rate=RATE, seed=11).start()
    bed.stop_operator()
    bed.start_operator(AWS_ENDPOINT_URL=proxy.url)
    try:
        for _ in range(ROUNDS):
            items = every_kind()
            apply_list(bed, *items)
            for o in items:
                kind, name = o["kind"].lower(), o["metadata"]["name"]
                wait_for(lambda k=kind, n=name: ready(bed, k, n, NS), timeout=300, what=f"{kind} {name} Ready under faults")  # type: ignore[misc]
            assert counts(bed) == EXPECTED
            assert sum(proxy.injected.values()) > 0 and throttled(bed) > 0, (proxy.injected, throttled(bed))

            delete_all_at_once(bed, ORDER, NS, timeout=300, what="every finalizer released under faults")
            assert {k: v for k, v in counts(bed).items() if v} == {}
    finally:
        bed.stop_operator()
        proxy.stop()
        bed.start_operator()

    # the apiserver goes away right after objects were applied (their creates are under way)
    batch = []
    for i in range(6):
        o = object_store(f"late-{i}")
        o["metadata"]["namespace"] = NS
        batch.append(o)
    batch.append(obj("StackeryTable", "late-table"))
    apply_list(bed, *batch)
    time.sleep(1)
    bed.stop_apiserver()
    time.sleep(90)
    bed.start_apiserver()
    for o in batch:
        kind, name = o["kind"].lower(), o["metadata"]["name"]
        wait_for(lambda k=kind, n=name: ready(bed, k, n, NS), timeout=90, what=f"{kind} {name} Ready after the outage")  # type: ignore[misc]
    s3 = aws(bed, "s3")
    assert len([b for b in s3.list_buckets()["Buckets"] if f"-{NS}-late-" in b["Name"]]) == 6
    wait_for(lambda: metric(bed, "stackery_checks_overdue", kind="StackeryObjectStore") == 0, timeout=30, what="nothing overdue")
