"""Docker Cluster, Docker Service and Load Balancer against moto (in-process): where each runs, who may
reach whom, one task-definition revision per real change, drift corrected, deletes that leave nothing;
deployment states moto never shows (IN_PROGRESS with tasks, FAILED by the circuit breaker) fed as ECS
records; the Fargate pairs and route rules of the models."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from controller.adapters.dockercluster import DockerClusterAdapter
from controller.adapters.dockerservice import DockerServiceAdapter, ServicePart, family, log_group
from controller.adapters.function import FunctionAdapter
from controller.adapters.loadbalancer import LoadBalancerAdapter
from controller.adapters.table import TableAdapter
from controller.api.dockercluster import DockerClusterSpec
from controller.api.dockerservice import DockerServiceSpec
from controller.api.function import FunctionSpec
from controller.api.loadbalancer import LoadBalancerSpec
from controller.api.table import TableSpec
from controller.core.adapter import ObjectRef, Request
from controller.core.parts import Context
from controller.registry import WIRING

from .helpers import Driven, api_calls, converge, delta, writes
from .test_bastion import make_network
from .test_contract import _zip

NS = "ops"
NET = ("StackeryVirtualNetwork", "net")


class Cluster(Driven):
    adapter, model, ref = DockerClusterAdapter(), DockerClusterSpec, ObjectRef("StackeryDockerCluster", NS, "apps", "uid-cluster")


class Service(Driven):
    adapter, model, ref = DockerServiceAdapter(), DockerServiceSpec, ObjectRef("StackeryDockerService", NS, "api", "uid-service")

    def req(self) -> Any:
        from dataclasses import replace

        return replace(super().req(), wiring=WIRING)


class Balancer(Driven):
    adapter, model, ref = LoadBalancerAdapter(), LoadBalancerSpec, ObjectRef("StackeryLoadBalancer", NS, "web", "uid-lb")

    def req(self) -> Any:
        from dataclasses import replace

        return replace(super().req(), wiring=WIRING)


def make(adapter: Any, model: Any, kind: str, name: str, spec: dict[str, Any], nodes: Any = None) -> dict[str, Any]:
    ref = ObjectRef(kind, NS, name, f"uid-{name}")
    parsed = model.model_validate(spec)
    req = Request(
        ref=ref,
        spec=parsed,
        region="us-east-1",
        external_name=adapter.external_name(ref, parsed),
        nodes=nodes or {},
        wiring=WIRING,
    )
    return dict(converge(adapter, req).identifiers)


def ecs() -> Any:
    return boto3.client("ecs", region_name="us-east-1")


def elb() -> Any:
    return boto3.client("elbv2", region_name="us-east-1")


def ec2() -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def stack() -> tuple[dict[str, Any], Cluster, Service]:
    net = make_network()
    cluster = Cluster({"virtualNetwork": "net"}, {NET: net})
    cobs = cluster.sync()
    assert cobs.diffs == () and cobs.identifiers["vpcId"] == net["vpcId"]
    table = make(TableAdapter(), TableSpec, "StackeryTable", "orders", {})
    svc = Service(
        {
            "cluster": "apps",
            "image": "public.ecr.aws/nginx/nginx:1.27",
            "port": 8080,
            "desiredCount": 0,
            "environment": {"LOG_LEVEL": "info"},
            "healthCheck": {"path": "/health"},
            "connections": [{"kind": "StackeryTable", "name": "orders"}],
        },
        {("StackeryDockerCluster", "apps"): dict(cluster.status), ("StackeryTable", "orders"): table},
    )
    return net, cluster, svc


def test_service_runs_private_with_connection_grants_and_one_revision(aws: None) -> None:
    net, cluster, svc = stack()
    obs = svc.sync()
    assert obs.diffs == () and obs.waiting is None, obs.diffs
    ids = obs.identifiers
    s = ecs().describe_services(cluster=cluster.status["clusterName"], services=[ids["serviceName"]])["services"][0]
    net_cfg = s["networkConfiguration"]["awsvpcConfiguration"]
    assert net_cfg["assignPublicIp"] == "DISABLED"
    assert sorted(net_cfg["subnets"]) == sorted(z["privateSubnetId"] for z in net["zones"])
    assert net_cfg["securityGroups"] == [ids["securityGroupId"]]
    own = ec2().describe_security_groups(GroupIds=[ids["securityGroupId"]])["SecurityGroups"][0]
    assert [(p["FromPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]], p["IpRanges"]) for p in own["IpPermissions"]] == [
        (8080, [ids["clientSecurityGroupId"]], [])
    ]
    td = ecs().describe_task_definition(taskDefinition=ids["taskDefinitionArn"])["taskDefinition"]
    env = {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}
    assert env["LOG_LEVEL"] == "info" and env["TABLE_NAME"] and env["TABLE_ARN"].startswith("arn:aws:dynamodb")
    assert td["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"] == log_group(svc.ref)
    iam = boto3.client("iam", region_name="us-east-1")
    role = td["taskRoleArn"].rsplit("/", 1)[1]
    doc = iam.get_role_policy(RoleName=role, PolicyName="stackery-connections")["PolicyDocument"]
    assert [st["Sid"] for st in doc["Statement"]] == ["Connection1Table"]
    assert all(env["TABLE_ARN"] in r for st in doc["Statement"] for r in st["Resource"])
    logs = boto3.client("logs", region_name="us-east-1").describe_log_groups(logGroupNamePrefix=log_group(svc.ref))["logGroups"]
    assert [g["retentionInDays"] for g in logs] == [30]

    # checks of an unchanged spec: reads only, no new revision
    before = api_calls()
    for _ in range(3):
        assert svc.sync().diffs == ()
    assert writes(delta(before, api_calls())) == {}
    assert len(ecs().list_task_definitions(familyPrefix=family(svc.ref))["taskDefinitionArns"]) == 1

    # a new image: one new revision, the service moved to it, the old one deregistered
    svc.spec["image"] = "public.ecr.aws/nginx/nginx:1.28"
    obs = svc.sync()
    assert obs.diffs == () and obs.identifiers["revision"] == 2
    active = ecs().list_task_definitions(familyPrefix=family(svc.ref), status="ACTIVE")["taskDefinitionArns"]
    assert [a.rsplit(":", 1)[1] for a in active] == ["2"]
    s = ecs().describe_services(cluster=cluster.status["clusterName"], services=[ids["serviceName"]])["services"][0]
    assert s["taskDefinition"].endswith(":2")


def test_load_balancer_routes_to_service_and_function_and_drift(aws: None) -> None:
    net, cluster, svc = stack()
    svc.sync()
    fn = make(FunctionAdapter(), FunctionSpec, "StackeryFunction", "hello", {"code": {"zipBase64": _zip()}})
    lb = Balancer(
        {
            "virtualNetwork": "net",
            "routes": [{"paths": ["/api/*"], "dockerService": "api"}, {"paths": ["/hello"], "function": "hello"}],
        },
        {NET: net, ("StackeryDockerService", "api"): dict(svc.status), ("StackeryFunction", "hello"): fn},
    )
    obs = lb.sync()
    assert obs.diffs == () and obs.waiting is None, obs.diffs
    ids = obs.identifiers
    assert obs.outputs["LB_DNS_NAME"] == ids["dnsName"] and ids["listeners"] == ["HTTP:80"]
    got = elb().describe_load_balancers(LoadBalancerArns=[ids["arn"]])["LoadBalancers"][0]
    assert got["Scheme"] == "internet-facing"
    assert sorted(z["SubnetId"] for z in got["AvailabilityZones"]) == sorted(z["publicSubnetId"] for z in net["zones"])
    assert sorted(got["SecurityGroups"]) == sorted([ids["securityGroupId"], svc.status["clientSecurityGroupId"]])
    sg = ec2().describe_security_groups(GroupIds=[ids["securityGroupId"]])["SecurityGroups"][0]
    assert [(p["FromPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in sg["IpPermissions"]] == [(80, ["0.0.0.0/0"])]
    assert [(r["target"], r["priority"]) for r in ids["routes"]] == [
        ("StackeryDockerService/api", 1),
        ("StackeryFunction/hello", 2),
    ]
    tgs = {r["target"]: r["targetGroupArn"] for r in ids["routes"]}
    ip_tg = elb().describe_target_groups(TargetGroupArns=[tgs["StackeryDockerService/api"]])["TargetGroups"][0]
    assert (ip_tg["TargetType"], ip_tg["Port"], ip_tg["HealthCheckPath"], ip_tg["VpcId"]) == ("ip", 8080, "/health", net["vpcId"])
    lam_tg = tgs["StackeryFunction/hello"]
    assert [t["Target"]["Id"] for t in elb().describe_target_health(TargetGroupArn=lam_tg)["TargetHealthDescriptions"]] == [
        fn["arn"]
    ]
    policy = boto3.client("lambda", region_name="us-east-1").get_policy(FunctionName=fn["externalName"])["Policy"]
    assert lam_tg in policy

    # the service registers its tasks in the target group made for it (its own ECS service, next check)
    sobs = svc.sync()
    assert sobs.identifiers["targetGroups"] == [tgs["StackeryDockerService/api"]]
    s = ecs().describe_services(cluster=cluster.status["clusterName"], services=[svc.status["serviceName"]])["services"][0]
    assert s["loadBalancers"] == [
        {"targetGroupArn": tgs["StackeryDockerService/api"], "containerName": "app", "containerPort": 8080}
    ]

    # drift: a rule removed, the service's group opened to the world, desiredCount changed
    rules = elb().describe_rules(ListenerArn=elb().describe_listeners(LoadBalancerArn=ids["arn"])["Listeners"][0]["ListenerArn"])[
        "Rules"
    ]
    elb().delete_rule(RuleArn=next(r["RuleArn"] for r in rules if r["Priority"] == "1"))
    ec2().authorize_security_group_ingress(
        GroupId=svc.status["securityGroupId"], CidrIp="0.0.0.0/0", IpProtocol="tcp", FromPort=8080, ToPort=8080
    )
    ecs().update_service(cluster=cluster.status["clusterName"], service=svc.status["serviceName"], desiredCount=3)
    assert {d.field for d in lb.adapter.observe(lb.req()).diffs} == {"rules"}
    assert {d.field for d in svc.adapter.observe(svc.req()).diffs} == {"desiredCount", "securityGroup.ingress"}
    assert lb.sync().diffs == () and svc.sync().diffs == ()
    assert (
        len(
            elb().describe_rules(ListenerArn=elb().describe_listeners(LoadBalancerArn=ids["arn"])["Listeners"][0]["ListenerArn"])[
                "Rules"
            ]
        )
        == 3
    )

    # a route removed: its rule, target group and invoke permission go
    lb.spec["routes"] = lb.spec["routes"][:1]
    assert lb.sync().diffs == ()
    assert [g["TargetGroupArn"] for g in elb().describe_target_groups()["TargetGroups"]] == [tgs["StackeryDockerService/api"]]
    with pytest.raises(Exception, match="ResourceNotFound"):
        boto3.client("lambda", region_name="us-east-1").get_policy(FunctionName=fn["externalName"])

    # delete everything, the load balancer first: nothing is left
    for d in (lb, svc, cluster):
        r = d.req()
        assert d.adapter.delete(r, d.adapter.observe(r)).done
        for _ in range(3):
            again = d.adapter.observe(r)
            if not again.exists and not again.residual:
                break
            d.adapter.delete(r, again)
        again = d.adapter.observe(r)
        assert not again.exists and not again.residual, (d.ref, again)
    assert elb().describe_load_balancers()["LoadBalancers"] == [] and elb().describe_target_groups()["TargetGroups"] == []
    assert [
        s["status"]
        for s in ecs().describe_services(cluster=cluster.status["clusterName"], services=[svc.status["serviceName"]])["services"]
    ] in ([], ["INACTIVE"])
    assert ecs().list_task_definitions(familyPrefix=family(svc.ref), status="ACTIVE")["taskDefinitionArns"] == []
    left = [
        g["GroupName"]
        for g in ec2().describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [net["vpcId"]]}])["SecurityGroups"]
    ]
    assert left == ["default"]
    roles = [r["RoleName"] for r in boto3.client("iam", region_name="us-east-1").list_roles()["Roles"]]
    assert not any(r.startswith(("stackery-task", "stackery-taskexec")) for r in roles)
    assert boto3.client("logs", region_name="us-east-1").describe_log_groups(logGroupNamePrefix="/stackery/")["logGroups"] == []
    assert [c["status"] for c in ecs().describe_clusters(clusters=[cluster.status["clusterName"]])["clusters"]] in (
        [],
        ["INACTIVE"],
    )


def _service_seen(svc: Service, record: dict[str, Any]) -> Any:
    ctx = Context(svc.req())
    return ServicePart()._seen(ctx, record, [])


def test_deployment_states_moto_never_shows(aws: None) -> None:
    """moto never runs tasks, so a rolling deployment and a circuit-breaker rollback are fed as the ECS
    records AWS returns (DescribeServices shapes)."""
    _, _, svc = stack()
    base = {
        "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/c/s",
        "serviceName": "s",
        "status": "ACTIVE",
        "desiredCount": 2,
        "runningCount": 1,
        "pendingCount": 1,
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/f:4",
    }
    rolling = {
        **base,
        "deployments": [{"status": "PRIMARY", "rolloutState": "IN_PROGRESS"}, {"status": "ACTIVE", "rolloutState": "COMPLETED"}],
    }
    seen = _service_seen(svc, rolling)
    assert seen.waiting_reason == "DeploymentInProgress" and "revision 4" in str(seen.waiting) and "1 of 2" in str(seen.waiting)
    failed = {
        **base,
        "deployments": [{"status": "PRIMARY", "rolloutState": "FAILED", "rolloutStateReason": "tasks failed to start"}],
    }
    seen = _service_seen(svc, failed)
    assert seen.waiting_reason == "DeploymentFailed" and "tasks failed to start" in str(seen.waiting)
    assert [(c.type, c.status, c.reason) for c in seen.conditions] == [("Deployed", "False", "DeploymentFailed")]
    done = {**base, "runningCount": 2, "pendingCount": 0, "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]}
    seen = _service_seen(svc, done)
    assert seen.waiting is None and seen.identifiers["runningCount"] == 2 and seen.identifiers["rolloutState"] == "COMPLETED"


@pytest.mark.parametrize(
    ("cpu", "memory", "ok"),
    [
        (256, 512, True),
        (256, 4096, False),
        (512, 1536, False),
        (1024, 3072, True),
        (4096, 31744, False),
        (16384, 122880, True),
        (300, 512, False),
    ],
)
def test_fargate_pairs(cpu: int, memory: int, ok: bool) -> None:
    spec = {"cluster": "apps", "image": "nginx", "cpu": cpu, "memory": memory}
    if ok:
        DockerServiceSpec.model_validate(spec)
    else:
        with pytest.raises(ValidationError, match="Fargate pair|greater than|less than"):
            DockerServiceSpec.model_validate(spec)


def test_route_rules() -> None:
    with pytest.raises(ValidationError, match="exactly one of dockerService or function"):
        LoadBalancerSpec.model_validate(
            {"virtualNetwork": "net", "routes": [{"paths": ["/"], "dockerService": "a", "function": "b"}]}
        )
    with pytest.raises(ValidationError, match="needs paths, hosts or both"):
        LoadBalancerSpec.model_validate({"virtualNetwork": "net", "routes": [{"dockerService": "a"}]})
    with pytest.raises(ValidationError, match="domains or certificateArn"):
        LoadBalancerSpec.model_validate(
            {
                "virtualNetwork": "net",
                "domains": ["a.example.com"],
                "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            }
        )


def test_https_with_the_certificate_part_and_http_redirect(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import settings

    from controller.errors import WaitingError

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3600)
    net, _, svc = stack()
    svc.sync()
    lb = Balancer(
        {
            "virtualNetwork": "net",
            "domains": ["app.example.com"],
            "routes": [{"hosts": ["app.example.com"], "dockerService": "api"}],
        },
        {NET: net, ("StackeryDockerService", "api"): dict(svc.status)},
    )
    with pytest.raises(WaitingError) as err:  # the listeners wait for the certificate; the ALB is made meanwhile
        lb.adapter.create(lb.req())
    assert err.value.reason == "PendingValidation"
    obs = lb.adapter.observe(lb.req())
    cond = next(c for c in obs.conditions if c.type == "CertificateIssued")
    rec = obs.identifiers["validationRecords"][0]
    assert cond.status == "False" and rec["name"] in cond.message and obs.identifiers["dnsName"]
    sg = ec2().describe_security_groups(GroupIds=[obs.identifiers["securityGroupId"]])["SecurityGroups"][0]
    assert sorted(p["FromPort"] for p in sg["IpPermissions"]) == [80, 443]

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 0)
    obs = lb.sync()
    assert obs.diffs == () and obs.identifiers["listeners"] == ["HTTP:80", "HTTPS:443"]
    listeners = {x["Port"]: x for x in elb().describe_listeners(LoadBalancerArn=obs.identifiers["arn"])["Listeners"]}
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"][0]["CertificateArn"] == obs.identifiers["certificateArn"]
    assert listeners[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    rules = [r for r in elb().describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert [c["Field"] for c in rules[0]["Conditions"]] == ["host-header"]


def test_deletion_protection_refuses_then_turns_aws_protection_off(aws: None) -> None:
    from controller.errors import BlockedError

    net, _, _ = stack()
    lb = Balancer({"virtualNetwork": "net", "deletionProtection": True}, {NET: net})
    obs = lb.sync()
    attrs = {
        a["Key"]: a["Value"]
        for a in elb().describe_load_balancer_attributes(LoadBalancerArn=obs.identifiers["arn"])["Attributes"]
    }
    assert attrs["deletion_protection.enabled"] == "true"
    before = api_calls()
    with pytest.raises(BlockedError, match="deletionProtection.:false") as err:
        lb.adapter.delete(lb.req(), lb.adapter.observe(lb.req()))
    assert err.value.reason == "DeletionProtected" and writes(delta(before, api_calls())) == {}
    lb.spec["deletionProtection"] = False  # the user's clear ask: AWS's own protection goes first
    r = lb.req()  # (moto deletes a protected load balancer anyway: that the protection was turned off is checked)
    before = api_calls()
    assert lb.adapter.delete(r, lb.adapter.observe(r)).done
    made = writes(delta(before, api_calls()))
    assert made["ModifyLoadBalancerAttributes"] == 1 and made["DeleteLoadBalancer"] == 1
    assert elb().describe_load_balancers()["LoadBalancers"] == []


def test_service_connected_to_a_database_carries_its_client_group(aws: None) -> None:
    net, cluster, svc = stack()
    client_group = ec2().create_security_group(GroupName="db-clients", Description="x", VpcId=net["vpcId"])["GroupId"]
    db = {
        "virtualNetwork": "net",
        "clientSecurityGroupId": client_group,
        "masterUserSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-abc",
        "endpoint": "db.example",
        "port": 5432,
        "arn": "arn:aws:rds:us-east-1:123456789012:db:db",
        "externalName": "db",
    }
    svc.nodes[("StackeryDatabase", "orders-db")] = db
    svc.spec["connections"] = [{"kind": "StackeryDatabase", "name": "orders-db"}]
    obs = svc.sync()
    assert obs.diffs == ()
    s = ecs().describe_services(cluster=cluster.status["clusterName"], services=[svc.status["serviceName"]])["services"][0]
    assert sorted(s["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"]) == sorted(
        [svc.status["securityGroupId"], client_group]
    )
    # a database in another network is refused before any AWS write
    svc.nodes[("StackeryDatabase", "orders-db")] = {**db, "virtualNetwork": "other"}
    from controller.errors import InvalidSpecError

    before = api_calls()
    with pytest.raises(InvalidSpecError, match="reachable only inside StackeryVirtualNetwork other"):
        svc.adapter.update(svc.req(), svc.adapter.observe(svc.req()))
    assert writes(delta(before, api_calls())) == {}
