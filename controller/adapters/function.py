"""Function adapter: a Lambda function, its owned execution role with exactly the permissions its
connections need, and one event source mapping per trigger (a Table's stream).

Read budget of one drift check (observe): GetFunction, GetRole, GetRolePolicy,
ListEventSourceMappings = 4 calls (2 with spec.roleArn), plus STS GetCallerIdentity once per region
per process.

Code changes are detected by the code location (objectStore/s3 key and version, image URI) or the
inline zip's hash, recorded in the stackery.io/code-hash tag: upload new code under a new key (or
version) to deploy it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..api.function import FunctionSpec, Trigger
from ..aws.clients import account_id, client, error_code, or_none
from ..core.adapter import NOT_FOUND, DeleteResult, Diff, NodeRef, ObjectRef, Observation, Reference, Request
from ..core.wiring import Access, GrantContext, Statement, Wiring, connection_statements, network_groups
from ..core.wiring import environment as connected_environment
from ..errors import InvalidSpecError, RecoverableError, WaitingError
from ..policy import Claim, ClaimKind
from .common import canon, compare, dns_name, foreign, owner_of
from .execrole import ExecutionRole
from .placement import (
    ENI_STATEMENT,
    NETWORK_KIND,
    PENDING_GROUP,
    delete_group,
    ensure_group,
    find_group,
    group_exists,
    have_vpc_config,
    private_subnets,
    vpc_config,
)

Req = Request[FunctionSpec]
CODE_TAG = "stackery.io/code-hash"
ROLE = ExecutionRole("stackery-fn", "lambda.amazonaws.com")

STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
TRIGGER_ACTIONS = {
    "StackeryTable": STREAM_ACTIONS,
    "StackeryQueue": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
    "StackeryStream": [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
        "kinesis:ListStreams",
        "kinesis:SubscribeToShard",
    ],
}
"""What a function's role needs on each kind of event source (exactly that source's ARN)."""
TRIGGER_SID = {"StackeryTable": "Stream", "StackeryQueue": "Queue", "StackeryStream": "Kinesis"}


def trigger_source(t: Trigger, nodes: Nodes) -> str | None:
    """The event source ARN of a trigger: a table's stream, a queue's or a stream's ARN."""
    status = nodes[t.source]
    return str(status.get("streamArn") if t.table else status.get("arn") or "") or None


