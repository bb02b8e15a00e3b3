"""Kinds made of parts: one object standing for several AWS resources, each with its own identity.

Why: a CDN is a certificate, an origin access control, a distribution, a bucket-policy statement and
DNS records; a Virtual Network is a VPC plus a dozen subnets, gateways and route tables. Each part
knows only its own AWS resource (observe / ensure / delete). The order between parts (create a
dependency first, delete it last), waiting on a part that is not usable yet, and confirming each delete
by observing the part gone before the next one goes live here once, in `Composite`, which implements
the ordinary Adapter contract so the reconciler treats a many-part kind like any other.

Rules (see docs/architecture.md):
- `after` names the parts a part needs; creation follows it, deletion runs in the exact reverse.
- A part that reports `waiting` blocks the parts after it (they are not created yet), never a worker:
  the reconciler requeues and the next pass continues where this one stopped.
- The kind "exists" once its primary part exists; before that, a pass creates what is missing. After
  that, a missing or unwanted part is a difference (drift) like any other setting.
- A part compared with what an earlier part holds (a service with its task definition's revision) may
  define `refresh(ctx, seen)`: when a part it comes after was ensured in this pass, its differences are
  computed again from what it already read (no AWS call) before deciding whether it needs an ensure.
- Delete goes part by part in reverse order; a part's delete is confirmed by observing it again (gone)
  before the next part is touched. A part still deleting stops the pass with a message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ..errors import WaitingError
from ..policy import ClaimKind
from .adapter import DeleteResult, Diff, Observation, Request, SpecT
from .conditions import Cond

PartT = TypeVar("PartT")
PART_TAG = "stackery.io/part"
"""Tag that names the part on a resource with an AWS-assigned id, so a crash that lost the status write
finds it again by ownership tags + part tag."""


@dataclass(frozen=True)
class Seen(Generic[PartT]):
    """What one part's observe found (the part-level Observation)."""

    exists: bool
    actual: PartT | None = None
    owner_uid: str | None = None
    """stackery.io/uid of the found resource; parts identified by a uid-derived name or id report ours."""
    owner: str | None = None
    diffs: tuple[Diff, ...] = ()
    identifiers: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Credentials for the outputs Secret only (see Observation.secrets)."""
    conditions: tuple[Cond, ...] = ()
    waiting: str | None = None
    """Exists but not usable yet (pending validation, deploying): parts after it wait."""
    waiting_reason: str = "Provisioning"
    waiting_blocks: bool = True
    """While waiting, the parts after it wait too (False when they only need its id, not its readiness)."""
    deleting: bool = False
    """In AWS's deleting state: a delete pass waits for it to be gone."""
    message: str = ""
    """Worth saying in the Ready message once all is well (e.g. the ssh line of a bastion)."""
    external: bool = False
    """A resource the spec names and this object only uses (a bring-your-own certificate): no ownership
    check, never deleted."""


ABSENT: Seen[Any] = Seen(exists=False)


def part_tags(req: Request[Any], part: str) -> dict[str, str]:
    """Tags for a part whose AWS id is assigned by AWS: owner tags + the part's name, so that after a lost
    status write the part is found again by a tag filter (owner uid + part) instead of created twice."""
    return {**req.tags(), PART_TAG: part}


@dataclass
class Context(Generic[SpecT]):
    """One pass over a kind's parts: the request and what each part was seen as so far."""

    req: Request[SpecT]
    seen: dict[str, Seen[Any]] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)
    """(reason, message) worth an Event, added by a part's delete (e.g. the final snapshot's name)."""

    def of(self, part: Part[Any, PartT]) -> Seen[PartT]:
        got: Seen[PartT] = self.seen.get(part.name, ABSENT)
        return got


