"""Load Balancer: five parts — its certificate (the part the CDN and the Rest Api use), its security group
(80/443 from allowedCidrs), its target groups (one per routed Docker Service or Function), the Application
Load Balancer in the network's public subnets, and its listeners with one rule per route — composed by
core.parts.

A Docker Service behind it: the target group is ip-typed, on the service's container port, with the
service's health-check path, and tagged stackery.io/route-to=<namespace>/<service>; the service finds it
there and registers its tasks (see adapters/dockerservice.py). The load balancer carries the service's
client group, which is the only source the service's own group admits. A Function: a lambda target group,
the function registered in it, and an invoke permission for exactly that target group.

Names: ALB and target-group names are at most 32 characters and unique per account and region, so they
are `stk-<hash>` with the full identity in tags. moto makes a second ALB, listener or rule for a repeated
create (AWS returns the first or refuses), so every create here follows a lookup: by name for the ALB and
target groups, by port for listeners, by priority for rules.

Delete: refused while spec.deletionProtection is true (Stalled, DeletionProtected); then listeners,
the ALB (AWS's deletion protection turned off first when the spec asked for the delete), target groups,
the security group (retried while AWS releases the ALB's network interfaces) and the certificate.

Read budget of one drift check: DescribeCertificate (with domains), DescribeSecurityGroups, GetResources +
DescribeTargetGroups (target groups), DescribeLoadBalancers + DescribeTags + DescribeLoadBalancerAttributes,
DescribeListeners + DescribeRules = 8 (9 with domains). Lambda permissions and registrations are written
with their target group and not re-read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from ..api.loadbalancer import LoadBalancerSpec, Route
from ..aws.clients import client, error_code, or_none
from ..core.adapter import DeleteResult, NodeRef, ObjectRef, Observation, Reference, Request
from ..core.parts import Composite, Context, Seen, part_tags
from ..core.wiring import network_groups
from ..errors import BlockedError, OwnershipConflictError
from ..policy import Claim
from .certificate import CertificatePart, CertSettings
from .common import compare, owner_of, short_hash, tag_dict, tag_list
from .ecs import ROUTE_TAG, route_key
from .placement import NETWORK_KIND, delete_group, ensure_group, read_group

Ctx = Context[LoadBalancerSpec]
SERVICE = "StackeryDockerService"
FUNCTION = "StackeryFunction"
FUNCTION_TAG = "stackery.io/function"
NOT_FOUND_ACTION = {
    "Type": "fixed-response",
    "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no route"},
}
REDIRECT_ACTION = {
    "Type": "redirect",
    "RedirectConfig": {
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
        "StatusCode": "HTTP_301",
    },
}


def lb_name(ref: ObjectRef) -> str:
    return "stk-" + short_hash(ref.namespace, ref.name, length=20)


def network(ctx: Ctx) -> Mapping[str, Any]:
    return ctx.req.nodes.get((NETWORK_KIND, ctx.req.spec.virtual_network)) or {}


def vpc(ctx: Ctx) -> str | None:
    got = network(ctx).get("vpcId") or ctx.req.status.get("vpcId")
    return str(got) if got else None


def target_of(route: Route) -> tuple[str, str]:
    return (SERVICE, route.docker_service) if route.docker_service else (FUNCTION, str(route.function))


def targets(ctx: Ctx) -> dict[str, tuple[str, str]]:
    """Target-group name -> (kind, name) for every routed node; a service's port is in the name, so a new
    port makes a new group (a target group's port cannot change)."""
    out: dict[str, tuple[str, str]] = {}
    for r in ctx.req.spec.routes:
        kind, name = target_of(r)
        port = (ctx.req.nodes.get((kind, name)) or {}).get("port") if kind == SERVICE else None
        out["stk-" + short_hash(ctx.req.ref.uid, kind, name, str(port), length=24)] = (kind, name)
    return out


def resolved(req: Request[LoadBalancerSpec]) -> bool:
    wanted = [(NETWORK_KIND, req.spec.virtual_network), *(target_of(r) for r in req.spec.routes)]
    return all(w in req.nodes for w in wanted)


# ------------------------------------------------------------------ certificate
def cert_settings(ctx: Ctx) -> CertSettings:
    spec = ctx.req.spec
    return CertSettings(
        domains=tuple(spec.domains),
        region=ctx.req.region,
        byo_arn=spec.certificate_arn,
        required_region=ctx.req.region,
        validation=spec.certificate.validation if spec.certificate else "DNS",
        validation_domain=spec.certificate.validation_domain if spec.certificate else None,
        hosted_zone_id=spec.route53.hosted_zone_id if spec.route53 else None,
    )


CERTIFICATE: CertificatePart[LoadBalancerSpec] = CertificatePart(cert_settings)


def certificate_arn(ctx: Ctx) -> str | None:
    if ctx.req.spec.certificate_arn:
        return ctx.req.spec.certificate_arn
    seen = ctx.seen.get("certificate")
    return str(seen.identifiers.get("certificateArn")) if seen is not None and seen.identifiers.get("certificateArn") else None


# ------------------------------------------------------------------ security group
def ports(ctx: Ctx) -> list[int]:
    return [80, 443] if ctx.req.spec.https else [80]


def wanted_ingress(ctx: Ctx) -> list[str]:
    return sorted(f"tcp:{p} from {c}" for p in ports(ctx) for c in set(ctx.req.spec.allowed_cidrs))


def have_ingress(sg: Mapping[str, Any]) -> list[str]:
    out = []
    for p in sg.get("IpPermissions", []):
        out += [f"{p.get('IpProtocol')}:{p.get('FromPort')} from {r['CidrIp']}" for r in p.get("IpRanges", [])]
        out += [f"{p.get('IpProtocol')}:{p.get('FromPort')} from {g['GroupId']}" for g in p.get("UserIdGroupPairs", [])]
    return sorted(out)


class SecurityGroupPart:
    name = "securityGroup"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        sg = read_group(ctx.req, vpc(ctx))
        return Seen(exists=False) if sg is None else self._seen(ctx, sg)

    def _seen(self, ctx: Ctx, sg: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        return Seen(
            exists=True,
            actual=dict(sg),
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(compare("allowedCidrs", wanted_ingress(ctx), have_ingress(sg))),
            identifiers={"securityGroupId": sg["GroupId"]},
        )

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        e, here = client("ec2", ctx.req.region), str(vpc(ctx))
        sg = dict(seen.actual) if seen.actual else (read_group(ctx.req, here) or {"GroupId": ensure_group(ctx.req, here)})
        if sg.get("IpPermissions"):
            e.revoke_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=sg["IpPermissions"])
        perms = [
            {
                "IpProtocol": "tcp",
                "FromPort": p,
                "ToPort": p,
                "IpRanges": [{"CidrIp": c} for c in sorted(set(ctx.req.spec.allowed_cidrs))],
            }
            for p in ports(ctx)
        ]
        e.authorize_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=perms)
        return self._seen(ctx, {**sg, "IpPermissions": perms})

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        return delete_group(ctx.req, str((seen.actual or {})["GroupId"]))