def mapping_config(t: Trigger) -> dict[str, Any]:
    """The event source mapping settings a trigger asks for, as ListEventSourceMappings shows them."""
    cfg: dict[str, Any] = {"BatchSize": t.batch_size}
    if not t.queue:
        cfg["StartingPosition"] = t.starting_position
    if t.batching_window_seconds:
        cfg["MaximumBatchingWindowInSeconds"] = t.batching_window_seconds
    if t.report_batch_item_failures:
        cfg["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    return cfg


def mapping_have(m: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any]:
    have: dict[str, Any] = {"BatchSize": m.get("BatchSize")}
    if "StartingPosition" in want or m.get("StartingPosition"):
        have["StartingPosition"] = m.get("StartingPosition")
    if m.get("MaximumBatchingWindowInSeconds"):
        have["MaximumBatchingWindowInSeconds"] = m["MaximumBatchingWindowInSeconds"]
    if m.get("FunctionResponseTypes"):
        have["FunctionResponseTypes"] = list(m["FunctionResponseTypes"])
    return have


Nodes = Mapping[tuple[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Live:
    """The function as AWS holds it: configuration, tags, reserved concurrency, role policy, mappings, group."""

    cfg: dict[str, Any]
    tags: dict[str, str]
    concurrency: int | None
    role_policy: Any
    mappings: list[dict[str, Any]]
    group: str | None


@dataclass(frozen=True)
class Lambda:
    """What observe read that update/delete need again."""

    want: dict[str, Any]
    tags: dict[str, str]
    mappings: list[dict[str, Any]]
    arn: str
    group: str | None = None
    """Its security group in the network it is placed in (or left: then deleted once the function is out)."""
    live: Live | None = None
    """What was read (or written), for the state after an update."""


def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    return [{"Action": ["lambda:InvokeFunction"], "Resource": [str(status["arn"])]}]


WIRING = Wiring(env=(("FUNCTION_NAME", "externalName"), ("FUNCTION_ARN", "arn")), grants=grants)


# ------------------------------------------------------------------ pure helpers
def environment(spec: FunctionSpec, nodes: Nodes, wiring: Mapping[str, Wiring]) -> dict[str, str]:
    """The user's variables, then each connection's (core.wiring.environment)."""
    return connected_environment(spec.environment, spec.connections, nodes, wiring)


def policy_document(
    spec: FunctionSpec, nodes: Nodes, wiring: Mapping[str, Wiring], *, function_name: str, region: str, account: str
) -> dict[str, Any]:
    """Least privilege: logs for this function, then per connection what its kind grants on exactly its
    ARNs (at the connection's access level), then stream reads for triggers."""
    ctx = GrantContext(region=region, account=account)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function_name}:*",
        }
    ]
    statements += connection_statements(spec.connections, nodes, wiring, ctx)
    if spec.virtual_network:  # Lambda makes its network interfaces with the function's role
        statements.append(dict(ENI_STATEMENT))
    for i, t in enumerate(spec.triggers, start=1):
        source = trigger_source(t, nodes)
        if source:
            actions = TRIGGER_ACTIONS[t.source[0]]
            statements.append(
                {
                    "Sid": f"Trigger{i}{TRIGGER_SID[t.source[0]]}",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [source],
                }
            )
    return {"Version": "2012-10-17", "Statement": statements}


def code_args(spec: FunctionSpec, nodes: Nodes) -> tuple[dict[str, Any], str]:
    """(Code argument for Lambda, stable hash of the code source)."""
    c = spec.code
    if c.object_store is not None:
        bucket = str(nodes[("StackeryObjectStore", c.object_store.name)]["externalName"])
        code: dict[str, Any] = {"S3Bucket": bucket, "S3Key": c.object_store.key}
        ident: Any = code
    elif c.s3 is not None:
        code = {"S3Bucket": c.s3.bucket, "S3Key": c.s3.key}
        if c.s3.version:
            code["S3ObjectVersion"] = c.s3.version
        ident = code
    elif c.zip_base64 is not None:
        raw = base64.b64decode(c.zip_base64)
        code = {"ZipFile": raw}
        ident = {"zipSha256": hashlib.sha256(raw).hexdigest()}
    else:
        code = {"ImageUri": c.image_uri}
        ident = code
    return code, hashlib.sha256(canon(ident).encode()).hexdigest()[:32]


