"""The list of node kinds: each kind's models, adapter and CRD naming, in one table.

Why: handlers, the CRD generator, the chart's RBAC and the tests all iterate over the same list, so
adding a kind is one entry here plus its api/ and adapters/ modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from . import plural
from .adapters import configstore, database, dockerservice, function, objectstore, queue, restapi, stream, table, topic
from .adapters.bastion import BastionAdapter
from .adapters.cdn import CDNAdapter
from .adapters.configstore import ConfigStoreAdapter
from .adapters.database import DatabaseAdapter
from .adapters.dockercluster import DockerClusterAdapter
from .adapters.dockerservice import DockerServiceAdapter
from .adapters.function import FunctionAdapter
from .adapters.loadbalancer import LoadBalancerAdapter
from .adapters.objectstore import ObjectStoreAdapter
from .adapters.queue import QueueAdapter
from .adapters.restapi import RestApiAdapter
from .adapters.stream import StreamAdapter
from .adapters.table import TableAdapter
from .adapters.timer import TimerAdapter
from .adapters.topic import TopicAdapter
from .adapters.virtualnetwork import VirtualNetworkAdapter
from .api.bastion import BastionSpec, BastionStatus
from .api.cdn import CDNSpec, CDNStatus
from .api.common import CommonStatus
from .api.configstore import ConfigStoreSpec, ConfigStoreStatus
from .api.database import DatabaseSpec, DatabaseStatus
from .api.dockercluster import DockerClusterSpec, DockerClusterStatus
from .api.dockerservice import DockerServiceSpec, DockerServiceStatus
from .api.function import FunctionSpec, FunctionStatus
from .api.loadbalancer import LoadBalancerSpec, LoadBalancerStatus
from .api.objectstore import ObjectStoreSpec, ObjectStoreStatus
from .api.queue import QueueSpec, QueueStatus
from .api.restapi import RestApiSpec, RestApiStatus
from .api.stream import StreamSpec, StreamStatus
from .api.table import TableSpec, TableStatus
from .api.timer import TimerSpec, TimerStatus
from .api.topic import TopicSpec, TopicStatus
from .api.virtualnetwork import VirtualNetworkSpec, VirtualNetworkStatus
from .core.adapter import Adapter
from .core.wiring import Wiring


@dataclass(frozen=True)
class KindInfo:
    kind: str
    short_names: tuple[str, ...]
    spec_model: type[BaseModel]
    status_model: type[CommonStatus]
    adapter: Adapter[Any, Any]
    description: str
    printer_columns: tuple[dict[str, str], ...] = field(default_factory=tuple)
    wiring: Wiring | None = None
    """What a node connected to this kind gets (env names + IAM); None: it cannot be a connection target."""
    in_use_blocks_delete: bool = False
    """True: not deleted while another object's spec refers to it (Stalled, reason InUse, naming them)."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def plural(self) -> str:
        return plural(self.kind)

    @property
    def status_fields(self) -> frozenset[str]:
        """Status keys (camelCase) the kind's status model declares: the only ones a patch may carry."""
        return frozenset(f.alias or name for name, f in self.status_model.model_fields.items())


KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        kind="StackeryObjectStore",
        short_names=("sos", "objectstore"),
        spec_model=ObjectStoreSpec,
        status_model=ObjectStoreStatus,
        adapter=ObjectStoreAdapter(),
        wiring=objectstore.WIRING,
        description="An S3 bucket with Stackery's secure defaults (encryption, public access blocked, TLS-only policy).",
        printer_columns=({"name": "Bucket", "type": "string", "jsonPath": ".status.externalName"},),
    ),
    KindInfo(
        kind="StackeryConfigStore",
        short_names=("scs", "configstore"),
        spec_model=ConfigStoreSpec,
        status_model=ConfigStoreStatus,
        adapter=ConfigStoreAdapter(),
        wiring=configstore.WIRING,
        description="Configuration parameters in SSM Parameter Store under one path; Secret-sourced values as SecureString.",
        printer_columns=(
            {"name": "Path", "type": "string", "jsonPath": ".status.path"},
            {"name": "Params", "type": "integer", "jsonPath": ".status.parameterCount"},
        ),
    ),
    KindInfo(
        kind="StackeryTable",
        short_names=("stable", "table"),
        spec_model=TableSpec,
        status_model=TableStatus,
        adapter=TableAdapter(),
        wiring=table.WIRING,
        description="A DynamoDB table with a stream (its output port), TTL, point-in-time recovery, indexes and autoscaling.",
        printer_columns=({"name": "Table", "type": "string", "jsonPath": ".status.externalName"},),
    ),
    KindInfo(
        kind="StackeryFunction",
        short_names=("sfn", "function"),
        spec_model=FunctionSpec,
        status_model=FunctionStatus,
        adapter=FunctionAdapter(),
        wiring=function.WIRING,
        description="A Lambda function wired to other nodes: connections add environment variables and least-privilege IAM; triggers subscribe it to Table streams.",
        printer_columns=({"name": "Function", "type": "string", "jsonPath": ".status.externalName"},),
    ),
    KindInfo(
        kind="StackeryCDN",
        short_names=("scdn", "cdn"),
        spec_model=CDNSpec,
        status_model=CDNStatus,
        adapter=CDNAdapter(),
        description="CloudFront in front of one StackeryObjectStore, with a custom-domain certificate (us-east-1), origin access control and bucket policy.",
        printer_columns=(
            {"name": "Certificate", "type": "string", "jsonPath": '.status.conditions[?(@.type=="CertificateIssued")].reason'},
            {"name": "Domain", "type": "string", "jsonPath": ".status.distributionDomainName"},
        ),
    ),
    KindInfo(
        kind="StackeryRestApi",
        short_names=("sapi", "restapi"),
        spec_model=RestApiSpec,
        status_model=RestApiStatus,
        adapter=RestApiAdapter(),
        wiring=restapi.WIRING,
        description="An API Gateway REST API whose routes invoke StackeryFunctions, one stage, and an optional custom domain with its certificate.",
        printer_columns=(
            {"name": "URL", "type": "string", "jsonPath": ".status.url"},
            {"name": "Routes", "type": "integer", "jsonPath": ".status.routeCount"},
            {"name": "Certificate", "type": "string", "jsonPath": '.status.conditions[?(@.type=="CertificateIssued")].reason'},
        ),
    ),
    KindInfo(
        kind="StackeryVirtualNetwork",
        short_names=("svn", "virtualnetwork", "vnet"),
        spec_model=VirtualNetworkSpec,
        status_model=VirtualNetworkStatus,
        adapter=VirtualNetworkAdapter(),
        in_use_blocks_delete=True,
        description="A VPC with a public and a private subnet per zone, internet gateway, NAT gateways, route tables, gateway endpoints and an empty default security group.",
        printer_columns=(
            {"name": "VPC", "type": "string", "jsonPath": ".status.vpcId"},
            {"name": "CIDR", "type": "string", "jsonPath": ".status.cidr"},
        ),
    ),
    KindInfo(
        kind="StackeryBastion",
        short_names=("sbastion", "bastion"),
        spec_model=BastionSpec,
        status_model=BastionStatus,
        adapter=BastionAdapter(),
        description="An SSH server in a Virtual Network's public subnet for named users and their public keys (inline or from a ConfigStore); IMDSv2, encrypted disk, Session Manager.",
        printer_columns=(
            {"name": "IP", "type": "string", "jsonPath": ".status.publicIp"},
            {"name": "Instance", "type": "string", "jsonPath": ".status.instanceId"},
        ),
    ),
    KindInfo(
        kind="StackeryDatabase",
        short_names=("sdb", "database"),
        spec_model=DatabaseSpec,
        status_model=DatabaseStatus,
        adapter=DatabaseAdapter(),
        wiring=database.WIRING,
        in_use_blocks_delete=True,
        description=(
            "An RDS PostgreSQL/MySQL instance or an Aurora Serverless v2 cluster in a Virtual Network's private subnets: "
            "encrypted, never public, reachable only from connected nodes, password managed by RDS in Secrets Manager, "
            "deletion protection and a final snapshot by default."
        ),
        printer_columns=(
            {"name": "Engine", "type": "string", "jsonPath": ".spec.engine"},
            {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint"},
            {"name": "State", "type": "string", "jsonPath": ".status.databaseStatus"},
        ),
    ),
    KindInfo(
        kind="StackeryDockerCluster",
        short_names=("sdc", "dockercluster"),
        spec_model=DockerClusterSpec,
        status_model=DockerClusterStatus,
        adapter=DockerClusterAdapter(),
        in_use_blocks_delete=True,
        description="An ECS cluster on AWS Fargate and Fargate Spot for Docker Services, in a Virtual Network.",
        printer_columns=(
            {"name": "Cluster", "type": "string", "jsonPath": ".status.clusterName"},
            {"name": "Services", "type": "integer", "jsonPath": ".status.activeServices"},
        ),
    ),
    KindInfo(
        kind="StackeryDockerService",
        short_names=("sds", "dockerservice"),
        spec_model=DockerServiceSpec,
        status_model=DockerServiceStatus,
        adapter=DockerServiceAdapter(),
        wiring=dockerservice.WIRING,
        in_use_blocks_delete=True,
        description=(
            "A container image run as an ECS Fargate service in its cluster's private subnets: task role from its connections, "
            "its own security group open only to its clients (a Load Balancer), logs with a retention, rolling deployments "
            "with the circuit breaker."
        ),
        printer_columns=(
            {"name": "Revision", "type": "integer", "jsonPath": ".status.revision"},
            {"name": "Desired", "type": "integer", "jsonPath": ".status.desiredCount"},
            {"name": "Running", "type": "integer", "jsonPath": ".status.runningCount"},
            {"name": "Rollout", "type": "string", "jsonPath": ".status.rolloutState"},
        ),
    ),
    KindInfo(
        kind="StackeryLoadBalancer",
        short_names=("slb", "loadbalancer"),
        spec_model=LoadBalancerSpec,
        status_model=LoadBalancerStatus,
        adapter=LoadBalancerAdapter(),
        description=(
            "An internet-facing Application Load Balancer in a Virtual Network's public subnets: routes by host/path to "
            "Docker Services and Functions, HTTPS with an ACM certificate and HTTP redirected, ports open to allowedCidrs."
        ),
        printer_columns=(
            {"name": "DNS", "type": "string", "jsonPath": ".status.dnsName"},
            {"name": "Certificate", "type": "string", "jsonPath": '.status.conditions[?(@.type=="CertificateIssued")].reason'},
        ),
    ),
    KindInfo(
        kind="StackeryQueue",
        short_names=("squeue", "queue"),
        spec_model=QueueSpec,
        status_model=QueueStatus,
        adapter=QueueAdapter(),
        wiring=queue.WIRING,
        in_use_blocks_delete=True,
        description="An SQS queue (standard or FIFO), always encrypted, with an optional dead-letter StackeryQueue; Functions trigger on it.",
        printer_columns=(
            {"name": "Queue", "type": "string", "jsonPath": ".status.externalName"},
            {"name": "Messages", "type": "integer", "jsonPath": ".status.approximateMessages"},
        ),
    ),
    KindInfo(
        kind="StackeryTopic",
        short_names=("stopic", "topic"),
        spec_model=TopicSpec,
        status_model=TopicStatus,
        adapter=TopicAdapter(),
        wiring=topic.WIRING,
        description="An SNS topic (standard or FIFO), always encrypted, subscribing StackeryFunctions and StackeryQueues with exactly the permission each needs.",
        printer_columns=({"name": "Topic", "type": "string", "jsonPath": ".status.externalName"},),
    ),
    KindInfo(
        kind="StackeryStream",
        short_names=("sstream", "stream"),
        spec_model=StreamSpec,
        status_model=StreamStatus,
        adapter=StreamAdapter(),
        wiring=stream.WIRING,
        in_use_blocks_delete=True,
        description="A Kinesis data stream (provisioned shards or on-demand), always KMS-encrypted; Functions trigger on it.",
        printer_columns=(
            {"name": "Stream", "type": "string", "jsonPath": ".status.externalName"},
            {"name": "Shards", "type": "integer", "jsonPath": ".status.openShards"},
        ),
    ),
    KindInfo(
        kind="StackeryTimer",
        short_names=("stimer", "timer"),
        spec_model=TimerSpec,
        status_model=TimerStatus,
        adapter=TimerAdapter(),
        description="Invokes a StackeryFunction on a rate or cron schedule (EventBridge Scheduler, time zones, fixed input).",
        printer_columns=(
            {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule"},
            {"name": "State", "type": "string", "jsonPath": ".status.state"},
        ),
    ),
)

BY_KIND = {k.kind: k for k in KINDS}
WIRING: dict[str, Wiring] = {k.kind: k.wiring for k in KINDS if k.wiring is not None}
