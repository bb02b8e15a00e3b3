"""StackeryDockerCluster, StackeryDockerService and StackeryLoadBalancer on a real apiserver against a moto
server: a service connected to a Table behind a load balancer reaches Ready (desiredCount 0: moto runs
no tasks), registers in the target group made for it, keeps one task-definition revision over several
unchanged checks and makes exactly one more for a new image; drift (desiredCount changed, a listener rule
removed, the service's group opened to 0.0.0.0/0) reported then corrected; bad cpu/memory pairs refused
at admission; deleting every object at once, dependencies first, leaves nothing in AWS."""

from __future__ import annotations

import functools
import json
from typing import Any

import testbed

from .conftest import apply_list, aws, delete_all_at_once, node, ready, wait_for

NS = "containers"
obj = functools.partial(node, namespace=NS)


def status(bed: testbed.TestBed, kind: str, name: str) -> dict[str, Any]:
    return dict(bed.get(kind, name, NS).get("status") or {})


def drift(bed: testbed.TestBed, kind: str, name: str) -> set[str]:
    return {d["field"] for d in status(bed, kind, name).get("drift") or []}


def leftovers(bed: testbed.TestBed, cluster: str, service: str, family: str, vpc: str) -> dict[str, list[str]]:
    ecs, elb, ec2, iam, logs = (aws(bed, s) for s in ("ecs", "elbv2", "ec2", "iam", "logs"))
    services = [
        s["serviceName"]
        for s in ecs.describe_services(cluster=cluster, services=[service])["services"]
        if s["status"] != "INACTIVE"
    ]
    lbs = [lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["VpcId"] == vpc]
    found = {
        "services": services,
        "clusters": [
            c["clusterName"] for c in ecs.describe_clusters(clusters=[cluster])["clusters"] if c["status"] != "INACTIVE"
        ],
        "activeRevisions": ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"],
        "loadBalancers": [lb["LoadBalancerName"] for lb in lbs],
        "listeners": [
            x["ListenerArn"] for lb in lbs for x in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        ],
        "targetGroups": [
            g["TargetGroupName"] for g in elb.describe_target_groups()["TargetGroups"] if g.get("VpcId") in (vpc, None)
        ],
        "securityGroups": [
            g["GroupId"]
            for g in ec2.describe_security_groups(Filters=[{"Name": "tag:stackery.io/namespace", "Values": [NS]}])[
                "SecurityGroups"
            ]
        ],
        "roles": [r["RoleName"] for r in iam.list_roles(PathPrefix=f"/stackery/{NS}/")["Roles"]],
        "logGroups": [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=f"/stackery/{NS}/")["logGroups"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]]
        if vpc in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
        else [],
    }
    return {k: v for k, v in found.items() if v}


