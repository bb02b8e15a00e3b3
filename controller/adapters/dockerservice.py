"""Docker Service: five parts — a log group, two roles (task and execution), its security groups (its own,
admitting the container port from its client group only, and that client group), the task definition and
the ECS service — composed by core.parts.

Where it runs comes from its StackeryDockerCluster (the cluster's network, VPC and private subnets), never
from its own spec, so the two cannot disagree. The task role holds what its connections grant (the same
core.wiring as a Function's connections) and nothing else; the containers get the connections'
environment names. A connected Database's client group is carried by the service's tasks.

A new task-definition revision is registered only when the rendered definition differs from the current
revision's (canonical comparison of exactly the fields this adapter sets), never on a plain check; the
revision it replaces is deregistered once the new one is registered.

Load balancers: a StackeryLoadBalancer routing to this service owns the target group (tagged
stackery.io/route-to=<namespace>/<name>) and carries this service's client group. The service finds such
target groups (same namespace, attached to a load balancer) and registers its tasks in them
(loadBalancers of the ECS service): the service writes only its own ECS service, the load balancer only
its own target group, and neither waits for the other to be Ready.

Ready: the newest deployment's rolloutState is COMPLETED. IN_PROGRESS is Reconciling
(DeploymentInProgress); FAILED (the circuit breaker rolled back) is reported as DeploymentFailed with
ECS's reason. moto never runs tasks: a service with desiredCount > 0 created there stays IN_PROGRESS.

Delete: desiredCount 0, delete_service (force), wait while DRAINING, then deregister and delete every
revision of the family, the groups, the roles and the log group.

Read budget of one drift check: DescribeLogGroups + ListTagsForResource (log group), GetRole + GetRolePolicy
x2, DescribeSecurityGroups (both groups), DescribeTaskDefinition, DescribeServices, GetResources (target
groups routed here; + DescribeTargetGroups when any) = 10 (11).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..api.dockerservice import DockerServiceSpec
from ..aws.clients import account_id, client, error_code, or_none
from ..core.adapter import NodeRef, ObjectRef, Observation, Reference, Request
from ..core.conditions import Cond
from ..core.parts import Composite, Context, Seen
from ..core.wiring import Access, GrantContext, Statement, Wiring, connection_statements, environment, network_groups
from ..errors import OwnershipConflictError, RecoverableError
from ..policy import Claim
from .common import canon, compare, dns_name, owner_of
from .ecs import ROUTE_TAG, cluster_name, ecs_tag_dict, ecs_tags, route_key
from .execrole import ExecutionRole
from .guard import GuardedGroupsPart

Ctx = Context[DockerServiceSpec]
CLUSTER = "StackeryDockerCluster"
CONTAINER = "app"
TASK_ROLE = ExecutionRole("stackery-task", "ecs-tasks.amazonaws.com")
EXEC_ROLE = ExecutionRole("stackery-taskexec", "ecs-tasks.amazonaws.com")


# ------------------------------------------------------------------ names and where it runs
def family(ref: ObjectRef) -> str:
    return dns_name("stackery", ref, max_len=255)


def service_name(ref: ObjectRef) -> str:
    return dns_name("stackery", ref, max_len=255)


def log_group(ref: ObjectRef) -> str:
    return f"/stackery/{ref.namespace}/{ref.name}"


def cluster_of(ctx: Ctx) -> str:
    """The ECS cluster's name, derived (it is deterministic), so a delete needs no cluster status."""
    return cluster_name(ObjectRef(CLUSTER, ctx.req.ref.namespace, ctx.req.spec.cluster, ""))


def placement(ctx: Ctx) -> Mapping[str, Any]:
    """The cluster's status: virtualNetwork, vpcId, privateSubnetIds (empty while not handed over, in a delete)."""
    return ctx.req.nodes.get((CLUSTER, ctx.req.spec.cluster)) or {}


def resolved(req: Request[DockerServiceSpec]) -> bool:
    """Every node it needs was handed over (not so during a delete, when they may be gone already): only then
    are the desired role policy and task definition known, and compared."""
    wanted = [(CLUSTER, req.spec.cluster), *((c.kind, c.name) for c in req.spec.connections)]
    return all(w in req.nodes for w in wanted)


def vpc(ctx: Ctx) -> str | None:
    got = placement(ctx).get("vpcId") or ctx.req.status.get("vpcId")
    return str(got) if got else None