# ------------------------------------------------------------------ adapter
class FunctionAdapter:
    name_scope: ClaimKind | None = None
    tagged_at_create: bool = False

    def external_name(self, ref: ObjectRef, spec: FunctionSpec) -> str:
        return spec.function_name or dns_name("stackery", ref, max_len=64)

    def references(self, spec: FunctionSpec) -> list[Reference]:
        refs: list[Reference] = [NodeRef(c.kind, c.name, wire=True, role="connection") for c in spec.connections]
        refs += [NodeRef(*t.source, role="trigger") for t in spec.triggers]
        if spec.code.object_store is not None:
            refs.append(NodeRef("StackeryObjectStore", spec.code.object_store.name, role="code"))
        if spec.virtual_network:
            refs.append(NodeRef(NETWORK_KIND, spec.virtual_network, role="placement"))
        return refs  # a table both connected and triggering is listed twice (two wires); the core reads it once

    def claims(self, spec: FunctionSpec) -> list[Claim]:
        claims: list[Claim] = []
        if spec.role_arn:
            claims.append(Claim("roleArn", "spec.roleArn", spec.role_arn))
        if spec.code.s3 is not None:
            claims.append(Claim("codeBucket", "spec.code.s3.bucket", spec.code.s3.bucket))
        if spec.code.image_uri:
            claims.append(Claim("image", "spec.code.imageUri", spec.code.image_uri))
        return claims

    def _network(self, req: Req) -> Mapping[str, Any] | None:
        return req.nodes.get((NETWORK_KIND, req.spec.virtual_network)) if req.spec.virtual_network else None

    def _desired(self, req: Req, group: str | None = None) -> dict[str, Any]:
        spec = req.spec
        for t in spec.triggers:
            if t.table and not req.nodes[("StackeryTable", t.table)].get("streamArn"):
                raise InvalidSpecError(
                    f"trigger on StackeryTable {t.table}, but that table has no stream: "
                    "set spec.stream.enabled: true on the table, or remove the trigger"
                )
        account = account_id(req.region)
        role_arn = spec.role_arn or ROLE.arn(req.ref, account)
        code, code_hash = code_args(spec, req.nodes)
        config: dict[str, Any] = {
            "MemorySize": spec.memory_size,
            "Timeout": spec.timeout,
            "Environment": {"Variables": environment(spec, req.nodes, req.wiring)},
            "Role": role_arn,
        }
        if spec.code.image_uri is None:
            config.update(Runtime=spec.runtime, Handler=spec.handler)
        net = self._network(req)
        config["VpcConfig"] = vpc_config(private_subnets(net) if net else [], group, self._carried(req))
        return {
            "config": config,
            "code": code,
            "code_hash": code_hash,
            "role_arn": role_arn,
            "policy": policy_document(
                spec, req.nodes, req.wiring, function_name=req.external_name, region=req.region, account=account
            ),
            "triggers": {str(trigger_source(t, req.nodes)): mapping_config(t) for t in spec.triggers},
            "tags": {**req.tags(), CODE_TAG: code_hash},
        }

    def _carried(self, req: Req) -> list[str]:
        """Client groups of connected databases; InvalidSpecError when not placed in their network."""
        return network_groups(
            f"StackeryFunction {req.ref.name}",
            req.spec.virtual_network,
            [(c.kind, c.name) for c in req.spec.connections],
            req.nodes,
            req.wiring,
        )

    def observe(self, req: Req) -> Observation[Lambda]:
        if self._resolved(req):
            self._carried(req)  # a connection the placement cannot serve is refused before any AWS call
        lam = client("lambda", req.region)
        name = req.external_name
        f = or_none(lambda: lam.get_function(FunctionName=name), "ResourceNotFoundException")
        if f is None:
            return self._leftover(req)
        tags = dict(f.get("Tags") or {})
        other = foreign(req, tags)
        if other is not None:
            return other
        uid, owner = owner_of(tags)
        cfg = f["Configuration"]
        mappings = lam.list_event_source_mappings(FunctionName=name).get("EventSourceMappings", [])
        if not self._resolved(req):
            # deleting while a referenced node is already gone (a whole namespace pruned at once): what
            # the spec wants cannot be known any more, and a delete does not need it
            return Observation(
                exists=True,
                owner_uid=uid,
                owner=owner,
                identifiers={"arn": cfg["FunctionArn"], "externalName": name, "region": req.region},
                actual=Lambda({}, tags, mappings, cfg["FunctionArn"]),
            )
        group, net = None, self._network(req)
        if net is not None:
            group = find_group(req, str(net["vpcId"]))
        elif req.status.get("securityGroupId") and group_exists(req, str(req.status["securityGroupId"])):
            group = str(req.status["securityGroupId"])  # left the network: its group goes once it is out
        role_policy = ROLE.policy(req) if req.spec.role_arn is None else None
        concurrency = (f.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
        return self._judge(req, Live(cfg, tags, concurrency, role_policy, mappings, group))

    def _judge(self, req: Req, live: Live) -> Observation[Lambda]:
        """The observation of the function as it stands (pure: after observe's reads or after the writes)."""
        cfg, tags, group, net = live.cfg, live.tags, live.group, self._network(req)
        want = self._desired(req, group if net is not None else None)
        have_cfg = {k: cfg.get(k) for k in want["config"]}
        have_cfg["Environment"] = {"Variables": (cfg.get("Environment") or {}).get("Variables") or {}}
        have_cfg["VpcConfig"] = have_vpc_config(cfg.get("VpcConfig"))
        diffs: list[Diff] = []
        for key in want["config"]:
            diffs += compare(key[0].lower() + key[1:], want["config"][key], have_cfg[key])
        diffs += compare("code", want["code_hash"], tags.get(CODE_TAG))
        diffs += compare("reservedConcurrency", req.spec.reserved_concurrency, live.concurrency)
        diffs += compare("tags", want["tags"], tags)
        if req.spec.role_arn is None:
            diffs += compare("rolePolicy", want["policy"], live.role_policy)
        have_triggers = {
            m["EventSourceArn"]: mapping_have(m, want["triggers"].get(m["EventSourceArn"]) or {}) for m in live.mappings
        }
        diffs += compare("triggers", want["triggers"], have_triggers)
        if net is None and group:
            diffs += compare("securityGroup", None, group)
        uid, owner = owner_of(tags)
        arn = cfg["FunctionArn"]
        return Observation(
            exists=True,
            owner_uid=uid,
            owner=owner,
            diffs=tuple(diffs),
            identifiers={
                "arn": arn,
                "externalName": req.external_name,
                "region": req.region,
                "roleArn": want["role_arn"],
                "environmentKeys": sorted(want["config"]["Environment"]["Variables"]),
                "securityGroupId": group,
            },
            outputs={"FUNCTION_NAME": req.external_name, "FUNCTION_ARN": arn},
            actual=Lambda(want, tags, live.mappings, arn, group, live),
        )

    def _resolved(self, req: Req) -> bool:
        return all((r.kind, r.name) in req.nodes for r in self.references(req.spec) if isinstance(r, NodeRef))

    def _leftover(self, req: Req) -> Observation[Lambda]:
        """No function: is the execution role of an earlier, half-made create still there (CreateRole
        succeeded, CreateFunction was refused)? Then a delete must still run. Only asked once this
        object has tried to create (pendingCreate) or has held a function, so a first create costs no read."""
        tried = req.status.get("pendingCreate") == req.external_name or req.status.get("resourceName")
        if req.spec.role_arn is not None or not tried:
            return NOT_FOUND
        return Observation(exists=False, residual=ROLE.held(req))

    def create(self, req: Req, obs: Observation[Lambda] | None = None) -> Observation[Lambda] | None:
        net = self._network(req)
        group = ensure_group(req, str(net["vpcId"])) if net is not None else None
        want = self._desired(req, group)
        if req.spec.role_arn is None:
            ROLE.ensure(req, want["policy"], f"Execution role of StackeryFunction {req.ref.namespace}/{req.ref.name}")
        lam = client("lambda", req.region)
        kwargs: dict[str, Any] = {
            "FunctionName": req.external_name,
            "Code": want["code"],
            "Tags": want["tags"],
            "PackageType": "Image" if req.spec.code.image_uri else "Zip",
            **want["config"],
        }
        try:
            made = lam.create_function(**kwargs)
        except Exception as exc:
            code = error_code(exc)
            if code == "ResourceConflictException":
                return None  # a retried create: observe decides
            if code == "InvalidParameterValueException" and "role" in str(exc).lower():
                raise RecoverableError(f"execution role not usable yet (IAM is eventually consistent): {exc}") from None
            raise
        # CreateFunction answers with the configuration as created; the role policy and tags were just written;
        # mappings and reserved concurrency are differences update applies. Nothing is read back.
        policy = want["policy"] if req.spec.role_arn is None else None
        return self._judge(req, Live(dict(made), dict(want["tags"]), None, policy, [], group))

    def update(self, req: Req, obs: Observation[Lambda]) -> Observation[Lambda] | None:
        assert obs.actual is not None
        lam = client("lambda", req.region)
        actual = obs.actual
        want, name = actual.want, req.external_name
        changed = {d.field for d in obs.diffs}
        live = actual.live
        group = actual.group
        if "rolePolicy" in changed:
            ROLE.ensure(req, want["policy"], f"Execution role of StackeryFunction {req.ref.namespace}/{req.ref.name}")
        cfg_fields = {k[0].lower() + k[1:] for k in want["config"]}
        net = self._network(req)
        if net is not None and "vpcConfig" in changed:  # placed (or moved): its group first
            group = ensure_group(req, str(net["vpcId"]))
            carried = [g for g in want["config"]["VpcConfig"]["SecurityGroupIds"] if g != PENDING_GROUP]
            want = {**want, "config": {**want["config"], "VpcConfig": vpc_config(private_subnets(net), group, carried)}}
        cfg = dict(live.cfg) if live else {}
        if changed & cfg_fields:
            cfg = dict(lam.update_function_configuration(FunctionName=name, **want["config"]))
        if net is None and actual.group and "securityGroup" in changed:  # moved out: its group goes
            wait = delete_group(req, actual.group)
            if wait:
                raise WaitingError(wait, reason="ReleasingNetwork")
            group = None
        if "code" in changed:
            cfg = dict(lam.update_function_code(FunctionName=name, **want["code"]))
        if "code" in changed or "tags" in changed:
            lam.tag_resource(Resource=actual.arn, Tags=want["tags"])
            extra = sorted(set(actual.tags) - set(want["tags"]))
            if extra:
                lam.untag_resource(Resource=actual.arn, TagKeys=extra)
        if "reservedConcurrency" in changed:
            if req.spec.reserved_concurrency is None:
                lam.delete_function_concurrency(FunctionName=name)
            else:
                lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=req.spec.reserved_concurrency)
        mappings = list(actual.mappings)
        if "triggers" in changed:
            have = {m["EventSourceArn"]: m for m in actual.mappings}
            kept: list[dict[str, Any]] = []
            for source, mcfg in want["triggers"].items():
                m = have.get(source)
                if m is None:
                    kept.append(dict(lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source, **mcfg)))
                elif mapping_have(m, mcfg) != mcfg:
                    lam.delete_event_source_mapping(UUID=m["UUID"])  # starting position is fixed: replace
                    kept.append(dict(lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source, **mcfg)))
                else:
                    kept.append(m)
            for source, m in have.items():
                if source not in want["triggers"]:
                    lam.delete_event_source_mapping(UUID=m["UUID"])
            mappings = kept
        if live is None:
            return None  # observed without a resolved spec (nothing to compare with): read again
        # the state as written: configuration and code as UpdateFunction* answered, the rest as set above
        return self._judge(
            req,
            Live(
                cfg,
                dict(want["tags"]) if {"code", "tags"} & changed else live.tags,
                req.spec.reserved_concurrency if "reservedConcurrency" in changed else live.concurrency,
                want["policy"] if "rolePolicy" in changed else live.role_policy,
                mappings,
                group,
            ),
        )

    def delete(self, req: Req, obs: Observation[Lambda]) -> DeleteResult:
        lam = client("lambda", req.region)
        for m in obs.actual.mappings if obs.actual else []:
            or_none(partial(lam.delete_event_source_mapping, UUID=m["UUID"]), "ResourceNotFoundException")
        or_none(lambda: lam.delete_function(FunctionName=req.external_name), "ResourceNotFoundException")
        if req.spec.role_arn is None:
            ROLE.delete(req)
        group = (obs.actual.group if obs.actual else None) or req.status.get("securityGroupId")
        if group:
            wait = delete_group(req, str(group))
            if wait:
                return DeleteResult(done=False, message=wait)
        return DeleteResult(done=True)