class Part(Protocol[SpecT, PartT]):
    """One AWS resource of a kind. observe only reads; ensure creates it or applies its diffs and returns
    what it knows afterwards (no re-read); delete starts deleting and returns a message while it must
    wait for AWS (None when the delete call was made and can be confirmed)."""

    name: str
    after: tuple[str, ...]

    def wanted(self, ctx: Context[SpecT]) -> bool: ...

    def observe(self, ctx: Context[SpecT]) -> Seen[PartT]: ...

    def ensure(self, ctx: Context[SpecT], seen: Seen[PartT]) -> Seen[PartT]: ...

    def delete(self, ctx: Context[SpecT], seen: Seen[PartT]) -> str | None: ...


def ordered(parts: Sequence[Part[SpecT, Any]]) -> list[Part[SpecT, Any]]:
    """Parts in creation order (each after what it needs, otherwise as declared); ValueError on an unknown
    dependency or a cycle."""
    by_name = {p.name: p for p in parts}
    if len(by_name) != len(parts):
        raise ValueError("part names must be unique")
    done: list[Part[SpecT, Any]] = []
    state: dict[str, str] = {}

    def visit(p: Part[SpecT, Any]) -> None:
        if state.get(p.name) == "done":
            return
        if state.get(p.name) == "visiting":
            raise ValueError(f"parts form a cycle through {p.name}")
        state[p.name] = "visiting"
        for dep in p.after:
            if dep not in by_name:
                raise ValueError(f"part {p.name} needs unknown part {dep}")
            visit(by_name[dep])
        state[p.name] = "done"
        done.append(p)

    for p in parts:
        visit(p)
    return done