# ------------------------------------------------------------------ target groups
def _tg_settings(ctx: Ctx, kind: str, name: str) -> dict[str, Any]:
    if kind == FUNCTION:
        return {"TargetType": "lambda"}
    status = ctx.req.nodes.get((kind, name)) or {}
    return {
        "TargetType": "ip",
        "Protocol": "HTTP",
        "Port": int(status.get("port") or 80),
        "VpcId": vpc(ctx),
        "HealthCheckPath": str(status.get("healthCheckPath") or "/"),
        "Matcher": {"HttpCode": "200-399"},
    }


def _tg_have(g: Mapping[str, Any]) -> dict[str, Any]:
    if g.get("TargetType") == "lambda":
        return {"TargetType": "lambda"}
    return {
        "TargetType": g.get("TargetType"),
        "Protocol": g.get("Protocol"),
        "Port": g.get("Port"),
        "VpcId": g.get("VpcId"),
        "HealthCheckPath": g.get("HealthCheckPath"),
        "Matcher": g.get("Matcher"),
    }


class TargetGroupsPart:
    """actual: target-group name -> the group (with its tags)."""

    name = "targets"
    after: tuple[str, ...] = ()

    def wanted(self, ctx: Ctx) -> bool:
        return bool(ctx.req.spec.routes)

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        found = client("resourcegroupstaggingapi", ctx.req.region).get_resources(
            ResourceTypeFilters=["elasticloadbalancing:targetgroup"],
            TagFilters=[{"Key": "stackery.io/uid", "Values": [ctx.req.ref.uid]}],
        )
        tags = {r["ResourceARN"]: tag_dict(r.get("Tags")) for r in found.get("ResourceTagMappingList", [])}
        if not tags:
            return Seen(exists=False, actual={})
        groups = client("elbv2", ctx.req.region).describe_target_groups(TargetGroupArns=sorted(tags)).get("TargetGroups", [])
        return self._seen(ctx, {g["TargetGroupName"]: {**g, "Tags": tags.get(g["TargetGroupArn"], {})} for g in groups})

    def _seen(self, ctx: Ctx, have: dict[str, dict[str, Any]]) -> Seen[dict[str, Any]]:
        diffs = []
        if resolved(ctx.req):
            want = targets(ctx)
            diffs += compare("targetGroups", sorted(want), sorted(have))
            for name, (kind, target) in sorted(want.items()):
                if name in have:
                    diffs += compare(f"targetGroup.{target}", _tg_settings(ctx, kind, target), _tg_have(have[name]))
        return Seen(exists=bool(have), actual=have, owner_uid=ctx.req.ref.uid, diffs=tuple(diffs))

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        elb, have = client("elbv2", ctx.req.region), dict(seen.actual or {})
        for name, (kind, target) in sorted(targets(ctx).items()):
            want = _tg_settings(ctx, kind, target)
            if name in have:
                if _tg_have(have[name]) != want and kind == SERVICE:
                    elb.modify_target_group(
                        TargetGroupArn=have[name]["TargetGroupArn"],
                        HealthCheckPath=want["HealthCheckPath"],
                        Matcher=want["Matcher"],
                    )
                    have[name] = {**have[name], **want}
                continue
            tags = {**part_tags(ctx.req, "targets")}
            if kind == SERVICE:
                tags[ROUTE_TAG] = route_key(ctx.req.ref.namespace, target)
            else:  # the function its invoke permission is on, to take it back even once the function is gone from the request
                tags[FUNCTION_TAG] = str(ctx.req.nodes[(kind, target)]["externalName"])
            made = elb.create_target_group(Name=name, **want, Tags=tag_list(tags))["TargetGroups"][0]
            if kind == FUNCTION:
                fn = ctx.req.nodes[(kind, target)]
                lam = client("lambda", ctx.req.region)
                try:
                    lam.add_permission(
                        FunctionName=str(fn["externalName"]),
                        StatementId=name,
                        Action="lambda:InvokeFunction",
                        Principal="elasticloadbalancing.amazonaws.com",
                        SourceArn=made["TargetGroupArn"],
                    )
                except Exception as exc:
                    if error_code(exc) != "ResourceConflictException":  # granted before a crash
                        raise
                elb.register_targets(TargetGroupArn=made["TargetGroupArn"], Targets=[{"Id": str(fn["arn"])}])
            have[name] = {**made, "Tags": tags}
        return self._seen(ctx, have)

    def remove(self, ctx: Ctx, groups: Mapping[str, Mapping[str, Any]]) -> str | None:
        """Delete these target groups (and the invoke permission of a lambda one)."""
        elb = client("elbv2", ctx.req.region)
        for name, g in sorted(groups.items()):
            fn = (g.get("Tags") or {}).get(FUNCTION_TAG)
            if fn:
                lam = client("lambda", ctx.req.region)
                or_none(partial(lam.remove_permission, FunctionName=fn, StatementId=name), "ResourceNotFoundException")
            try:
                elb.delete_target_group(TargetGroupArn=g["TargetGroupArn"])
            except Exception as exc:
                code = error_code(exc)
                if code == "ResourceInUse":
                    return f"target group {name} is still used by a listener rule; retrying"
                if code != "TargetGroupNotFound":
                    raise
        return None

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        return self.remove(ctx, seen.actual or {})


