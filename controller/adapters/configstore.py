"""ConfigStore adapter: SSM parameters under one path, literal (String) or from a Secret (SecureString).

Read budget of one drift check (observe): ceil(P/10) GetParametersByPath (with decryption) plus one
ListTagsForResource per parameter under the path (ownership and tag drift are per parameter).

Ownership is per parameter: only parameters tagged with this object's uid are changed or deleted;
a parameter someone else made at a key we want is a conflict (adopt it with stackery.io/external-name).
Secret-sourced values never leave this module: drift entries show "(secret)" instead of values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api.configstore import ConfigStoreSpec, Parameter
from ..aws.clients import client, error_code
from ..aws.errors import classify
from ..core.adapter import DeleteResult, Diff, ObjectRef, Observation, Reference, Request, SecretKey
from ..core.wiring import Access, GrantContext, Statement, Wiring
from ..errors import TerminalError
from ..policy import Claim, ClaimKind
from .common import owner_of, tag_dict, tag_list

Req = Request[ConfigStoreSpec]
SECRET_MASK = "(secret)"
READ_ACTIONS = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]


@dataclass(frozen=True)
class Parameters:
    """Every parameter under the path by full name: value, type, arn, tags."""

    found: dict[str, dict[str, Any]]


def grants(status: Mapping[str, Any], ctx: GrantContext, access: Access) -> list[Statement]:
    """Read at every access level: the ConfigStore owns its parameters, so a connected node may read them
    (Stackery's SSMParameterReadPolicy) but never write what the operator would put back."""
    path = str(status.get("path") or "/")
    return [{"Action": READ_ACTIONS, "Resource": [f"arn:aws:ssm:{ctx.region}:{ctx.account}:parameter{path}*"]}]


WIRING = Wiring(env=(("CONFIG_PATH", "path"),), grants=grants)


def default_path(ref: ObjectRef) -> str:
    return f"/{ref.namespace}/{ref.name}/"


def desired_value(req: Req, param: Parameter) -> tuple[str | None, str]:
    """(value, type) for a parameter spec; secret values come resolved in req.inputs (None if absent,
    which only happens while deleting)."""
    if param.secret_key_ref is not None:
        return req.inputs.get(f"{param.secret_key_ref.name}/{param.secret_key_ref.key}"), "SecureString"
    return param.value or "", "String"


class ConfigStoreAdapter:
    name_scope: ClaimKind | None = "ssmPath"
    tagged_at_create: bool = True

    def external_name(self, ref: ObjectRef, spec: ConfigStoreSpec) -> str:
        return spec.path or default_path(ref)

    def references(self, spec: ConfigStoreSpec) -> list[Reference]:
        keys = sorted(
            {(p.secret_key_ref.name, p.secret_key_ref.key) for p in spec.parameters.values() if p.secret_key_ref is not None}
        )
        return [SecretKey(name, key) for name, key in keys]

    def claims(self, spec: ConfigStoreSpec) -> list[Claim]:
        return [Claim("ssmPath", "spec.path", spec.path)] if spec.path else []

    def _read(self, req: Req) -> dict[str, dict[str, Any]]:
        ssm = client("ssm", req.region)
        found: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {"Path": req.external_name.rstrip("/") or "/", "Recursive": True, "WithDecryption": True}
        while True:
            page = ssm.get_parameters_by_path(**kwargs)
            for p in page.get("Parameters", []):
                found[p["Name"]] = {"value": p["Value"], "type": p["Type"], "arn": p.get("ARN")}
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        for name, p in found.items():
            tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList", [])
            p["tags"] = tag_dict(tags)
        return found

    def observe(self, req: Req) -> Observation[Parameters]:
        return judge(req, self._read(req))

    def create(self, req: Req, obs: Observation[Parameters] | None = None) -> Observation[Parameters]:
        return judge(req, self._apply(req, {}, set(req.spec.parameters)))

    def update(self, req: Req, obs: Observation[Parameters]) -> Observation[Parameters]:
        keys = {d.field.removeprefix("parameters.").removesuffix(".tags") for d in obs.diffs}
        return judge(req, self._apply(req, obs.actual.found if obs.actual else {}, keys))

    def _apply(self, req: Req, found: dict[str, dict[str, Any]], keys: set[str]) -> dict[str, dict[str, Any]]:
        """Write the parameters at keys (delete those no longer wanted); returns found as it now stands."""
        ssm = client("ssm", req.region)
        path, tags = req.external_name, req.tags()
        after = dict(found)
        stale: list[str] = []
        for key in sorted(keys):
            name = path + key
            param = req.spec.parameters.get(key)
            if param is None:
                stale.append(name)
                continue
            try:
                written = self._put(ssm, req, name, param, found.get(name), tags)
            except Exception as exc:
                err = classify(exc)
                if err.reason == "AWSRejected":  # a validation error: say which key, not just what AWS said
                    raise TerminalError(
                        f"spec.parameters.{key} ({name}): {err.message}. Fix that parameter's key or value.",
                        reason="InvalidParameter",
                    ) from None
                raise
            if written is not None:
                after[name] = written
        for i in range(0, len(stale), 10):
            ssm.delete_parameters(Names=stale[i : i + 10])
        for name in stale:
            after.pop(name, None)
        return after

    @staticmethod
    def _put(
        ssm: Any, req: Req, name: str, param: Parameter, actual: dict[str, Any] | None, tags: dict[str, str]
    ) -> dict[str, Any] | None:
        """Put one parameter and its tags; returns it as it now stands (None: its Secret value is missing)."""
        value, ptype = desired_value(req, param)
        if value is None:
            return None
        now = {"value": value, "type": ptype, "arn": (actual or {}).get("arn"), "tags": tags}
        kwargs: dict[str, Any] = {"Name": name, "Value": value, "Type": ptype}
        if ptype == "SecureString" and req.spec.kms_key_id:
            kwargs["KeyId"] = req.spec.kms_key_id
        if actual is None:
            try:  # tags at creation, so a crash right after cannot leave an unowned parameter
                ssm.put_parameter(**kwargs, Tags=tag_list(tags))
                return now
            except Exception as exc:
                if error_code(exc) != "ParameterAlreadyExists":
                    raise
        if actual is None or actual["value"] != value or actual["type"] != ptype:
            ssm.put_parameter(**kwargs, Overwrite=True)
        if actual is None or actual["tags"] != tags:
            ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=tag_list(tags))
            extra = sorted(set((actual or {}).get("tags", {})) - set(tags))
            if extra:
                ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=extra)
        return now

    def delete(self, req: Req, obs: Observation[Parameters]) -> DeleteResult:
        ssm = client("ssm", req.region)
        found = obs.actual.found if obs.actual else {}
        ours = sorted(n for n, p in found.items() if p["tags"].get("stackery.io/uid") == req.ref.uid)
        for i in range(0, len(ours), 10):
            ssm.delete_parameters(Names=ours[i : i + 10])
        others = len(found) - len(ours)
        note = f"deleted {len(ours)} parameter(s) this object owned under {req.external_name}" + (
            f"; {others} other parameter(s) there, not this object's, were left in place" if others else ""
        )
        return DeleteResult(done=True, notes=(("ParametersDeleted", note),))