class Composite(Generic[SpecT]):
    """The Adapter contract over ordered parts. Subclasses add external_name, references and claims."""

    name_scope: ClaimKind | None = None
    tagged_at_create: bool = False

    def __init__(self, parts: Sequence[Part[SpecT, Any]], *, primary: str) -> None:
        self.parts = ordered(parts)
        if primary not in {p.name for p in self.parts}:
            raise ValueError(f"primary part {primary} is not a part")
        self.primary = primary

    # ---------------------------------------------------------------- observe
    def observe(self, req: Request[SpecT]) -> Observation[Context[SpecT]]:
        ctx = Context(req)
        for p in self.parts:
            ctx.seen[p.name] = p.observe(ctx)
        return self.summary(ctx)

    def summary(self, ctx: Context[SpecT]) -> Observation[Context[SpecT]]:
        """Fold the parts' findings into one Observation (pure: no AWS call)."""
        uid = ctx.req.ref.uid
        for p in self.parts:
            s = ctx.of(p)
            if s.exists and not s.external and s.owner_uid is not None and s.owner_uid != uid:
                return Observation(exists=True, owner_uid=s.owner_uid, owner=s.owner, actual=ctx)
        wanted = {p.name: p.wanted(ctx) for p in self.parts}
        exists = ctx.seen[self.primary].exists
        diffs: list[Diff] = []
        ids: dict[str, Any] = {}
        outputs: dict[str, str] = {}
        secrets: dict[str, str] = {}
        conds: list[Cond] = []
        waiting: Seen[Any] | None = None
        for p in self.parts:
            s = ctx.of(p)
            ids.update(s.identifiers)
            outputs.update(s.outputs)
            secrets.update(s.secrets)
            conds.extend(s.conditions)
            if wanted[p.name] and s.waiting and waiting is None:
                waiting = s
            if not exists:
                continue
            if wanted[p.name] and not s.exists:
                diffs.append(Diff(p.name, "present", "missing"))
            elif not wanted[p.name] and s.exists:
                diffs.append(Diff(p.name, "absent", "present"))
            elif wanted[p.name]:
                diffs.extend(s.diffs)
        found = [s for s in ctx.seen.values() if s.exists and not s.external]
        untagged = any(s.owner_uid is None for s in found)
        return Observation(
            exists=exists,
            owner_uid=None if untagged or not found else uid,
            diffs=tuple(diffs),
            identifiers=ids,
            outputs=outputs if exists else {},
            secrets=secrets if exists else {},
            conditions=tuple(conds),
            actual=ctx,
            waiting=waiting.waiting if waiting else None,
            message=next((s.message for s in ctx.seen.values() if s.message), ""),
            waiting_reason=waiting.waiting_reason if waiting else "Provisioning",
            residual=not exists and bool(found),
            deleting=any(s.deleting for s in found),
        )

    # ---------------------------------------------------------------- create / update
    def _context(self, req: Request[SpecT], obs: Observation[Context[SpecT]] | None) -> Context[SpecT]:
        if obs is not None and obs.actual is not None:
            return Context(req, dict(obs.actual.seen))
        got = self.observe(req).actual
        assert got is not None
        return got

    def create(self, req: Request[SpecT], obs: Observation[Context[SpecT]] | None = None) -> Observation[Context[SpecT]]:
        return self._converge(self._context(req, obs))

    def update(self, req: Request[SpecT], obs: Observation[Context[SpecT]]) -> Observation[Context[SpecT]]:
        return self._converge(self._context(req, obs))

    def _converge(self, ctx: Context[SpecT]) -> Observation[Context[SpecT]]:
        """Ensure every wanted part that is missing, differs or is still waiting, in creation order; stop
        before a part whose dependency is waiting; then remove parts no longer wanted, dependents first.
        Returns the summary of what each part was seen as, or returned by its ensure: nothing is read back."""
        blocked: dict[str, Seen[Any]] = {}
        changed: set[str] = set()
        for p in self.parts:
            if not p.wanted(ctx):
                continue
            waiting_on = next((blocked[d] for d in p.after if d in blocked), None)
            if waiting_on is not None:
                raise WaitingError(waiting_on.waiting or "waiting", reason=waiting_on.waiting_reason, observed=self.summary(ctx))
            s = ctx.of(p)
            refresh = getattr(p, "refresh", None)
            if s.exists and refresh is not None and changed & set(p.after):
                s = refresh(ctx, s)  # what it was compared with changed in this pass (a new revision, a new group)
                ctx.seen[p.name] = s
            if not s.exists or s.diffs or s.waiting:
                s = p.ensure(ctx, s)
                ctx.seen[p.name] = s
                changed.add(p.name)
            if s.waiting and s.waiting_blocks:
                blocked[p.name] = s
        for p in reversed(self.parts):
            s = ctx.of(p)
            if s.exists and not s.external and not p.wanted(ctx) and s.owner_uid == ctx.req.ref.uid:
                wait = p.delete(ctx, s)
                if wait is not None:
                    raise WaitingError(wait, reason="Updating")
                ctx.seen[p.name] = ABSENT
        return self.summary(ctx)

    # ---------------------------------------------------------------- delete
    def delete(self, req: Request[SpecT], obs: Observation[Context[SpecT]]) -> DeleteResult:
        """Dependents first; each part confirmed gone (observed again) before the next one is touched."""
        ctx = self._context(req, obs)
        for p in reversed(self.parts):
            s = ctx.of(p)
            if not s.exists or s.external or not (s.owner_uid == req.ref.uid or (s.owner_uid is None and req.adopt)):
                continue
            if s.deleting:
                return DeleteResult(done=False, message=f"waiting for the {p.name} to be deleted", notes=tuple(ctx.notes))
            wait = p.delete(ctx, s)
            if wait is not None:
                return DeleteResult(done=False, message=wait, notes=tuple(ctx.notes))
            again = p.observe(ctx)
            if again.exists:
                message = again.waiting if again.deleting and again.waiting else None
                return DeleteResult(
                    done=False,
                    message=message or f"{p.name} deletion accepted; waiting for AWS to confirm it is gone",
                    notes=tuple(ctx.notes),
                )
        return DeleteResult(done=True, confirmed=True, notes=tuple(ctx.notes))