def target_group_arns(ctx: Ctx) -> dict[tuple[str, str], str]:
    have = (ctx.seen.get("targets").actual or {}) if ctx.seen.get("targets") is not None else {}  # type: ignore[union-attr]
    return {key: str(have[name]["TargetGroupArn"]) for name, key in targets(ctx).items() if name in have}


# ------------------------------------------------------------------ load balancer
def groups(ctx: Ctx) -> list[str]:
    """Its own group plus the client group of each routed Docker Service (same network, or refused)."""
    own = (ctx.seen["securityGroup"].actual or {}).get("GroupId") if "securityGroup" in ctx.seen else None
    spec = ctx.req.spec
    carried = network_groups(
        f"StackeryLoadBalancer {ctx.req.ref.name}",
        spec.virtual_network,
        [target_of(r) for r in spec.routes if r.docker_service],
        ctx.req.nodes,
        ctx.req.wiring,
    )
    return sorted({str(own), *carried} if own else set(carried))


def public_subnets(ctx: Ctx) -> list[str]:
    return sorted(z["publicSubnetId"] for z in network(ctx).get("zones") or [] if z.get("publicSubnetId"))


def attributes(spec: LoadBalancerSpec) -> dict[str, str]:
    return {
        "deletion_protection.enabled": str(spec.deletion_protection).lower(),
        "idle_timeout.timeout_seconds": str(spec.idle_timeout_seconds),
        "routing.http.drop_invalid_header_fields.enabled": "true",
    }