def _ids(req: Req, ours: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"externalName": req.external_name, "path": req.external_name, "region": req.region, "parameterCount": len(ours)}


def judge(req: Req, found: dict[str, dict[str, Any]]) -> Observation[Parameters]:
    """The observation of the parameters under the path (pure: after a read, or after the writes)."""
    path = req.external_name
    want = {path + k: p for k, p in req.spec.parameters.items()}
    desired_tags = req.tags()
    owner_uid: str | None = req.ref.uid
    owner: str | None = None
    diffs: list[Diff] = []
    for name, p in sorted(found.items()):
        uid, who = owner_of(p["tags"])
        if name in want and uid is None and not req.adopt:
            owner_uid, owner = None, None
            break
        if name in want and uid is not None and uid != req.ref.uid:
            owner_uid, owner = uid, who
            break
    if owner_uid == req.ref.uid:
        for name, param in sorted(want.items()):
            key = name[len(path) :]
            value, ptype = desired_value(req, param)
            if value is None:
                continue
            actual = found.get(name)
            secret = ptype == "SecureString"
            show = SECRET_MASK if secret else value
            if actual is None:
                diffs.append(Diff(f"parameters.{key}", show, None))
            elif actual["value"] != value or actual["type"] != ptype:
                diffs.append(
                    Diff(
                        f"parameters.{key}",
                        show if not secret else f"{SECRET_MASK} {ptype}",
                        SECRET_MASK if actual["type"] == "SecureString" or secret else actual["value"],
                    )
                )
            elif actual["tags"] != desired_tags:
                diffs.append(Diff(f"parameters.{key}.tags", "spec tags", "different tags"))
        for name, actual in sorted(found.items()):
            if name not in want and actual["tags"].get("stackery.io/uid") == req.ref.uid:
                diffs.append(
                    Diff(
                        f"parameters.{name[len(path) :]}",
                        None,
                        SECRET_MASK if actual["type"] == "SecureString" else actual["value"],
                    )
                )
    ours = {n: p for n, p in found.items() if p["tags"].get("stackery.io/uid") == req.ref.uid}
    if not found and not want:
        # An empty store is a valid (virtual) resource: nothing to create.
        return Observation(
            exists=True, owner_uid=req.ref.uid, identifiers=_ids(req, {}), outputs={"CONFIG_PATH": path}, empty=True
        )
    if not ours and not any(n in want for n in found) and owner_uid == req.ref.uid:
        return Observation(exists=False)
    return Observation(
        exists=True,
        owner_uid=owner_uid,
        owner=owner,
        diffs=tuple(diffs),
        identifiers=_ids(req, ours),
        outputs={"CONFIG_PATH": path},
        actual=Parameters(found),
    )
