"""What the container kinds share: ECS names and tag shapes, and the tag that ties a load balancer's target
group to the Docker Service it sends to.

Why: a Docker Service derives its cluster's name (so its delete needs no cluster status), and a Docker
Service and a Load Balancer meet on one tag; kinds' adapters stay independent of each other, so these
few names live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.adapter import ObjectRef
from .common import dns_name

ROUTE_TAG = "stackery.io/route-to"
"""On a target group a StackeryLoadBalancer made for a StackeryDockerService: "<namespace>/<service name>"."""


def cluster_name(ref: ObjectRef) -> str:
    return dns_name("stackery", ref, max_len=255)


def route_key(namespace: str, service: str) -> str:
    return f"{namespace}/{service}"


def ecs_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def ecs_tag_dict(tags: Any) -> dict[str, str]:
    return {t["key"]: t["value"] for t in tags or []}