def test_service_behind_load_balancer_revisions_drift_admission_and_delete_at_once(bed: testbed.TestBed) -> None:
    bed.kubectl("create", "namespace", NS)
    apply_list(
        bed,
        obj("StackeryVirtualNetwork", "net", natGateways="None"),
        obj("StackeryTable", "orders"),
        obj("StackeryDockerCluster", "apps", virtualNetwork="net"),
        obj(
            "StackeryDockerService",
            "api",
            cluster="apps",
            image="public.ecr.aws/nginx/nginx:1.27",
            port=8080,
            desiredCount=0,
            healthCheck={"path": "/health"},
            connections=[{"kind": "StackeryTable", "name": "orders"}],
        ),
        obj(
            "StackeryLoadBalancer",
            "web",
            virtualNetwork="net",
            routes=[{"paths": ["/*"], "dockerService": "api"}],
        ),
    )
    svc = wait_for(lambda: ready(bed, "stackerydockerservice", "api", NS), timeout=150, what="service Ready")
    lb = wait_for(lambda: ready(bed, "stackeryloadbalancer", "web", NS), timeout=150, what="load balancer Ready")
    cluster = status(bed, "stackerydockercluster", "apps")
    st, lst = svc["status"], lb["status"]
    assert st["revision"] == 1 and st["desiredCount"] == 0 and st["rolloutState"] == "COMPLETED"
    assert "TABLE_NAME" in st["environmentKeys"] and lst["dnsName"] and lst["listeners"] == ["HTTP:80"]
    ecs, elb, ec2 = aws(bed, "ecs"), aws(bed, "elbv2"), aws(bed, "ec2")
    got_lb = elb.describe_load_balancers(LoadBalancerArns=[lst["arn"]])["LoadBalancers"][0]
    assert st["clientSecurityGroupId"] in got_lb["SecurityGroups"]
    tg = lst["routes"][0]["targetGroupArn"]

    # the service registers its tasks in the target group the load balancer made for it (its next check)
    def registered() -> Any:
        got = ecs.describe_services(cluster=cluster["clusterName"], services=[st["serviceName"]])["services"][0]
        return got if got["loadBalancers"] else None

    s = wait_for(registered, timeout=60, what="service registered in the target group")
    assert s["loadBalancers"] == [{"targetGroupArn": tg, "containerName": "app", "containerPort": 8080}]
    wait_for(
        lambda: status(bed, "stackerydockerservice", "api").get("targetGroups") == [tg], timeout=30, what="targetGroups in status"
    )
    assert s["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"

    # several checks of an unchanged spec: still one revision
    first = status(bed, "stackerydockerservice", "api")["lastSyncTime"]
    wait_for(lambda: status(bed, "stackerydockerservice", "api")["lastSyncTime"] != first, timeout=60, what="a check")
    second = status(bed, "stackerydockerservice", "api")["lastSyncTime"]
    wait_for(lambda: status(bed, "stackerydockerservice", "api")["lastSyncTime"] != second, timeout=60, what="another check")
    family = st["taskDefinitionArn"].rsplit("/", 1)[1].rsplit(":", 1)[0]
    assert len(ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]) == 1

    # a new image: exactly one new revision, the service deployed with it, the old one deregistered
    bed.kubectl(
        "patch",
        "stackerydockerservice",
        "api",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        '{"spec":{"image":"public.ecr.aws/nginx/nginx:1.28"}}',
    )
    wait_for(lambda: status(bed, "stackerydockerservice", "api").get("revision") == 2, timeout=60, what="revision 2")
    assert [
        a.rsplit(":", 1)[1] for a in ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    ] == ["2"]
    assert [
        a.rsplit(":", 1)[1] for a in ecs.list_task_definitions(familyPrefix=family, status="INACTIVE")["taskDefinitionArns"]
    ] == ["1"]
    s = ecs.describe_services(cluster=cluster["clusterName"], services=[st["serviceName"]])["services"][0]
    assert s["taskDefinition"].endswith(":2")

    # drift behind the operator's back: reported (driftPolicy Report), then corrected
    for kind, name in (("stackerydockerservice", "api"), ("stackeryloadbalancer", "web")):
        gen = bed.get(kind, name, NS)["metadata"]["generation"] + 1
        bed.kubectl("patch", kind, name, "-n", NS, "--type", "merge", "-p", '{"spec":{"driftPolicy":"Report"}}')
        wait_for(
            lambda k=kind, n=name, g=gen: status(bed, k, n).get("observedGeneration") == g, timeout=60, what=f"{kind} Report"
        )  # type: ignore[misc]
    ecs.update_service(cluster=cluster["clusterName"], service=st["serviceName"], desiredCount=2)
    ec2.authorize_security_group_ingress(
        GroupId=st["securityGroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    listener = elb.describe_listeners(LoadBalancerArn=lst["arn"])["Listeners"][0]["ListenerArn"]
    elb.delete_rule(RuleArn=next(r["RuleArn"] for r in elb.describe_rules(ListenerArn=listener)["Rules"] if not r["IsDefault"]))
    wait_for(
        lambda: drift(bed, "stackerydockerservice", "api") >= {"desiredCount", "securityGroup.ingress"},
        timeout=60,
        what="service drift",
    )
    wait_for(lambda: "rules" in drift(bed, "stackeryloadbalancer", "web"), timeout=60, what="load balancer drift")
    for kind, name in (("stackerydockerservice", "api"), ("stackeryloadbalancer", "web")):
        bed.kubectl("patch", kind, name, "-n", NS, "--type", "merge", "-p", '{"spec":{"driftPolicy":"Correct"}}')
    wait_for(
        lambda: not drift(bed, "stackerydockerservice", "api") and not drift(bed, "stackeryloadbalancer", "web"),
        timeout=60,
        what="drift corrected",
    )
    s = ecs.describe_services(cluster=cluster["clusterName"], services=[st["serviceName"]])["services"][0]
    assert s["desiredCount"] == 0
    perms = ec2.describe_security_groups(GroupIds=[st["securityGroupId"]])["SecurityGroups"][0]["IpPermissions"]
    assert [(p["FromPort"], p["IpRanges"], [g["GroupId"] for g in p["UserIdGroupPairs"]]) for p in perms] == [
        (8080, [], [st["clientSecurityGroupId"]])
    ]
    wait_for(
        lambda: len([r for r in elb.describe_rules(ListenerArn=listener)["Rules"] if not r["IsDefault"]]) == 1,
        timeout=30,
        what="the rule put back",
    )

    # admission: cpu/memory must be a Fargate pair
    bad = obj("StackeryDockerService", "bad", cluster="apps", image="nginx", cpu=256, memory=4096)
    out = bed.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert out.returncode != 0 and "Fargate pair" in out.stderr, out.stderr

    # everything deleted at once, what a namespace delete or a GitOps prune does (the test bed runs no
    # kube-controller-manager, so the objects are deleted directly), dependencies listed first: the
    # network waits for the cluster and the load balancer, the cluster for the service, the service for
    # the load balancer routing to it (InUse), and the load balancer goes first
    vpc = status(bed, "stackeryvirtualnetwork", "net")["vpcId"]
    kinds = "stackeryvirtualnetworks,stackerytables,stackerydockerclusters,stackerydockerservices,stackeryloadbalancers"
    delete_all_at_once(bed, kinds, NS)
    assert leftovers(bed, cluster["clusterName"], st["serviceName"], family, vpc) == {}
