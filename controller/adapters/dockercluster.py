"""Docker Cluster: one ECS cluster with the Fargate and Fargate Spot capacity providers.

The cluster carries its Virtual Network's VPC and private subnets in its status, so a Docker Service
placed on it reads where to run from one place. ECS create_cluster is idempotent by name (a retried
create returns the same cluster); the name is deterministic. A deleted cluster stays visible as
INACTIVE for a while: that counts as gone.

Delete: AWS refuses while services are in it (ClusterContainsServicesException; moto accepts it, so the
core also holds the delete while a StackeryDockerService names the cluster: in_use_blocks_delete).

Read budget of one drift check: DescribeClusters (tags and settings included) = 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..api.dockercluster import DockerClusterSpec
from ..aws.clients import client, error_code
from ..core.adapter import NodeRef, ObjectRef, Observation, Reference
from ..core.parts import Composite, Context, Seen
from ..policy import Claim
from .common import compare, owner_of, retag
from .ecs import cluster_name, ecs_tag_dict, ecs_tags
from .placement import NETWORK_KIND, private_subnets

Ctx = Context[DockerClusterSpec]


def strategy(spec: DockerClusterSpec) -> list[dict[str, Any]]:
    c = spec.capacity
    out = []
    if c.fargate_weight or c.base:
        out.append({"capacityProvider": "FARGATE", "weight": c.fargate_weight, "base": c.base})
    if c.fargate_spot_weight:
        out.append({"capacityProvider": "FARGATE_SPOT", "weight": c.fargate_spot_weight, "base": 0})
    return out


def _strategy_of(raw: Any) -> list[dict[str, Any]]:
    return sorted(
        ({"capacityProvider": s["capacityProvider"], "weight": s.get("weight", 0), "base": s.get("base", 0)} for s in raw or []),
        key=lambda s: str(s["capacityProvider"]),
    )


class ClusterPart:
    name = "cluster"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        got = client("ecs", ctx.req.region).describe_clusters(clusters=[cluster_name(ctx.req.ref)], include=["TAGS", "SETTINGS"])
        live = [c for c in got.get("clusters", []) if c.get("status") != "INACTIVE"]
        return self._seen(ctx, live[0]) if live else Seen(exists=False)

    def _seen(self, ctx: Ctx, c: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        spec = ctx.req.spec
        tags = ecs_tag_dict(c.get("tags"))
        uid, owner = owner_of(tags)
        insights = {s["name"]: s["value"] for s in c.get("settings") or []}.get("containerInsights", "disabled")
        diffs = [
            *compare("containerInsights", "enabled" if spec.container_insights else "disabled", insights),
            *compare("capacityProviders", ["FARGATE", "FARGATE_SPOT"], sorted(c.get("capacityProviders") or [])),
            *compare("capacity", _strategy_of(strategy(spec)), _strategy_of(c.get("defaultCapacityProviderStrategy"))),
            *compare("tags", ctx.req.tags(), tags),
        ]
        return Seen(
            exists=True,
            actual=dict(c),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "arn": c["clusterArn"],
                "externalName": c["clusterName"],
                "clusterName": c["clusterName"],
                "activeServices": c.get("activeServicesCount", 0),
                "runningTasks": c.get("runningTasksCount", 0),
            },
            outputs={"CLUSTER_NAME": c["clusterName"], "CLUSTER_ARN": c["clusterArn"]},
            deleting=c.get("status") == "DEPROVISIONING",
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        ecs, spec, name = client("ecs", ctx.req.region), ctx.req.spec, cluster_name(ctx.req.ref)
        settings = [{"name": "containerInsights", "value": "enabled" if spec.container_insights else "disabled"}]
        if not seen.exists:
            made = ecs.create_cluster(
                clusterName=name,
                tags=ecs_tags(ctx.req.tags()),
                settings=settings,
                capacityProviders=["FARGATE", "FARGATE_SPOT"],
                defaultCapacityProviderStrategy=strategy(spec),
            )["cluster"]
            return self._seen(ctx, {**made, "tags": ecs_tags(ctx.req.tags()), "settings": settings})
        c = dict(seen.actual or {})
        fields = {d.field for d in seen.diffs}
        if "containerInsights" in fields:
            ecs.update_cluster(cluster=name, settings=settings)
        if fields & {"capacityProviders", "capacity"}:
            ecs.put_cluster_capacity_providers(
                cluster=name, capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=strategy(spec)
            )
        if "tags" in fields:
            retag(
                ecs_tag_dict(c.get("tags")),
                ctx.req.tags(),
                untag=lambda keys: ecs.untag_resource(resourceArn=c["clusterArn"], tagKeys=keys),
                tag=lambda: ecs.tag_resource(resourceArn=c["clusterArn"], tags=ecs_tags(ctx.req.tags())),
            )
        return self._seen(
            ctx,
            {
                **c,
                "settings": settings,
                "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
                "defaultCapacityProviderStrategy": strategy(spec),
                "tags": ecs_tags(ctx.req.tags()),
            },
        )

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        try:
            client("ecs", ctx.req.region).delete_cluster(cluster=cluster_name(ctx.req.ref))
        except Exception as exc:
            code = error_code(exc)
            if code in ("ClusterContainsServicesException", "ClusterContainsTasksException"):
                return f"cluster {cluster_name(ctx.req.ref)} still has services or tasks; waiting for them to go"
            if code != "ClusterNotFoundException":
                raise
        return None


class DockerClusterAdapter(Composite[DockerClusterSpec]):
    def __init__(self) -> None:
        super().__init__([ClusterPart()], primary="cluster")

    def external_name(self, ref: ObjectRef, spec: DockerClusterSpec) -> str:
        return cluster_name(ref)

    def references(self, spec: DockerClusterSpec) -> list[Reference]:
        return [NodeRef(NETWORK_KIND, spec.virtual_network, role="placement")]

    def claims(self, spec: DockerClusterSpec) -> list[Claim]:
        return []

    def summary(self, ctx: Context[DockerClusterSpec]) -> Observation[Context[DockerClusterSpec]]:
        """Where its services run: the network's VPC and private subnets (from the request, no AWS call)."""
        obs = super().summary(ctx)
        req = ctx.req
        net = req.nodes.get((NETWORK_KIND, req.spec.virtual_network)) or {}
        where = {
            "virtualNetwork": req.spec.virtual_network,
            "vpcId": net.get("vpcId") or req.status.get("vpcId"),
            "privateSubnetIds": private_subnets(net) or req.status.get("privateSubnetIds"),
        }
        return replace(obs, identifiers={**obs.identifiers, **where})