class LoadBalancerPart:
    name = "loadBalancer"
    after: tuple[str, ...] = ("securityGroup",)

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        elb = client("elbv2", ctx.req.region)
        got = or_none(lambda: elb.describe_load_balancers(Names=[lb_name(ctx.req.ref)]), "LoadBalancerNotFound")
        found = (got or {}).get("LoadBalancers", [])
        if not found:
            return Seen(exists=False)
        tags = {
            d["ResourceArn"]: tag_dict(d.get("Tags"))
            for d in elb.describe_tags(ResourceArns=[f["LoadBalancerArn"] for f in found])["TagDescriptions"]
        }
        mine = [f for f in found if tags.get(f["LoadBalancerArn"], {}).get("stackery.io/uid") == ctx.req.ref.uid]
        lb = mine[0] if mine else found[0]
        attrs = {
            a["Key"]: a["Value"]
            for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
        }
        return self._seen(ctx, {**lb, "Tags": tags.get(lb["LoadBalancerArn"], {}), "Attributes": attrs})

    def _seen(self, ctx: Ctx, lb: Mapping[str, Any]) -> Seen[dict[str, Any]]:
        uid, owner = owner_of(lb.get("Tags") or {})
        diffs = []
        if resolved(ctx.req):
            have_attrs = lb.get("Attributes") or {}
            want_attrs = attributes(ctx.req.spec)
            diffs += [
                *compare("securityGroups", groups(ctx), sorted(lb.get("SecurityGroups") or [])),
                *compare("subnets", public_subnets(ctx), sorted(z["SubnetId"] for z in lb.get("AvailabilityZones") or [])),
                *compare("attributes", want_attrs, {k: have_attrs.get(k) for k in want_attrs}),
            ]
        state = (lb.get("State") or {}).get("Code", "active")
        return Seen(
            exists=True,
            actual=dict(lb),
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "arn": lb["LoadBalancerArn"],
                "externalName": lb["LoadBalancerName"],
                "dnsName": lb.get("DNSName"),
                "canonicalHostedZoneId": lb.get("CanonicalHostedZoneId"),
                "state": state,
            },
            outputs={
                "LB_DNS_NAME": str(lb.get("DNSName") or ""),
                "LB_HOSTED_ZONE_ID": str(lb.get("CanonicalHostedZoneId") or ""),
                "LB_ARN": lb["LoadBalancerArn"],
            },
            waiting=None if state == "active" else f"load balancer {lb['LoadBalancerName']} is {state}",
            waiting_blocks=False,  # listeners can be added while it provisions
            message=f"http{'s' if ctx.req.spec.https else ''}://{lb.get('DNSName')}",
        )

    def refresh(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        """Compared again after its security group changed in this pass (no AWS call)."""
        return self._seen(ctx, dict(seen.actual or {}))

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        elb, spec = client("elbv2", ctx.req.region), ctx.req.spec
        want_attrs = attributes(spec)
        if not seen.exists:
            lb = elb.create_load_balancer(
                Name=lb_name(ctx.req.ref),
                Subnets=public_subnets(ctx),
                SecurityGroups=groups(ctx),
                Scheme="internet-facing",
                Type="application",
                IpAddressType="ipv4",
                Tags=tag_list(ctx.req.tags()),
            )["LoadBalancers"][0]
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[{"Key": k, "Value": v} for k, v in want_attrs.items()]
            )
            return self._seen(ctx, {**lb, "Tags": ctx.req.tags(), "Attributes": want_attrs})
        lb = dict(seen.actual or {})
        if lb.get("Tags", {}).get("stackery.io/uid") != ctx.req.ref.uid:
            raise OwnershipConflictError(f"load balancer {lb_name(ctx.req.ref)} is not this object's")
        fields = {d.field for d in seen.diffs}
        arn = lb["LoadBalancerArn"]
        if "securityGroups" in fields:
            elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=groups(ctx))
            lb["SecurityGroups"] = groups(ctx)
        if "subnets" in fields:
            elb.set_subnets(LoadBalancerArn=arn, Subnets=public_subnets(ctx))
            lb["AvailabilityZones"] = [{"SubnetId": s} for s in public_subnets(ctx)]
        if "attributes" in fields:
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=arn, Attributes=[{"Key": k, "Value": v} for k, v in want_attrs.items()]
            )
            lb["Attributes"] = {**lb.get("Attributes", {}), **want_attrs}
        return self._seen(ctx, lb)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        elb, lb = client("elbv2", ctx.req.region), seen.actual or {}
        if (lb.get("Attributes") or {}).get("deletion_protection.enabled") == "true":  # the spec says delete: turn it off
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
            )
        or_none(lambda: elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"]), "LoadBalancerNotFound")
        return None


# ------------------------------------------------------------------ listeners and rules
def wanted_listeners(ctx: Ctx) -> dict[int, dict[str, Any]]:
    """port -> listener settings as DescribeListeners shows them (the serving one gets the rules)."""
    spec = ctx.req.spec
    if not spec.https:
        return {80: {"Protocol": "HTTP", "DefaultActions": [NOT_FOUND_ACTION]}}
    return {
        80: {"Protocol": "HTTP", "DefaultActions": [REDIRECT_ACTION]},
        443: {
            "Protocol": "HTTPS",
            "DefaultActions": [NOT_FOUND_ACTION],
            "SslPolicy": spec.ssl_policy,
            "Certificates": [{"CertificateArn": certificate_arn(ctx)}],
        },
    }


def _listener_have(lis: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Protocol": lis.get("Protocol"),
        "DefaultActions": [_action(a) for a in lis.get("DefaultActions") or []],
    }
    if lis.get("Protocol") == "HTTPS":  # moto shows an SslPolicy on HTTP listeners too: ignored there
        out["SslPolicy"] = lis.get("SslPolicy")
        out["Certificates"] = [{"CertificateArn": c.get("CertificateArn")} for c in lis.get("Certificates") or []]
    return out


def _action(a: Mapping[str, Any]) -> dict[str, Any]:
    keep = {"Type": a.get("Type")}
    for k in ("FixedResponseConfig", "RedirectConfig", "TargetGroupArn"):
        if a.get(k):
            keep[k] = dict(a[k]) if isinstance(a[k], Mapping) else a[k]
    return keep


def conditions(route: Route) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if route.hosts:
        out.append({"Field": "host-header", "HostHeaderConfig": {"Values": list(route.hosts)}})
    if route.paths:
        out.append({"Field": "path-pattern", "PathPatternConfig": {"Values": list(route.paths)}})
    return out


def wanted_rules(ctx: Ctx) -> dict[str, dict[str, Any]]:
    """priority -> {conditions, target group} (route order = priority)."""
    arns = target_group_arns(ctx)
    return {
        str(i): {"Conditions": conditions(r), "TargetGroupArn": arns.get(target_of(r))}
        for i, r in enumerate(ctx.req.spec.routes, start=1)
    }


def _rule_have(rule: Mapping[str, Any]) -> dict[str, Any]:
    conds = []
    for c in rule.get("Conditions") or []:
        if c.get("Field") == "host-header":
            conds.append(
                {
                    "Field": "host-header",
                    "HostHeaderConfig": {
                        "Values": list((c.get("HostHeaderConfig") or {}).get("Values") or c.get("Values") or [])
                    },
                }
            )
        elif c.get("Field") == "path-pattern":
            conds.append(
                {
                    "Field": "path-pattern",
                    "PathPatternConfig": {
                        "Values": list((c.get("PathPatternConfig") or {}).get("Values") or c.get("Values") or [])
                    },
                }
            )
    conds.sort(key=lambda c: str(c["Field"]))
    fwd: Mapping[str, Any] = next((a for a in rule.get("Actions") or [] if a.get("Type") == "forward"), {})
    return {"Conditions": conds, "TargetGroupArn": fwd.get("TargetGroupArn")}


class ListenersPart:
    """actual: {"listeners": port -> listener, "rules": priority -> rule (of the serving listener)}."""

    name = "listeners"
    after: tuple[str, ...] = ("certificate", "targets", "loadBalancer")

    def wanted(self, ctx: Ctx) -> bool:
        return True

    def observe(self, ctx: Ctx) -> Seen[dict[str, Any]]:
        lb = ctx.seen.get("loadBalancer")
        if lb is None or not lb.exists or not lb.actual:
            return Seen(exists=False)
        elb = client("elbv2", ctx.req.region)
        found = elb.describe_listeners(LoadBalancerArn=lb.actual["LoadBalancerArn"]).get("Listeners", [])
        listeners = {int(lis["Port"]): lis for lis in found}
        serving = listeners.get(443 if ctx.req.spec.https else 80)
        rules = {}
        if serving is not None:
            got = elb.describe_rules(ListenerArn=serving["ListenerArn"]).get("Rules", [])
            rules = {str(r["Priority"]): r for r in got if not r.get("IsDefault")}
        return self._seen(ctx, listeners, rules)

    def _seen(self, ctx: Ctx, listeners: dict[int, dict[str, Any]], rules: dict[str, dict[str, Any]]) -> Seen[dict[str, Any]]:
        if not listeners:
            return Seen(exists=False, actual={"listeners": {}, "rules": {}})
        diffs = []
        if resolved(ctx.req):
            want = wanted_listeners(ctx)
            diffs += compare("listeners", sorted(want), sorted(listeners))
            for port, w in sorted(want.items()):
                if port in listeners:
                    diffs += compare(f"listener.{port}", w, _listener_have(listeners[port]))
            have_rules = {p: _rule_have(r) for p, r in rules.items()}
            want_rules = {
                p: {**r, "Conditions": sorted(r["Conditions"], key=lambda c: str(c["Field"]))}
                for p, r in wanted_rules(ctx).items()
            }
            diffs += compare("rules", want_rules, have_rules)
            groups = ctx.seen.get("targets")
            unused = sorted(set((groups.actual or {}) if groups is not None else {}) - set(targets(ctx)))
            diffs += compare("targetGroups.unused", [], unused)  # removed here, once no rule sends to them
        status = [
            {"priority": int(p), "target": "/".join(target_of(r)), "targetGroupArn": target_group_arns(ctx).get(target_of(r))}
            for p, r in ((str(i), r) for i, r in enumerate(ctx.req.spec.routes, start=1))
            if p in rules
        ]
        return Seen(
            exists=True,
            actual={"listeners": listeners, "rules": rules},
            owner_uid=ctx.req.ref.uid,
            diffs=tuple(diffs),
            identifiers={"listeners": [f"{listeners[p]['Protocol']}:{p}" for p in sorted(listeners)], "routes": status},
        )

    def refresh(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        """Compared again after target groups or the certificate changed in this pass (no AWS call)."""
        actual = seen.actual or {}
        return self._seen(ctx, dict(actual.get("listeners") or {}), dict(actual.get("rules") or {}))

    def ensure(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> Seen[dict[str, Any]]:
        elb = client("elbv2", ctx.req.region)
        lb_arn = ctx.seen["loadBalancer"].actual["LoadBalancerArn"]  # type: ignore[index]
        listeners = dict((seen.actual or {}).get("listeners") or {})
        rules = dict((seen.actual or {}).get("rules") or {})
        want = wanted_listeners(ctx)
        for port in sorted(set(listeners) - set(want)):
            elb.delete_listener(ListenerArn=listeners.pop(port)["ListenerArn"])
        for port, w in sorted(want.items()):
            if port not in listeners:
                made = elb.create_listener(LoadBalancerArn=lb_arn, Port=port, **w, Tags=tag_list(part_tags(ctx.req, "listeners")))
                listeners[port] = made["Listeners"][0]
            elif _listener_have(listeners[port]) != w:
                got = elb.modify_listener(ListenerArn=listeners[port]["ListenerArn"], Port=port, **w)
                listeners[port] = got["Listeners"][0]
        serving = listeners[443 if ctx.req.spec.https else 80]
        if rules and next(iter(rules.values()))["RuleArn"].split("/")[-2] != serving["ListenerArn"].split("/")[-1]:
            rules = {}  # the serving listener changed (HTTP -> HTTPS): its rules start empty
        want_rules = wanted_rules(ctx)
        for prio in sorted(set(rules) - set(want_rules)):
            elb.delete_rule(RuleArn=rules.pop(prio)["RuleArn"])
        for prio, r in sorted(want_rules.items(), key=lambda kv: int(kv[0])):
            actions = [{"Type": "forward", "TargetGroupArn": r["TargetGroupArn"]}]
            if prio not in rules:
                made = elb.create_rule(
                    ListenerArn=serving["ListenerArn"],
                    Priority=int(prio),
                    Conditions=r["Conditions"],
                    Actions=actions,
                    Tags=tag_list(part_tags(ctx.req, "listeners")),
                )
                rules[prio] = made["Rules"][0]
            elif _rule_have(rules[prio]) != {**r, "Conditions": sorted(r["Conditions"], key=lambda c: str(c["Field"]))}:
                rules[prio] = elb.modify_rule(RuleArn=rules[prio]["RuleArn"], Conditions=r["Conditions"], Actions=actions)[
                    "Rules"
                ][0]
        groups = ctx.seen.get("targets")
        have = dict(groups.actual or {}) if groups is not None else {}
        stale = {n: g for n, g in have.items() if n not in targets(ctx)}
        if groups is not None and stale and TargetGroupsPart().remove(ctx, stale) is None:  # no rule sends to them any more
            kept = {n: g for n, g in have.items() if n not in stale}
            ctx.seen["targets"] = replace(groups, actual=kept, exists=bool(kept), diffs=())
        return self._seen(ctx, listeners, rules)

    def delete(self, ctx: Ctx, seen: Seen[dict[str, Any]]) -> str | None:
        elb = client("elbv2", ctx.req.region)
        for lis in ((seen.actual or {}).get("listeners") or {}).values():
            or_none(lambda lis=lis: elb.delete_listener(ListenerArn=lis["ListenerArn"]), "ListenerNotFound")  # type: ignore[misc]
        return None


class LoadBalancerAdapter(Composite[LoadBalancerSpec]):
    def __init__(self) -> None:
        super().__init__(
            [CERTIFICATE, SecurityGroupPart(), TargetGroupsPart(), LoadBalancerPart(), ListenersPart()], primary="loadBalancer"
        )

    def external_name(self, ref: ObjectRef, spec: LoadBalancerSpec) -> str:
        return lb_name(ref)

    def references(self, spec: LoadBalancerSpec) -> list[Reference]:
        refs: list[Reference] = [NodeRef(NETWORK_KIND, spec.virtual_network, role="placement")]
        seen: set[tuple[str, str]] = set()
        for r in spec.routes:
            if target_of(r) not in seen:
                seen.add(target_of(r))
                refs.append(NodeRef(*target_of(r), role="route"))
        return refs

    def claims(self, spec: LoadBalancerSpec) -> list[Claim]:
        return []

    def summary(self, ctx: Context[LoadBalancerSpec]) -> Observation[Context[LoadBalancerSpec]]:
        obs = super().summary(ctx)
        return replace(obs, identifiers={**obs.identifiers, "vpcId": vpc(ctx)})

    def delete(self, req: Request[LoadBalancerSpec], obs: Observation[Context[LoadBalancerSpec]]) -> DeleteResult:
        if req.spec.deletion_protection:
            raise BlockedError(
                f"StackeryLoadBalancer {req.ref.name} has deletionProtection: true, so nothing was deleted. To delete it, run: "
                f"kubectl patch stackeryloadbalancer {req.ref.name} -n {req.ref.namespace} --type merge -p "
                '\'{"spec":{"deletionProtection":false}}\'. To keep it and release this object instead, set spec.deletionPolicy: Retain.',
                reason="DeletionProtected",
            )
        return super().delete(req, obs)
