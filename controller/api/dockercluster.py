"""StackeryDockerCluster: an ECS cluster for Docker Services, in a Virtual Network.

Stackery v1's Docker Cluster was the pool Docker Services ran on. Here the pool is AWS Fargate (and
Fargate Spot): no instances to patch. The cluster names the Virtual Network its services are placed in
(their private subnets), so a service never has to repeat it and can never disagree with it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model


class Capacity(Model):
    """How tasks are spread over Fargate and Fargate Spot (the cluster's default capacity provider strategy)."""

    fargate_weight: int = Field(default=1, ge=0, le=1000, description="Relative share of tasks on Fargate.")
    fargate_spot_weight: int = Field(
        default=0, ge=0, le=1000, description="Relative share on Fargate Spot (cheaper, can be interrupted)."
    )
    base: int = Field(default=0, ge=0, le=100000, description="Tasks always placed on Fargate before weights apply.")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {"rule": "self.fargateWeight + self.fargateSpotWeight > 0", "message": "at least one weight must be above 0"},
    ]


class DockerClusterSpec(CommonSpec):
    """Desired cluster."""

    virtual_network: str = Field(
        pattern=K8S_NAME_PATTERN,
        max_length=253,
        description="The StackeryVirtualNetwork its services run in (private subnets). Immutable.",
    )
    container_insights: bool = Field(default=True, description="CloudWatch Container Insights metrics for the cluster.")
    capacity: Capacity = Field(default_factory=Capacity, description="Fargate / Fargate Spot split.")

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {
            "rule": "self.virtualNetwork == oldSelf.virtualNetwork",
            "message": "virtualNetwork is immutable: create a new StackeryDockerCluster",
        },
    ]


class DockerClusterStatus(CommonStatus):
    """Observed cluster."""

    cluster_name: str | None = Field(default=None, description="ECS cluster name.")
    virtual_network: str | None = Field(default=None, description="StackeryVirtualNetwork its services run in.")
    vpc_id: str | None = Field(default=None, description="VPC of that network.")
    private_subnet_ids: list[str] | None = Field(default=None, description="The network's private subnets (where services run).")
    active_services: int | None = Field(default=None, description="Services in the cluster.")
    running_tasks: int | None = Field(default=None, description="Tasks running in the cluster.")
