"""The generic managed-resource reconciler.

Why: every kind needs the same state machine (parse spec, resolve references, observe, create or
update, report drift, delete through the finalizer), the same conditions and the same metrics. It
lives here once; adapters only know their AWS service. Nothing here writes to Kubernetes directly:
the caller applies the returned status patch and events (see controller.handlers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Generic

from pydantic import ValidationError

from .. import metrics
from ..errors import (
    BlockedError,
    InvalidSpecError,
    OutOfScopeError,
    OwnershipConflictError,
    RecoverableError,
    StackeryError,
    TerminalError,
    WaitingError,
)
from ..policy import Claim, Policy
from ..settings import Settings
from .adapter import Adapter, DeleteResult, Diff, Observation, Request, SpecT
from .ports import Cluster
from .request import EXTERNAL_NAME_ANNOTATION, Resolver
from .status import Event, Managed, Outcome, Result, StatusWriter, fields, parse_iso
from .wiring import Wiring

__all__ = ["EXTERNAL_NAME_ANNOTATION", "Event", "Managed", "Reconciler", "Result"]

log = logging.getLogger(__name__)

Classifier = Callable[[BaseException], StackeryError]


class Reconciler(Generic[SpecT]):
    """Drives one kind's adapter. Thread-safe as long as calls for one object are serialised."""

    def __init__(
        self,
        *,
        kind: str,
        spec_model: type[SpecT],
        adapter: Adapter[SpecT, Any],
        cluster: Cluster,
        settings: Settings,
        classify: Classifier,
        status_fields: frozenset[str] | None = None,
        wiring: Mapping[str, Wiring] | None = None,
        policy: Policy | None = None,
        protect_in_use: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kind = kind
        self.spec_model = spec_model
        self.adapter = adapter
        self.status = StatusWriter(kind=kind, settings=settings, status_fields=status_fields, clock=clock)
        self.wiring = dict(wiring or {})
        """Every wireable kind's Wiring (from the registry), handed to adapters that make connections."""
        self.resolver = Resolver(adapter=adapter, cluster=cluster, settings=settings, wiring=self.wiring)
        self.protect_in_use = protect_in_use
        """Refuse to delete while other objects refer to this one (a network with things placed in it)."""
        self.policy = policy or Policy()
        """Tenancy policy: what each namespace may name or reach (controller.policy)."""
        self.cluster = cluster
        self.settings = settings
        self.classify = classify
        self.clock = clock

    # ---------------------------------------------------------------- scheduling
    def is_due(self, obj: Managed) -> bool:
        """True when a spec change is pending or the object's next check time has come."""
        if obj.status.get("observedGeneration") != obj.generation:
            return True
        nxt = parse_iso(obj.status.get("nextCheckAt"))
        return nxt is None or self.clock() >= nxt

    # ---------------------------------------------------------------- reconcile
    def reconcile(self, obj: Managed) -> Result:
        started = time.monotonic()
        try:
            outcome = self._sync(obj)
        except Exception as exc:  # noqa: BLE001 - classified in exactly one place
            outcome = self._from_error(obj, exc)
        finally:
            metrics.RECONCILE_DURATION.labels(self.kind).observe(time.monotonic() - started)
        return self.status.result(obj, outcome)

    def _parse(self, obj: Managed) -> SpecT:
        try:
            return self.spec_model.model_validate(dict(obj.spec))
        except ValidationError as exc:
            problems = "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise InvalidSpecError(f"invalid spec: {problems}") from None

    def _request(self, obj: Managed, spec: SpecT, *, need_inputs: bool = True, deleting: bool = False) -> Request[SpecT]:
        return self.resolver.request(obj, spec, need_inputs=need_inputs, deleting=deleting)

    def _check_owner(self, req: Request[SpecT], obs: Observation[Any], *, observe_only: bool) -> None:
        if not obs.exists:
            return
        if obs.owner_uid is not None and obs.owner_uid != req.ref.uid:
            raise OwnershipConflictError(
                f"{req.external_name} is owned by another object ({obs.owner or 'unknown'}, uid {obs.owner_uid}); "
                "the operator will not change it. Use another name, or delete the other object first."
            )
        if obs.owner_uid is None and not (req.adopt or observe_only):
            raise OwnershipConflictError(
                f"{req.external_name} already exists and is not tagged as owned by this object. To take it over, "
                f"set the annotation {EXTERNAL_NAME_ANNOTATION}={req.external_name} (the operator's policy must allow "
                "adopting it in this namespace: docs/security.md); otherwise choose another name."
            )

    def _check_scope(self, obj: Managed, claims: list[Claim]) -> None:
        """Before any AWS call: every user-chosen reference must be in the namespace's scope."""
        scope = self.policy.scope(obj.ref.namespace)
        for claim in claims:
            problem = scope.violation(claim)
            if problem:
                raise OutOfScopeError(problem)

    def _sync(self, obj: Managed) -> Outcome:
        spec = self._parse(obj)
        claims = self.adapter.claims(spec)
        adopt_name = obj.annotations.get(EXTERNAL_NAME_ANNOTATION)
        if adopt_name and self.adapter.name_scope is not None:
            claims.append(Claim(self.adapter.name_scope, f"annotation {EXTERNAL_NAME_ANNOTATION}", adopt_name))
        self._check_scope(obj, claims)
        req = self._request(obj, spec)
        notes: list[Event] = []
        out = self._converge(obj, spec, req, notes)
        if out.obs is not None and out.obs.exists and out.obs.owner_uid == obj.ref.uid:
            out = replace(out, held=(req.external_name, req.region))
        return replace(out, notes=(*notes, *out.notes)) if notes else out

    def _switch(self, obj: Managed, spec: SpecT, req: Request[SpecT], notes: list[Event]) -> Outcome | None:
        """The adoption annotation now names another resource than the one this object holds: release the
        held one per deletionPolicy, with an Event, before taking on the new one (never orphan it silently).
        None when there is nothing (left) to release."""
        held = obj.status.get("resourceName")
        if not held or held == req.external_name:
            return None
        old = replace(req, external_name=held, adopt=False)
        obs = self.adapter.observe(old)
        if not obs.exists or obs.empty or obs.owner_uid != obj.ref.uid:
            return None
        if self._deletion_policy(spec) == "Retain":
            notes.append(
                Event(
                    "Normal",
                    "PreviousRetained",
                    f"{held} left in place (deletionPolicy Retain); now managing {req.external_name}",
                )
            )
            return None
        res = DeleteResult(done=False) if obs.deleting else self.adapter.delete(old, obs)
        if res.done and (res.confirmed or self._gone(obj, self.adapter.observe(old))):
            notes.append(
                Event(
                    "Normal", "PreviousDeleted", f"deleted {held}, replaced by {req.external_name} ({EXTERNAL_NAME_ANNOTATION})"
                )
            )
            return None
        return Outcome(
            "waiting",
            "ReleasingPrevious",
            res.message or f"deleting {held} (deletionPolicy Delete) before taking over {req.external_name}",
            retry_after=self.settings.wait_seconds,
        )

    def _deletion_policy(self, spec: SpecT) -> str:
        return getattr(spec, "deletion_policy", None) or self.settings.default_deletion_policy

    def _converge(self, obj: Managed, spec: SpecT, req: Request[SpecT], notes: list[Event]) -> Outcome:
        observe_only = getattr(spec, "management_policy", "Manage") == "ObserveOnly"
        if not observe_only:
            switching = self._switch(obj, spec, req, notes)
            if switching is not None:
                return switching
        obs = self.adapter.observe(req)
        self._check_owner(req, obs, observe_only=observe_only)
        taking_over = obs.exists and obs.owner_uid is None and req.adopt and not observe_only
        if taking_over and obj.status.get("pendingCreate") != req.external_name:
            self._check_scope(obj, [Claim("adopt", f"annotation {EXTERNAL_NAME_ANNOTATION}", req.external_name)])

        if observe_only:
            if not obs.exists:
                return Outcome(
                    "waiting",
                    "NotFound",
                    f"{req.external_name} does not exist; managementPolicy ObserveOnly never creates it",
                    retry_after=self.settings.resync_seconds,
                )
            return self._settle(obj, req, obs, drift=obs.diffs)

        created = False
        if not obs.exists:
            if not self.adapter.tagged_at_create:
                self.cluster.mark_pending_create(obj.ref, req.external_name)
            try:
                made = self.adapter.create(req, obs)
            except WaitingError as wait:  # a prerequisite is not there yet (e.g. certificate approval)
                # record what create started (e.g. the requested certificate): as the parts left it, else read
                obs = wait.observed if wait.observed is not None else self.adapter.observe(req)
                return Outcome("waiting", wait.reason, wait.message, obs=obs, retry_after=wait.retry_after)
            created = True
            # what a successful create set is known without reading it back; only an adapter that cannot
            # tell (None) is observed again (issue 15: the next scheduled check verifies)
            obs = made if made is not None else self.adapter.observe(req)
            if not obs.exists:
                raise RecoverableError(f"created {req.external_name} but it is not visible yet")

        spec_changed = obj.status.get("observedGeneration") != obj.generation
        correct = created or spec_changed or getattr(spec, "drift_policy", "Correct") == "Correct"
        if obs.diffs and correct:
            changed = obs.diffs
            try:
                after = self.adapter.update(req, obs)
            except WaitingError as wait:  # what the update made so far (a requested certificate) shows in status
                obs = wait.observed if wait.observed is not None else obs
                return Outcome("waiting", wait.reason, wait.message, obs=obs, retry_after=wait.retry_after)
            obs = after if after is not None else self.adapter.observe(req)
            corrected = () if (created or spec_changed) else changed
            if obs.diffs and obs.waiting:  # a part still on its way (e.g. a certificate) explains what is left
                return self._settle(obj, req, obs)
            if obs.diffs:
                return Outcome(
                    "waiting",
                    "Updating",
                    f"applied changes; AWS still differs at {fields(obs.diffs)}",
                    obs=obs,
                    retry_after=self.settings.wait_seconds,
                )
            return self._settle(obj, req, obs, corrected=corrected)
        return self._settle(obj, req, obs, drift=obs.diffs)

    def _settle(
        self,
        obj: Managed,
        req: Request[SpecT],
        obs: Observation[Any],
        *,
        drift: tuple[Diff, ...] = (),
        corrected: tuple[Diff, ...] = (),
    ) -> Outcome:
        target = getattr(req.spec, "outputs", None)
        if target is not None and obs.outputs:
            if target.config_map_name:
                self.cluster.publish_outputs(obj.ref, target.config_map_name, obs.outputs)
            if target.secret_name:  # outputs plus credentials; values never reach status, events or logs
                self.cluster.publish_outputs(obj.ref, target.secret_name, {**obs.outputs, **obs.secrets}, secret=True)
        if obs.waiting:
            return Outcome(
                "waiting", obs.waiting_reason, obs.waiting, obs=obs, drift=drift, retry_after=self.settings.wait_seconds
            )
        if drift:
            return Outcome("drifted", "DriftDetected", f"AWS differs from the spec at: {fields(drift)}", obs=obs, drift=drift)
        return Outcome("ready", "Available", obs.message, obs=obs, corrected=corrected)

    def _from_error(self, obj: Managed, exc: BaseException) -> Outcome:
        err = exc if isinstance(exc, StackeryError) else self.classify(exc)
        if isinstance(err, WaitingError):
            return Outcome("waiting", err.reason, err.message, retry_after=err.retry_after)
        if isinstance(err, BlockedError):
            return Outcome("blocked", err.reason, err.message, retry_after=self.settings.blocked_seconds)
        if isinstance(err, TerminalError):
            log.warning("%s stalled: %s", obj.ref, err.message)
            return Outcome("stalled", err.reason, err.message)
        if not isinstance(err, RecoverableError):
            log.exception("%s: unexpected error", obj.ref, exc_info=exc)
        return Outcome("error", err.reason, err.message)

    # ---------------------------------------------------------------- status
    # ---------------------------------------------------------------- delete
    def finalize(self, obj: Managed) -> Result:
        """Delete (or retain) the AWS resources. Result.done tells whether the finalizer may go."""
        try:
            spec = self._parse(obj)
        except InvalidSpecError as exc:
            return self._released(
                obj, Event("Warning", "InvalidSpec", f"{exc.message}; AWS resources, if any, were left in place")
            )
        policy = self._deletion_policy(spec)
        if policy == "Retain" or getattr(spec, "management_policy", "Manage") == "ObserveOnly":
            return self._released(
                obj,
                Event(
                    "Normal",
                    "Retained",
                    f"deletionPolicy {policy} (managementPolicy "
                    f"{getattr(spec, 'management_policy', 'Manage')}): AWS resources left in place",
                ),
            )
        notes: list[Event] = []
        try:
            users = self.cluster.referrers(self.kind, obj.ref.namespace, obj.ref.name) if self.protect_in_use else []
            if users:
                raise BlockedError(
                    f"{self.kind} {obj.ref.name} is still used by {', '.join(users)}: delete them or remove their "
                    "reference first; nothing was deleted",
                    reason="InUse",
                )
            req = self._request(obj, spec, need_inputs=False, deleting=True)  # deleting needs no Secret values
            held = obj.status.get("resourceName")
            # what the object holds, and (after a changed adoption annotation) what it was about to take on
            names = [held] if held and held != req.external_name else []
            for name in [*names, req.external_name]:
                step = self._delete_one(obj, replace(req, external_name=name), notes)
                if step is not None:
                    outcome = step
                    break
            else:
                return self._released(obj, *notes)
        except Exception as exc:  # noqa: BLE001
            outcome = self._from_error(obj, exc)
        result = self.status.result(obj, outcome, generation_done=False, deleting=True)
        result.done = False
        result.events = [*notes, *result.events]
        return result

    def _delete_one(self, obj: Managed, req: Request[SpecT], notes: list[Event]) -> Outcome | None:
        """Delete one held resource: None when it is gone (or not ours), else the outcome to wait on."""
        name = req.external_name
        obs = self.adapter.observe(req)
        if not (obs.exists or obs.residual or obs.deleting):
            notes.append(Event("Normal", "Deleted", f"{name} is gone"))
            return None
        # untagged, but this object was creating it when a later call failed: it is ours to remove
        leftover = obs.owner_uid is None and obj.status.get("pendingCreate") == name
        if obs.exists and obs.owner_uid != obj.ref.uid and not (obs.deleting or leftover):
            notes.append(Event("Warning", "NotOwned", f"{name} is not owned by this object; left in place"))
            return None
        if obs.deleting:
            res = DeleteResult(done=False, message=obs.waiting or f"waiting for AWS to finish deleting {name}")
        else:
            res = self.adapter.delete(req, obs)
        notes.extend(Event("Normal", reason, message) for reason, message in res.notes)
        if res.done and (res.confirmed or self._gone(obj, self.adapter.observe(req), leftover=leftover)):
            notes.append(Event("Normal", "Deleted", f"deleted {name}"))
            return None
        message = res.message or f"delete of {name} accepted; waiting for AWS to confirm it is gone"
        return Outcome("deleting", "Deleting", message, retry_after=self.settings.wait_seconds)

    @staticmethod
    def _gone(obj: Managed, obs: Observation[Any], *, leftover: bool = False) -> bool:
        """Nothing of ours is left: not found, not deleting, no residual parts (an empty virtual resource
        or another owner's resource at our name counts as gone for us)."""
        if obs.deleting or obs.residual:
            return False
        if leftover and obs.exists and obs.owner_uid is None:
            return False
        return not obs.exists or obs.empty or obs.owner_uid != obj.ref.uid

    def _released(self, obj: Managed, *events: Event) -> Result:
        outputs = obj.spec.get("outputs") or {}
        if outputs.get("configMapName"):
            self.cluster.delete_outputs(obj.ref, outputs["configMapName"])
        if outputs.get("secretName"):
            self.cluster.delete_outputs(obj.ref, outputs["secretName"], secret=True)
        metrics.forget_object(obj.ref.namespace, self.kind, obj.ref.name)
        return Result(status={}, events=list(events), requeue_after=None, done=True)
