"""kopf wiring: the only module that uses kopf.on. One registration loop over registry.KINDS.

Why: keeps kopf's API at the edge. Each kind gets the same handlers: create/update/resume reconcile,
a timer that reconciles when a check is due (drift detection, waits and retries with backoff), and a
delete handler that runs the finalizer. The reconciler returns a status patch and events; this module
applies them through kopf.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from prometheus_client import start_http_server

from . import GROUP, VERSION, metrics
from .aws.errors import classify
from .core.adapter import ObjectRef
from .core.reconciler import Managed, Reconciler, Result
from .kube import KubeCluster
from .locks import ObjectLocks
from .registry import KINDS, KindInfo
from .settings import Settings

log = logging.getLogger(__name__)
SETTINGS = Settings()
CLUSTER = KubeCluster()
LOCKS = ObjectLocks()
FINALIZER = "stackery.io/finalizer"
# The last status each object was given, by uid. kopf applies a handler's status patch only after the
# handler returns, so a timer can briefly see the body from before it; the newer of the two wins.
_LAST_STATUS: dict[str, dict[str, Any]] = {}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="stackery.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="stackery.io")
    # Post only our own meaningful Events (kopf.event), not kopf's log lines.
    settings.posting.level = 100
    settings.execution.max_workers = SETTINGS.workers
    settings.peering.standalone = True
    settings.scanning.disabled = True
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    if SETTINGS.metrics_port:
        start_http_server(SETTINGS.metrics_port, registry=metrics.REGISTRY)
        log.info("metrics on :%d/metrics", SETTINGS.metrics_port)


def _status(uid: str, body: kopf.Body) -> dict[str, Any]:
    seen = dict(body.get("status") or {})
    mine = _LAST_STATUS.get(uid)
    if mine and (mine.get("lastSyncTime") or "") > (seen.get("lastSyncTime") or ""):
        return {**seen, **mine}
    return seen


def _managed(info: KindInfo, body: kopf.Body) -> Managed:
    meta = body.get("metadata", {})
    return Managed(
        ref=ObjectRef(kind=info.kind, namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                      uid=meta.get("uid", "")),
        generation=int(meta.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        status=_status(meta.get("uid", ""), body),
        annotations=dict(meta.get("annotations") or {}),
        created=meta.get("creationTimestamp"),
    )


def _apply(result: Result, body: kopf.Body, patch: kopf.Patch) -> None:
    if result.status:
        _LAST_STATUS[body.get("metadata", {}).get("uid", "")] = dict(result.status)
    for key, value in result.status.items():
        patch.status[key] = value
    for ev in result.events:
        kopf.event(body, type=ev.type, reason=ev.reason, message=ev.message)


def _register(info: KindInfo) -> None:
    rec = Reconciler(kind=info.kind, spec_model=info.spec_model, adapter=info.adapter, cluster=CLUSTER,
                     settings=SETTINGS, classify=classify)
    res = (GROUP, VERSION, info.plural)

    # The snapshot is taken inside the lock, so it includes the status the previous holder wrote.
    def changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        with LOCKS.hold(body.metadata.uid or ""):
            _apply(rec.reconcile(_managed(info, body)), body, patch)

    def resumed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        with LOCKS.hold(body.metadata.uid or ""):
            obj = _managed(info, body)
            if rec.is_due(obj):
                _apply(rec.reconcile(obj), body, patch)

    def tick(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        with LOCKS.hold(body.metadata.uid or "", wait=False) as got:
            if got:
                obj = _managed(info, body)
                if rec.is_due(obj):
                    _apply(rec.reconcile(obj), body, patch)

    def deleted(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        with LOCKS.hold(body.metadata.uid or ""):
            obj = _managed(info, body)
            result = rec.finalize(obj)
        _apply(result, body, patch)
        if not result.done:
            raise kopf.TemporaryError(result.events[-1].message if result.events else "deleting",
                                      delay=result.requeue_after or SETTINGS.wait_seconds)
        LOCKS.forget(obj.ref.uid)
        _LAST_STATUS.pop(obj.ref.uid, None)

    kopf.on.create(*res, id="reconcile")(changed)
    kopf.on.update(*res, id="reconcile")(changed)
    kopf.on.resume(*res, id="resume")(resumed)
    kopf.timer(*res, id="poll", interval=SETTINGS.tick_seconds, initial_delay=SETTINGS.tick_seconds)(tick)
    kopf.on.delete(*res, id="finalize")(deleted)


for _info in KINDS:
    _register(_info)