# ------------------------------------------------------------------ log group
class LogGroupPart:
    name = "logGroup"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        logs, name = client("logs", ctx.req.region), log_group(ctx.req.ref)
        found = [g for g in logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", []) if g["logGroupName"] == name]
        if not found:
            return Seen(exists=False)
        arn = str(found[0].get("logGroupArn") or found[0]["arn"].removesuffix(":*"))
        tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
        return self._seen(ctx, {**found[0], "tags": tags})

    def _seen(self, ctx: Ctx, g: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        uid, owner = owner_of(g.get("tags") or {})
        return Seen(
            exists=True,
            actual=dict(g),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(compare("logRetentionDays", ctx.req.spec.log_retention_days, g.get("retentionInDays"))),
            identifiers={"logGroup": g["logGroupName"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        logs, name = client("logs", ctx.req.region), log_group(ctx.req.ref)
        g = dict(seen.actual or {})
        if not seen.exists:
            try:
                logs.create_log_group(logGroupName=name, tags=ctx.req.tags())
                g = {"logGroupName": name, "tags": ctx.req.tags()}
            except Exception as exc:
                if error_code(exc) != "ResourceAlreadyExistsException":
                    raise
                again = self.observe(ctx)  # a retried create: whose is it?
                if again.owner_uid != ctx.req.ref.uid:
                    raise OwnershipConflictError(f"log group {name} belongs to {again.owner or 'nobody (untagged)'}") from None
                g = dict(again.actual or {})
        logs.put_retention_policy(logGroupName=name, retentionInDays=ctx.req.spec.log_retention_days)
        return self._seen(ctx, {**g, "retentionInDays": ctx.req.spec.log_retention_days})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        logs = client("logs", ctx.req.region)
        or_none(lambda: logs.delete_log_group(logGroupName=log_group(ctx.req.ref)), "ResourceNotFoundException")
        return None


# ------------------------------------------------------------------ roles
def task_policy(ctx: Ctx) -> dict[str, Any]:
    """What its connections grant, on exactly their ARNs (a statement that grants nothing when none)."""
    spec, req = ctx.req.spec, ctx.req
    statements: list[Statement] = connection_statements(
        spec.connections, req.nodes, req.wiring, GrantContext(region=req.region, account=account_id(req.region))
    )
    if not statements:
        statements = [{"Sid": "NoConnections", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}]
    return {"Version": "2012-10-17", "Statement": statements}


def exec_policy(ctx: Ctx) -> dict[str, Any]:
    """Pull the image (ECR, any repository: the image is the user's choice) and write its own log group."""
    region, account = ctx.req.region, account_id(ctx.req.region)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EcrAuth", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {
                "Sid": "EcrPull",
                "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                "Resource": f"arn:aws:ecr:{region}:{account}:repository/*",
            },
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:{region}:{account}:log-group:{log_group(ctx.req.ref)}:*",
            },
        ],
    }


class RolesPart:
    name = "roles"
    after: tuple[str, ...] = ("logGroup",)

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        task, execution = TASK_ROLE.policy(ctx.req), EXEC_ROLE.policy(ctx.req)
        if task is None and execution is None and not TASK_ROLE.held(ctx.req) and not EXEC_ROLE.held(ctx.req):
            return Seen(exists=False)
        return self._seen(ctx, task, execution)

    def _seen(self, ctx: Ctx, task: Any, execution: Any) -> Seen[dict[str, Any]]:
        account = account_id(ctx.req.region)
        diffs = (
            [*compare("taskRole.policy", task_policy(ctx), task), *compare("executionRole.policy", exec_policy(ctx), execution)]
            if resolved(ctx.req)
            else []
        )
        return Seen(
            exists=True,
            actual={"task": task, "exec": execution},
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={
                "taskRoleArn": TASK_ROLE.arn(ctx.req.ref, account),
                "executionRoleArn": EXEC_ROLE.arn(ctx.req.ref, account),
            },
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        what = f"DockerService {ctx.req.ref.namespace}/{ctx.req.ref.name}"
        fields = {d.field for d in seen.diffs}
        task, execution = task_policy(ctx), exec_policy(ctx)
        if not seen.exists or "taskRole.policy" in fields:
            TASK_ROLE.ensure(ctx.req, task, f"{what}: its containers' permissions")
        if not seen.exists or "executionRole.policy" in fields:
            EXEC_ROLE.ensure(ctx.req, execution, f"{what}: image pull and logs")
        return self._seen(ctx, task, execution)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        TASK_ROLE.delete(ctx.req)
        EXEC_ROLE.delete(ctx.req)
        return None


# ------------------------------------------------------------------ task definition
def container(ctx: Ctx) -> dict[str, Any]:
    spec, req = ctx.req.spec, ctx.req
    env = environment(spec.environment, spec.connections, req.nodes, req.wiring)
    c: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image,
        "essential": True,
        "portMappings": [{"containerPort": spec.port, "protocol": "tcp"}] if spec.port else [],
        "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "command": list(spec.command),
        "readonlyRootFilesystem": spec.readonly_root_filesystem,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": log_group(req.ref), "awslogs-region": req.region, "awslogs-stream-prefix": CONTAINER},
        },
    }
    if spec.health_check.command:
        c["healthCheck"] = {
            "command": list(spec.health_check.command),
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 0,
        }
    return c


def rendered(ctx: Ctx) -> dict[str, Any]:
    """The task definition this spec asks for, in the shape DescribeTaskDefinition returns."""
    spec, account = ctx.req.spec, account_id(ctx.req.region)
    return {
        "family": family(ctx.req.ref),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(spec.cpu),
        "memory": str(spec.memory),
        "runtimePlatform": {"cpuArchitecture": spec.architecture, "operatingSystemFamily": "LINUX"},
        "taskRoleArn": TASK_ROLE.arn(ctx.req.ref, account),
        "executionRoleArn": EXEC_ROLE.arn(ctx.req.ref, account),
        "containerDefinitions": [container(ctx)],
    }


def canonical(td: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the fields `rendered` sets, with ECS's added defaults dropped (no revision per check)."""
    want = {k: td.get(k) for k in ("family", "networkMode", "cpu", "memory", "taskRoleArn", "executionRoleArn")}
    want["requiresCompatibilities"] = sorted(td.get("requiresCompatibilities") or [])
    rp = td.get("runtimePlatform") or {}
    want["runtimePlatform"] = {"cpuArchitecture": rp.get("cpuArchitecture", "X86_64"), "operatingSystemFamily": "LINUX"}
    defs = []
    for c in td.get("containerDefinitions") or []:
        d = {k: c.get(k) for k in ("name", "image", "logConfiguration")}
        d["essential"] = c.get("essential", True)
        d["portMappings"] = [
            {"containerPort": p["containerPort"], "protocol": p.get("protocol", "tcp")} for p in c.get("portMappings") or []
        ]
        d["environment"] = sorted(c.get("environment") or [], key=lambda e: str(e["name"]))
        d["command"] = list(c.get("command") or [])
        d["readonlyRootFilesystem"] = bool(c.get("readonlyRootFilesystem"))
        hc = c.get("healthCheck")
        if hc:
            d["healthCheck"] = {k: hc.get(k) for k in ("command", "interval", "timeout", "retries", "startPeriod")}
        defs.append(d)
    want["containerDefinitions"] = defs
    return want


def _differences(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
    """Which top-level fields (or container fields) differ, for the drift entry (values can be secrets-free
    but long: the field names say what changed)."""
    out = [k for k in want if k != "containerDefinitions" and canon(want[k]) != canon(have.get(k))]
    wc, hc = (want.get("containerDefinitions") or [{}])[0], ((have.get("containerDefinitions") or [{}]) + [{}])[0]
    out += [f"container.{k}" for k in wc if canon(wc[k]) != canon(hc.get(k))]
    return out


class TaskDefinitionPart:
    name = "taskDefinition"
    after: tuple[str, ...] = ("logGroup", "roles")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        ecs = client("ecs", ctx.req.region)
        try:
            got = ecs.describe_task_definition(taskDefinition=family(ctx.req.ref), include=["TAGS"])
        except Exception as exc:
            if error_code(exc) == "ClientException":  # ECS's answer for "no such family"
                return Seen(exists=False)
            raise
        td = got["taskDefinition"]
        if td.get("status") != "ACTIVE":
            return Seen(exists=False)
        return self._seen(ctx, {**td, "tags": got.get("tags") or []})

    def _seen(self, ctx: Ctx, td: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        uid, owner = owner_of(ecs_tag_dict(td.get("tags")))
        changed = _differences(canonical(rendered(ctx)), canonical(td)) if resolved(ctx.req) else []
        return Seen(
            exists=True,
            actual=dict(td),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(compare("taskDefinition", [], changed)) if changed else (),
            identifiers={"taskDefinitionArn": td["taskDefinitionArn"], "revision": td.get("revision")},
            outputs={"TASK_DEFINITION_ARN": td["taskDefinitionArn"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        ecs, want = client("ecs", ctx.req.region), rendered(ctx)
        made = ecs.register_task_definition(**want, tags=ecs_tags(ctx.req.tags()))["taskDefinition"]
        old = (seen.actual or {}).get("taskDefinitionArn")
        if old and old != made["taskDefinitionArn"]:  # the service moves to the new revision next; running tasks keep theirs
            ecs.deregister_task_definition(taskDefinition=old)
        return self._seen(ctx, {**made, "tags": ecs_tags(ctx.req.tags())})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        ecs, fam = client("ecs", ctx.req.region), family(ctx.req.ref)
        every: list[str] = []
        for status in ("ACTIVE", "INACTIVE"):
            kwargs: dict[str, Any] = {"familyPrefix": fam, "status": status}
            while True:
                page = ecs.list_task_definitions(**kwargs)
                arns = [a for a in page.get("taskDefinitionArns", []) if a.rsplit("/", 1)[1].rsplit(":", 1)[0] == fam]
                if status == "ACTIVE":
                    for arn in arns:
                        ecs.deregister_task_definition(taskDefinition=arn)
                every += arns
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        for i in range(0, len(every), 10):  # DeleteTaskDefinitions takes at most 10
            ecs.delete_task_definitions(taskDefinitions=every[i : i + 10])
        return None


# ------------------------------------------------------------------ service
def carried_groups(ctx: Ctx) -> list[str]:
    """Client groups of connected nodes reached over the network (a Database): same network or refused."""
    spec = ctx.req.spec
    return network_groups(
        f"StackeryDockerService {ctx.req.ref.name}",
        placement(ctx).get("virtualNetwork"),
        [(c.kind, c.name) for c in spec.connections],
        ctx.req.nodes,
        ctx.req.wiring,
    )


def network_config(ctx: Ctx) -> dict[str, Any]:
    groups = ctx.seen.get("securityGroups")
    own = (groups.actual or {}).get("own", {}).get("GroupId") if groups is not None else None
    return {
        "awsvpcConfiguration": {
            "subnets": sorted(placement(ctx).get("privateSubnetIds") or []),
            "securityGroups": sorted({str(own), *carried_groups(ctx)} if own else set(carried_groups(ctx))),
            "assignPublicIp": "DISABLED",
        }
    }


def _network_of(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    a = (raw or {}).get("awsvpcConfiguration") or {}
    return {
        "awsvpcConfiguration": {
            "subnets": sorted(a.get("subnets") or []),
            "securityGroups": sorted(a.get("securityGroups") or []),
            "assignPublicIp": a.get("assignPublicIp", "DISABLED"),
        }
    }


def deployment_config(spec: DockerServiceSpec) -> dict[str, Any]:
    d = spec.deployment
    return {
        "deploymentCircuitBreaker": {"enable": d.circuit_breaker, "rollback": d.circuit_breaker},
        "maximumPercent": d.max_percent,
        "minimumHealthyPercent": d.min_healthy_percent,
    }


def load_balancers(ctx: Ctx, target_groups: list[str]) -> list[dict[str, Any]]:
    port = ctx.req.spec.port
    if port is None:
        return []
    return [{"targetGroupArn": tg, "containerName": CONTAINER, "containerPort": port} for tg in sorted(target_groups)]


def _lbs_of(raw: Any) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "targetGroupArn": lb.get("targetGroupArn"),
                "containerName": lb.get("containerName"),
                "containerPort": lb.get("containerPort"),
            }
            for lb in raw or []
        ),
        key=lambda lb: str(lb["targetGroupArn"]),
    )


def routed_target_groups(ctx: Ctx) -> list[str]:
    """Target groups a load balancer in this namespace made for this service and attached to itself."""
    if ctx.req.spec.port is None:
        return []
    found = client("resourcegroupstaggingapi", ctx.req.region).get_resources(
        ResourceTypeFilters=["elasticloadbalancing:targetgroup"],
        TagFilters=[{"Key": ROUTE_TAG, "Values": [route_key(ctx.req.ref.namespace, ctx.req.ref.name)]}],
    )
    ours = [
        r["ResourceARN"]
        for r in found.get("ResourceTagMappingList", [])
        if {t["Key"]: t["Value"] for t in r.get("Tags", [])}.get("stackery.io/namespace") == ctx.req.ref.namespace
    ]
    if not ours:
        return []
    groups = client("elbv2", ctx.req.region).describe_target_groups(TargetGroupArns=ours).get("TargetGroups", [])
    here = vpc(ctx)
    return sorted(g["TargetGroupArn"] for g in groups if g.get("LoadBalancerArns") and (here is None or g.get("VpcId") == here))


class ServicePart:
    name = "service"
    after: tuple[str, ...] = ("securityGroups", "taskDefinition")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        got = client("ecs", ctx.req.region).describe_services(
            cluster=cluster_of(ctx), services=[service_name(ctx.req.ref)], include=["TAGS"]
        )
        live = [s for s in got.get("services", []) if s.get("status") != "INACTIVE"]
        if not live:
            return Seen(exists=False, actual={"targetGroups": None})
        return self._seen(ctx, live[0], routed_target_groups(ctx))

    def _seen(self, ctx: Ctx, s: Mapping[str, Any], target_groups: list[str]) -> Seen[dict[str, Any]]:
        spec = ctx.req.spec
        uid, owner = owner_of(ecs_tag_dict(s.get("tags")))
        td = ctx.seen.get("taskDefinition")
        want_td = (td.actual or {}).get("taskDefinitionArn") if td is not None and td.exists else None
        lbs = load_balancers(ctx, target_groups)
        diffs = [
            *compare("desiredCount", spec.desired_count, s.get("desiredCount")),
            *compare("networkConfiguration", network_config(ctx), _network_of(s.get("networkConfiguration"))),
            *compare("loadBalancers", lbs, _lbs_of(s.get("loadBalancers"))),
        ]
        if want_td:
            diffs += compare("taskDefinition", want_td, s.get("taskDefinition"))
        if s.get("deploymentConfiguration"):  # moto leaves it out until the first update_service
            have = s["deploymentConfiguration"]
            diffs += compare(
                "deployment",
                deployment_config(spec),
                {
                    "deploymentCircuitBreaker": {
                        "enable": bool((have.get("deploymentCircuitBreaker") or {}).get("enable")),
                        "rollback": bool((have.get("deploymentCircuitBreaker") or {}).get("rollback")),
                    },
                    "maximumPercent": have.get("maximumPercent"),
                    "minimumHealthyPercent": have.get("minimumHealthyPercent"),
                },
            )
        if lbs and s.get("healthCheckGracePeriodSeconds") is not None:
            diffs += compare(
                "healthCheck.gracePeriodSeconds", spec.health_check.grace_period_seconds, s.get("healthCheckGracePeriodSeconds")
            )
        deployments = list(s.get("deployments") or [])
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), deployments[0] if deployments else {})
        rollout = primary.get("rolloutState")
        revision = str(s.get("taskDefinition") or "").rsplit(":", 1)[-1]
        waiting, reason = None, "Provisioning"
        if rollout == "IN_PROGRESS" or len(deployments) > 1:
            waiting = (
                f"deployment of revision {revision} in progress: {s.get('runningCount', 0)} of {s.get('desiredCount', 0)} "
                f"tasks running, {s.get('pendingCount', 0)} pending"
            )
            reason = "DeploymentInProgress"
        elif rollout == "FAILED":
            waiting = f"deployment failed and was rolled back by the circuit breaker: {primary.get('rolloutStateReason') or 'no reason given'}"
            reason = "DeploymentFailed"
        cond = Cond(
            "Deployed",
            "True" if waiting is None else "False",
            "Completed" if waiting is None else reason,
            primary.get("rolloutStateReason") or (waiting or f"revision {revision} deployed"),
        )
        return Seen(
            exists=True,
            actual={**s, "targetGroups": target_groups},
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "arn": s["serviceArn"],
                "externalName": s["serviceName"],
                "serviceName": s["serviceName"],
                "clusterName": cluster_of(ctx),
                "desiredCount": s.get("desiredCount"),
                "runningCount": s.get("runningCount"),
                "pendingCount": s.get("pendingCount"),
                "rolloutState": rollout,
                "deployments": len(deployments),
                "targetGroups": target_groups,
            },
            outputs={"SERVICE_NAME": s["serviceName"], "SERVICE_ARN": s["serviceArn"], "CLUSTER_NAME": cluster_of(ctx)},
            conditions=(cond,),
            waiting=waiting,
            waiting_reason=reason,
            deleting=s.get("status") == "DRAINING",
        )

    def refresh(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        """Compared again after its groups or task definition changed in this pass (no AWS call)."""
        actual = dict(seen.actual or {})
        return self._seen(ctx, actual, list(actual.get("targetGroups") or []))

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        ecs, spec = client("ecs", ctx.req.region), ctx.req.spec
        td = str((ctx.seen["taskDefinition"].actual or {})["taskDefinitionArn"])
        tgs = (seen.actual or {}).get("targetGroups")
        if tgs is None:
            tgs = routed_target_groups(ctx)
        lbs = load_balancers(ctx, tgs)
        common: dict[str, Any] = {
            "taskDefinition": td,
            "desiredCount": spec.desired_count,
            "networkConfiguration": network_config(ctx),
            "deploymentConfiguration": deployment_config(spec),
            "loadBalancers": lbs,
        }
        if lbs:
            common["healthCheckGracePeriodSeconds"] = spec.health_check.grace_period_seconds
        if not seen.exists:
            try:
                made = ecs.create_service(
                    cluster=cluster_of(ctx),
                    serviceName=service_name(ctx.req.ref),
                    launchType="FARGATE",
                    clientToken=ctx.req.ref.uid[:36],
                    propagateTags="SERVICE",
                    enableECSManagedTags=True,
                    tags=ecs_tags(ctx.req.tags()),
                    **common,
                )["service"]
            except Exception as exc:
                if error_code(exc) == "InvalidParameterException" and "role" in str(exc).lower():
                    raise RecoverableError(f"task roles not usable yet (IAM is eventually consistent): {exc}") from None
                raise
            return self._seen(ctx, {**made, "tags": ecs_tags(ctx.req.tags())}, tgs)
        s = dict(seen.actual or {})
        made = ecs.update_service(cluster=cluster_of(ctx), service=service_name(ctx.req.ref), **common)["service"]
        return self._seen(ctx, {**s, **made, "tags": s.get("tags")}, tgs)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        ecs, s = client("ecs", ctx.req.region), seen.actual or {}
        name, cluster = service_name(ctx.req.ref), cluster_of(ctx)
        if s.get("desiredCount"):
            ecs.update_service(cluster=cluster, service=name, desiredCount=0)
        try:
            ecs.delete_service(cluster=cluster, service=name, force=True)
        except Exception as exc:
            if error_code(exc) not in ("ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"):
                raise
        return None


# ------------------------------------------------------------------ wiring and adapter
def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    """Nothing in IAM: a service is reached over the network (its client group), not through an AWS API."""
    return []


WIRING = Wiring(
    env=(("SERVICE_NAME", "serviceName"), ("SERVICE_PORT", "port")),
    grants=grants,
    network="virtualNetwork",
    client_group="clientSecurityGroupId",
)


class DockerServiceAdapter(Composite[DockerServiceSpec]):
    def __init__(self) -> None:
        groups: GuardedGroupsPart[DockerServiceSpec] = GuardedGroupsPart(
            client_prefix="stackery-clients",
            vpc=vpc,
            port=lambda ctx: ctx.req.spec.port,
            clients="load balancers and nodes connected to the service",
        )
        super().__init__([LogGroupPart(), RolesPart(), groups, TaskDefinitionPart(), ServicePart()], primary="service")

    def external_name(self, ref: ObjectRef, spec: DockerServiceSpec) -> str:
        return service_name(ref)

    def references(self, spec: DockerServiceSpec) -> list[Reference]:
        refs: list[Reference] = [NodeRef(CLUSTER, spec.cluster, role="placement")]
        refs += [NodeRef(c.kind, c.name, wire=True, role="connection") for c in spec.connections]
        return refs

    def claims(self, spec: DockerServiceSpec) -> list[Claim]:
        return []

    def summary(self, ctx: Context[DockerServiceSpec]) -> Observation[Context[DockerServiceSpec]]:
        obs = super().summary(ctx)
        req = ctx.req
        cluster = req.nodes.get((CLUSTER, req.spec.cluster)) or {}
        spec = req.spec
        env = environment(spec.environment, spec.connections, req.nodes, req.wiring) if resolved(req) else {}
        extra = {
            "virtualNetwork": cluster.get("virtualNetwork") or req.status.get("virtualNetwork"),
            "vpcId": cluster.get("vpcId") or req.status.get("vpcId"),
            "port": spec.port,
            "healthCheckPath": spec.health_check.path,
            "environmentKeys": sorted(env) if resolved(req) else req.status.get("environmentKeys"),
        }
        return replace(obs, identifiers={**obs.identifiers, **extra})
