"""StackeryDockerService: a container image run as an ECS Fargate service on a StackeryDockerCluster.

Stackery v1's Docker Service settings — image, compute units, memory, container port, health-check path,
environment variables — plus what running it safely needs: a task role whose permissions come from the
service's connections (the same wires as a Function: env names + least-privilege IAM), an execution role,
a log group with a retention, its own security group that admits the container port only from its client
group (carried by a Load Balancer routing to it), the network's private subnets and no public address,
and rolling deployments with the circuit breaker.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from .common import K8S_NAME_PATTERN, CommonSpec, CommonStatus, Model
from .function import ENV_KEY, Connection

# Fargate's allowed (cpu units -> memory MiB) pairs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
FARGATE_MEMORY: dict[int, tuple[int, int, int]] = {
    256: (512, 2048, 512),
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
"""cpu -> (lowest memory, highest memory, step)."""
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def fargate_pairs() -> str:
    return "; ".join(f"cpu {c}: memory {lo}-{hi} in steps of {st}" for c, (lo, hi, st) in FARGATE_MEMORY.items())


def memory_ok(cpu: int, memory: int) -> bool:
    lo, hi, step = FARGATE_MEMORY.get(cpu, (1, 0, 1))
    return lo <= memory <= hi and (memory - lo) % step == 0


def _cel_pairs() -> str:
    return " || ".join(
        f"(self.cpu == {c} && self.memory >= {lo} && self.memory <= {hi} && (self.memory - {lo}) % {st} == 0)"
        for c, (lo, hi, st) in FARGATE_MEMORY.items()
    )


class HealthCheck(Model):
    """How the service's health is judged."""

    path: str = Field(
        default="/",
        pattern=r"^/[^\s]*$",
        max_length=1024,
        description="HTTP path a Load Balancer checks on the container port (Stackery's Health Check Path).",
    )
    grace_period_seconds: int = Field(
        default=60, ge=0, le=2147483647, description="Load-balancer health checks ignored this long after a task starts."
    )
    command: list[str] = Field(
        default_factory=list,
        max_length=20,
        description='Optional container health check run by ECS, e.g. ["CMD-SHELL", "curl -f localhost:8080/health || exit 1"].',
    )


class Deployment(Model):
    """Rolling deployment settings."""

    circuit_breaker: bool = Field(default=True, description="Stop a deployment whose tasks keep failing, and roll back.")
    min_healthy_percent: int = Field(default=100, ge=0, le=100, description="Lowest share of desired tasks kept running.")
    max_percent: int = Field(
        default=200, ge=100, le=200, description="Highest share of desired tasks running during a deployment."
    )


class DockerServiceSpec(CommonSpec):
    """Desired service."""

    cluster: str = Field(
        pattern=K8S_NAME_PATTERN,
        max_length=253,
        description="The StackeryDockerCluster it runs on (its Virtual Network's private subnets). Immutable.",
    )
    image: str = Field(
        min_length=1, max_length=1024, pattern=r"^\S+$", description="Container image, e.g. public.ecr.aws/nginx/nginx:1.27."
    )
    cpu: int = Field(
        default=256,
        ge=256,
        le=16384,
        description="CPU units (1024 = 1 vCPU; Stackery's Compute Units). With memory, a Fargate pair.",
    )
    memory: int = Field(default=512, ge=512, le=122880, description="Memory in MiB (a Fargate pair with cpu).")
    architecture: Literal["X86_64", "ARM64"] = Field(default="X86_64", description="CPU architecture of the image.")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Container port (Stackery's Container Port); needed behind a Load Balancer."
    )
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables (yours win over connection names).",
        json_schema_extra={"maxProperties": 100},
    )
    command: list[str] = Field(default_factory=list, max_length=50, description="Overrides the image's command.")
    desired_count: int = Field(default=1, ge=0, le=1000, description="Tasks to keep running (0 stops the service, keeps it).")
    health_check: HealthCheck = Field(default_factory=HealthCheck, description="Health check settings.")
    deployment: Deployment = Field(default_factory=Deployment, description="Rolling deployment settings.")
    connections: list[Connection] = Field(
        default_factory=list,
        max_length=50,
        description="Wires to other nodes: environment variables + least-privilege IAM on the task role (as a Function's).",
    )
    readonly_root_filesystem: bool = Field(default=False, description="Mount the container's root filesystem read-only.")
    log_retention_days: int = Field(
        default=30, description=f"Days the log group keeps logs, one of {', '.join(map(str, LOG_RETENTION_DAYS))}."
    )

    cel_rules: ClassVar[list[dict[str, str]]] = [
        *CommonSpec.cel_rules,
        {"rule": _cel_pairs(), "message": f"cpu and memory must be a Fargate pair ({fargate_pairs()})"},
        {
            "rule": "self.logRetentionDays in [" + ", ".join(map(str, LOG_RETENTION_DAYS)) + "]",
            "message": f"logRetentionDays must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
        },
        {"rule": "self.cluster == oldSelf.cluster", "message": "cluster is immutable: create a new StackeryDockerService"},
        {
            "rule": "!has(self.environment) || self.environment.all(k, k.matches('" + ENV_KEY + "'))",
            "message": "environment names must be letters, digits and underscores, starting with a letter",
        },
    ]

    @model_validator(mode="after")
    def _rules(self) -> DockerServiceSpec:
        if not memory_ok(self.cpu, self.memory):
            raise ValueError(f"cpu {self.cpu} with memory {self.memory} is not a Fargate pair ({fargate_pairs()})")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"logRetentionDays must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return self


class DockerServiceStatus(CommonStatus):
    """Observed service."""

    cluster_name: str | None = Field(default=None, description="ECS cluster it runs on.")
    service_name: str | None = Field(default=None, description="ECS service name.")
    task_definition_arn: str | None = Field(default=None, description="Task definition revision the service runs.")
    revision: int | None = Field(default=None, description="Current task definition revision.")
    desired_count: int | None = Field(default=None, description="Tasks wanted.")
    running_count: int | None = Field(default=None, description="Tasks running.")
    pending_count: int | None = Field(default=None, description="Tasks starting.")
    rollout_state: str | None = Field(
        default=None, description="State of the newest deployment: IN_PROGRESS, COMPLETED or FAILED."
    )
    deployments: int | None = Field(default=None, description="Deployments in progress or kept (more than one while rolling).")
    virtual_network: str | None = Field(default=None, description="StackeryVirtualNetwork it runs in (from its cluster).")
    vpc_id: str | None = Field(default=None, description="VPC it runs in.")
    security_group_id: str | None = Field(default=None, description="Its own group (admits the port from its client group only).")
    client_security_group_id: str | None = Field(
        default=None, description="Group a Load Balancer (or another connected node) carries to reach the service."
    )
    port: int | None = Field(default=None, description="Container port.")
    health_check_path: str | None = Field(default=None, description="Path a Load Balancer checks.")
    log_group: str | None = Field(default=None, description="CloudWatch log group of its containers.")
    task_role_arn: str | None = Field(default=None, description="Role the containers run as (connections' permissions).")
    execution_role_arn: str | None = Field(default=None, description="Role ECS pulls the image and writes logs with.")
    target_groups: list[str] | None = Field(
        default=None, description="Load-balancer target groups the service registers its tasks in."
    )
    environment_keys: list[str] | None = Field(default=None, description="Environment variable names set (values not shown).")
