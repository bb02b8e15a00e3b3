"""kopf wiring: the only module that uses kopf.on. One registration loop over registry.KINDS.

Why: keeps kopf's API at the edge. Each kind gets the same handlers: an event handler that hands every
object kopf has put its finalizer on to the agenda (a new generation or a changed annotation: a pass now;
otherwise its next check), and a delete handler that runs the finalizer. The agenda's worker threads run
the passes and write status and Events themselves, so an object waiting for a thread is a heap entry and
its kept body, not a kopf handler invocation: how many objects are in a pass at once is bounded by the
threads, not by how fast `kubectl create` adds them (issue 15). kopf keeps the finalizer, deletes and
retries of deletes. STACKERY_SCHEDULER=timers keeps kopf's own way (change handlers, a timer per object)
to measure against.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import aiohttp
import kopf
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from . import GROUP, VERSION, metrics
from .agenda import Agenda, spread
from .aws.clients import acting_as, configure_limits
from .aws.errors import classify
from .core import conditions
from .core.adapter import ObjectRef
from .core.reconciler import Managed, Reconciler, Result
from .core.schedule import Health, overdue
from .core.status import parse_iso
from .kube import KubeCluster, KubeLeases
from .locks import ObjectLocks
from .policy import load as load_policy
from .registry import KINDS, WIRING, KindInfo
from .settings import Settings
from .shards import Coordinator, label_of, selector, shard_of, unlabelled
from .statuscache import StatusCache

log = logging.getLogger(__name__)
SETTINGS = Settings()
POLICY = load_policy(SETTINGS.policy_file)
CLUSTER = KubeCluster()
LOCKS = ObjectLocks()
FINALIZER = "stackery.io/finalizer"
STATUS = StatusCache()
CLUSTER.interim_writes = STATUS.wrote
HEALTH = Health(started=datetime.now(UTC))
READY = threading.Event()
RECONCILERS: dict[str, Reconciler[Any]] = {}
AGENDA = Agenda(time.time)
BODIES: dict[str, tuple[str, Mapping[str, Any]]] = {}
"""uid -> (kind, latest body from the watch), for the agenda's passes."""
REQUESTED: set[str] = set()
"""uids whose annotations changed (a person, GitOps or the sweep asking for a pass): the pass writes its
status even when it finds nothing new, so the asker sees lastSyncTime move."""
SHARDS: Coordinator | None = None
"""This replica's shards when STACKERY_SHARDS > 1 (start_shards); None: it reconciles every object."""
_STARTED = threading.Event()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    # kopf's retry bookkeeping in status too: annotations cost a PATCH of the object itself (a marker
    # annotation on every new object, progress on every retry) beside the status PATCH; status is one
    settings.persistence.progress_storage = kopf.StatusProgressStorage(
        field="status.kopf.progress", touch_field="status.kopf.dummy"
    )
    if SETTINGS.scheduler == "timers":
        # in status: written in the same request as the pass's status (as an annotation it took a PATCH of its
        # own per pass, with its own watch event; issue 15)
        settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(field="status.lastHandledConfiguration")
    else:  # the agenda finds changes itself (observedGeneration, annotations): kopf stores no diff base
        settings.persistence.diffbase_storage = _NoDiffBase()
    # Post only our own meaningful Events (kopf.event), not kopf's log lines.
    settings.posting.level = 100
    settings.execution.max_workers = SETTINGS.workers
    configure_limits(SETTINGS.aws_rate_limits)  # a malformed STACKERY_AWS_RATE_LIMITS stops the start here
    settings.peering.standalone = True
    settings.scanning.disabled = True
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    start_background()


API_REQUESTS_AT_ONCE = 16
"""kopf's connections to the API beside its watch streams (finalizer PATCHes, delete handlers' status)."""


@kopf.on.login()
async def login(
    *, logger: logging.Logger | logging.LoggerAdapter[Any], settings: kopf.OperatorSettings, **_: Any
) -> kopf.AiohttpSession:
    """kopf's own login (the kubernetes client's in-cluster or kubeconfig credentials), with its connections
    to the API bounded: kopf's session has no limit, so a burst of new objects opened one TLS connection
    per concurrent finalizer PATCH (86 at 1,500 objects, each with a 256 KiB read buffer)."""
    info = kopf.login_via_client(logger=logger, settings=settings)
    if info is None:
        raise kopf.LoginError("the kubernetes client found neither in-cluster credentials nor a kubeconfig")
    streams = len(KINDS) * max(1, len(SETTINGS.namespaces))  # one long-lived watch each
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=streams + API_REQUESTS_AT_ONCE, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(
        server=info.server,
        default_namespace=info.default_namespace,
        expiration=info.expiration,
        priority=info.priority,
        aiohttp_session=session,
    )


class _NoDiffBase(kopf.DiffBaseStorage):
    """Without change handlers kopf would still write its diff base into status after every change, one
    status PATCH each for nothing: every body is its own diff base (kopf sees no change), nothing is stored.
    kopf asks for the stored essence and then builds the new one from the same body, each a deep copy of the
    whole body: the one built for `fetch` is handed back by the `build` that follows."""

    def __init__(self) -> None:
        super().__init__()
        self._last: tuple[kopf.Body, kopf.BodyEssence] | None = None

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        essence = super().build(body=body)
        self._last = (body, essence)
        return essence

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        last, self._last = self._last, None
        if last is not None and last[0] is body and not extra_fields:
            return last[1]
        return super().build(body=body, extra_fields=extra_fields)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def start_background() -> None:
    """Once per process (kopf may start several times: with shards, whenever they move): /metrics, the
    agenda, the sweep."""
    if _STARTED.is_set():
        return
    _STARTED.set()
    if SETTINGS.metrics_port:
        serve(SETTINGS.metrics_port)
        log.info("metrics on :%d/metrics, readiness on :%d/readyz", SETTINGS.metrics_port, SETTINGS.metrics_port)
    if SETTINGS.scheduler != "timers":
        threading.Thread(target=_agenda_forever, name="stackery-agenda", daemon=True).start()
    if SETTINGS.sweep_seconds > 0:
        threading.Thread(target=_sweep_forever, name="stackery-sweep", daemon=True).start()
    else:
        READY.set()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def serve(port: int) -> None:
    """/metrics, /readyz: 503 until the first sweep has listed every kind (the API answers, every CRD is
    served, RBAC lets the operator list), then 200; and /healthz (what kopf's probe answers when it runs one:
    with shards, kopf restarts whenever they move, so the replica answers it itself)."""
    metrics_app = make_wsgi_app(metrics.REGISTRY)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/healthz":
            problem = _problem()
            start_response("500 Internal Server Error" if problem else "200 OK", [("Content-Type", "text/plain")])
            return [(problem or "ok").encode() + b"\n"]
        if environ.get("PATH_INFO") == "/readyz":
            ok = READY.is_set()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ready\n" if ok else b"starting: the first sweep has not listed every kind yet\n"]
        return metrics_app(environ, start_response)

    server = make_server("", port, app, ThreadingWSGIServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="stackery-http", daemon=True).start()


def sweep_once(now: datetime) -> int:
    """List every kind (of this replica's shards); ask for a pass on each object whose check is overdue.
    Returns how many were."""
    total = 0
    held = SHARDS.active() if SHARDS is not None else None
    if held is not None and not held:
        return 0
    for info in KINDS:
        items = CLUSTER.list_objects(info.plural, SETTINGS.namespaces, selector(held) if held is not None else "")
        late = overdue(info.kind, items, now=now, margin=SETTINGS.overdue_margin_seconds, planned=AGENDA.planned)
        metrics.CHECKS_OVERDUE.labels(info.kind).set(len(late))
        for due in late:
            log.warning(
                "%s %s/%s is %.0fs overdue for its check; asking for a pass", due.kind, due.namespace, due.name, due.late_seconds
            )
            try:
                CLUSTER.request_pass(due.kind, due.namespace, due.name, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
                metrics.SWEEP_POKES.labels(due.kind).inc()
            except Exception as exc:  # noqa: BLE001 - gone meanwhile, or the API is away: next sweep
                log.info("could not ask for a pass on %s/%s: %s", due.namespace, due.name, exc)
        total += len(late)
    return total


def _sweep_forever() -> None:
    stop = threading.Event()
    while not stop.wait(SETTINGS.sweep_seconds):
        now = datetime.now(UTC)
        try:
            late = sweep_once(now)
        except Exception as exc:  # noqa: BLE001 - the API is away; /healthz says so after a while
            log.warning("sweep could not list objects: %s", exc)
            continue
        HEALTH.last_sweep = now
        READY.set()
        HEALTH.overdue_since = (HEALTH.overdue_since or now) if late else None


def _problem() -> str | None:
    if SETTINGS.sweep_seconds <= 0:
        return None
    return HEALTH.problem(
        datetime.now(UTC), unreachable_after=SETTINGS.unhealthy_after_seconds, overdue_after=SETTINGS.unhealthy_after_seconds
    )


@kopf.on.probe(id="progress")
def progress(**_: Any) -> str:
    """/healthz: fails (so Kubernetes restarts the operator) when it cannot make progress."""
    problem = _problem()
    if problem:
        raise kopf.PermanentError(problem)
    return "ok"


def _managed(kind: str, body: Mapping[str, Any]) -> Managed:
    meta = body.get("metadata", {})
    uid = meta.get("uid", "")
    return Managed(
        ref=ObjectRef(kind=kind, namespace=meta.get("namespace", ""), name=meta.get("name", ""), uid=uid),
        generation=int(meta.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        status=STATUS.current(uid, str(meta.get("resourceVersion") or ""), body.get("status") or {}),
        annotations=dict(meta.get("annotations") or {}),
        created=meta.get("creationTimestamp"),
    )


def _apply(result: Result, body: kopf.Body, patch: kopf.Patch) -> None:
    meta = body.get("metadata", {})
    if result.status:
        STATUS.remember(meta.get("uid", ""), str(meta.get("resourceVersion") or ""), result.status)
    for key, value in result.status.items():
        patch.status[key] = value
    for ev in result.events:
        kopf.event(body, type=ev.type, reason=ev.reason, message=ev.message)


@contextmanager
def _owned(meta: Mapping[str, Any]) -> Iterator[bool]:
    """Whether this replica may run a pass on the object now: always unsharded; with shards, while it holds
    the object's shard (and the pass is counted, so the shard is handed over only once the pass ends)."""
    if SHARDS is None:
        yield True
        return
    with SHARDS.passing(label_of(meta, SHARDS.count)) as ours:
        if not ours:
            metrics.SHARD_PASSES_REFUSED.inc()
        yield ours


def handle(body: kopf.Body, patch: kopf.Patch, *, kind: str, always: bool, wait: bool, delete: bool, **_: Any) -> None:
    """kopf's handlers of every kind: deletes (and, with STACKERY_SCHEDULER=timers, every pass). The snapshot
    is taken inside the per-object lock, so it includes the status the previous holder wrote. always: a
    spec/annotation change or a delete (act now); otherwise only when a check is due. wait=False (timers):
    skip when another pass holds the object."""
    with _owned(body.get("metadata", {})) as ours:
        if not ours:  # kopf saw it before restarting without its shard: the new owner runs it (kopf retries)
            raise kopf.TemporaryError("this object's shard moved to another replica", delay=SETTINGS.wait_seconds)
        _pass(body, patch, kind=kind, always=always, wait=wait, delete=delete)


def _pass(body: kopf.Body, patch: kopf.Patch, *, kind: str, always: bool, wait: bool, delete: bool) -> None:
    rec = RECONCILERS[kind]
    uid = body.metadata.uid or ""
    with LOCKS.hold(uid, wait=wait) as got:
        if not got:
            return
        obj = _managed(kind, body)
        if not (delete or always or rec.is_due(obj)):
            return  # a timer tick with nothing due: no identity to resolve, no AWS call
        # every AWS call of this pass runs as the namespace's identity (policy), or the operator's own
        with acting_as(POLICY.scope(obj.ref.namespace).identity):
            result = rec.finalize(obj) if delete else rec.reconcile(obj)
    _apply(result, body, patch)
    if delete and not result.done:
        raise kopf.TemporaryError(
            result.events[-1].message if result.events else "deleting", delay=result.requeue_after or SETTINGS.wait_seconds
        )
    if delete:
        LOCKS.forget(uid)
        STATUS.forget(uid)


# ---------------------------------------------------------------- agenda (every pass but deletes)
def _passable(raw: Mapping[str, Any]) -> bool:
    """Whether the agenda may run a pass on an object: once kopf has put the finalizer on it (so nothing is
    created in AWS that a delete could miss) and until its deletion starts (kopf's delete handler owns it)."""
    meta = raw.get("metadata") or {}
    return FINALIZER in (meta.get("finalizers") or ()) and not meta.get("deletionTimestamp")


def _changed(raw: Mapping[str, Any]) -> bool:
    """A generation no pass has handled yet: a new object, a spec change, or a pass that never finished."""
    meta, status = raw.get("metadata") or {}, raw.get("status") or {}
    return status.get("observedGeneration") != meta.get("generation")


_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # changes with the spec, which is a generation


def _annotations(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ((raw.get("metadata") or {}).get("annotations") or {}).items() if k != _APPLIED}


def _schedule(uid: str, status: Mapping[str, Any]) -> None:
    """Put the object on the agenda at its status's nextCheckAt (a tick from now when it has none)."""
    nxt = parse_iso(status.get("nextCheckAt"))
    AGENDA.set(uid, time.time() + SETTINGS.tick_seconds if nxt is None else nxt.timestamp())


async def watched(event: kopf.RawEvent, *, kind: str, **_: Any) -> None:
    """Every watch event of every object: remember its latest body and when it is next due (on the event
    loop, no thread hop: this runs for every status patch too)."""
    raw = event.get("object") or {}
    meta = raw.get("metadata") or {}
    uid = str(meta.get("uid") or "")
    if not uid:
        return
    if event.get("type") == "DELETED" or meta.get("deletionTimestamp"):
        BODIES.pop(uid, None)  # the finalizer handler (kopf) owns a deleting object
        REQUESTED.discard(uid)
        AGENDA.drop(uid)
        return
    STATUS.seen(uid, str(meta.get("resourceVersion") or ""))
    before = BODIES.get(uid)
    BODIES[uid] = (kind, _kept(raw))
    if not _passable(raw):
        AGENDA.drop(uid)  # kopf puts the finalizer on first; that write's event brings it back
        return
    if _changed(raw):
        AGENDA.set(uid, time.time())  # the pass finds out (with the status it last wrote) if one already ran
        return
    status = raw.get("status") or {}
    if before is None:
        _resume(uid, status)
    elif _annotations(before[1]) != _annotations(raw):
        REQUESTED.add(uid)  # someone asked for a pass (or GitOps stamped it): now, and it writes its status
        AGENDA.set(uid, time.time())
    elif before[1]["status"].get("nextCheckAt") != status.get("nextCheckAt") or AGENDA.planned(uid) is None:
        _schedule(uid, status)
    # else: no pass wrote a new time (a label): the agenda's time stands, which after a check that wrote
    # nothing is later than the status shows


def _resume(uid: str, status: Mapping[str, Any]) -> None:
    """An object seen for the first time (the operator started, or took over its shard). In sync and past
    its stored nextCheckAt — expected, since checks that find nothing new leave it unwritten — it is
    checked at a point spread over the next resync period (by its uid), not all at once; anything else at
    its stored time."""
    nxt = parse_iso(status.get("nextCheckAt"))
    now = time.time()
    if nxt is not None and nxt.timestamp() <= now and _in_sync(status):
        AGENDA.set(uid, now + SETTINGS.resync_seconds * spread(uid))
    else:
        _schedule(uid, status)


def _in_sync(status: Mapping[str, Any]) -> bool:
    ready = conditions.is_true(status.get("conditions") or [], conditions.READY)
    return ready and not status.get("drift") and not status.get("failures")


_KEPT_META = (
    "name",
    "namespace",
    "uid",
    "generation",
    "resourceVersion",
    "labels",
    "annotations",
    "creationTimestamp",
    "finalizers",
)


def _kept(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What a scheduled check needs of a body: spec, status and some metadata — not managedFields, which
    at thousands of objects would be most of what the agenda keeps."""
    meta = raw.get("metadata") or {}
    return {
        "metadata": {k: meta[k] for k in _KEPT_META if k in meta},
        "spec": raw.get("spec") or {},
        "status": raw.get("status") or {},
    }


def checked(uid: str) -> None:
    """One pass from the agenda (a worker thread): a new generation, an asked-for pass or a scheduled check,
    with the status patch and Events written through the API directly (outside kopf's handlers)."""
    got = BODIES.get(uid)
    if got is None:
        return
    kind, raw = got
    if not _passable(raw):
        return
    with _owned(raw.get("metadata") or {}) as ours:
        if not ours:  # its shard moved away: its new owner's watch puts it on that replica's agenda
            BODIES.pop(uid, None)
            AGENDA.drop(uid)
            return
        _check(uid, kind, raw)


def _check(uid: str, kind: str, raw: Mapping[str, Any]) -> None:
    rec = RECONCILERS[kind]
    with LOCKS.hold(uid, wait=False) as held:
        if not held:  # a delete handler is on it, or a pass from before: its status patch sets the next time
            AGENDA.set(uid, time.time() + 1)
            return
        obj = _managed(kind, raw)  # the status this operator last wrote, if the watch has not shown it yet
        asked = uid in REQUESTED
        if not (asked or rec.is_due(obj)):  # handled already, or moved on since this entry was set
            _schedule(uid, obj.status)
            return
        REQUESTED.discard(uid)
        with acting_as(POLICY.scope(obj.ref.namespace).identity):
            result = rec.reconcile(obj)
        base = str((raw.get("metadata") or {}).get("resourceVersion") or "")
        try:
            if result.quiet and not asked:  # nothing new: no write, the agenda keeps the next time
                metrics.QUIET_CHECKS.labels(kind).inc()
            elif result.status:
                STATUS.remember(uid, base, result.status)
                CLUSTER.patch_status(obj.ref, result.status)
        except Exception as exc:  # noqa: BLE001 - gone meanwhile, or the API is away: look again later
            if getattr(exc, "status", None) == 404:
                BODIES.pop(uid, None)
                STATUS.forget(uid)
                return
            log.warning("%s: could not write the status of a pass: %s", obj.ref, exc)
            STATUS.forget(uid)  # not written: the next pass must not take it as the status it acts on
            AGENDA.set(uid, time.time() + SETTINGS.wait_seconds)
            return
    for ev in result.events:
        try:
            CLUSTER.post_event(obj.ref, ev.type, ev.reason, ev.message)
        except Exception as exc:  # noqa: BLE001 - an Event is worth a try, never a retry
            log.info("%s: could not post event %s: %s", obj.ref, ev.reason, exc)
    _schedule(uid, result.status)  # the MODIFIED event says the same; set here too in case the watch is away


def _agenda_forever() -> None:
    """Hand due objects to the worker threads one at a time, only while one is free: the others stay on the
    agenda (a heap entry each), where a newer time or a drop still reaches them."""
    free = threading.Semaphore(SETTINGS.workers)
    with ThreadPoolExecutor(max_workers=SETTINGS.workers, thread_name_prefix="stackery-pass") as pool:
        while True:
            free.acquire()
            due = AGENDA.wait_due(timeout=60, limit=1)
            if not due:
                free.release()
                continue
            pool.submit(checked, due[0]).add_done_callback(lambda _: free.release())


# ---------------------------------------------------------------- shards (STACKERY_SHARDS > 1)
def start_shards(notify: Callable[[frozenset[int]], None]) -> Coordinator:
    """Start holding shards: the Lease loop, and the labeller that puts new objects into a shard. `notify`
    hears every change of the shards this replica may reconcile (controller.__main__ restarts kopf's watch
    with their selector)."""
    global SHARDS

    def changed(active: frozenset[int]) -> None:
        metrics.SHARDS_HELD.set(len(active))
        for shard in range(SETTINGS.shards):
            metrics.SHARD_HELD.labels(str(shard)).set(1 if shard in active else 0)
        log.info("shards this replica reconciles: %s", sorted(active) or "none")
        notify(active)

    SHARDS = Coordinator(
        KubeLeases(CLUSTER, SETTINGS.lease_namespace, SETTINGS.lease_seconds),
        identity=SETTINGS.identity,
        count=SETTINGS.shards,
        duration=SETTINGS.lease_seconds,
        on_change=changed,
        on_event=lambda event: (
            metrics.SHARD_PASSES_PAST_LEASE if event == "past_lease" else metrics.SHARD_HANDOFFS.labels(event)
        ).inc(),
    )
    changed(frozenset())
    threading.Thread(target=_leases_forever, args=(SHARDS,), name="stackery-leases", daemon=True).start()
    for info in KINDS:
        for ns in SETTINGS.namespaces or (None,):
            threading.Thread(target=_label_forever, args=(SHARDS, info.plural, ns), name="stackery-labeller", daemon=True).start()
    return SHARDS


def _leases_forever(shards: Coordinator) -> None:
    period = SETTINGS.lease_seconds / 3
    while True:
        try:
            shards.tick()
        except Exception as exc:  # noqa: BLE001 - the API is away: passes stop once the renewals are overdue
            log.warning("could not read or renew the shards' leases: %s", exc)
            shards.expire_stale()
        time.sleep(period)


def _label_forever(shards: Coordinator, plural_name: str, namespace: str | None) -> None:
    """While this replica holds shard 0: watch the kind's objects without a valid shard label and give each
    one (a stable hash of its uid). Every replica runs it; only one at a time writes."""
    while True:
        if 0 not in shards.active():
            time.sleep(SETTINGS.lease_seconds / 3)
            continue
        try:
            for obj in CLUSTER.watch_objects(plural_name, namespace, unlabelled(shards.count), timeout=60):
                meta = obj.get("metadata") or {}
                if 0 not in shards.active():
                    break
                try:
                    CLUSTER.label_shard(plural_name, meta["namespace"], meta["name"], shard_of(meta["uid"], shards.count))
                    metrics.SHARD_LABELS.inc()
                except Exception as exc:  # noqa: BLE001 - deleted meanwhile; anything else: the next watch sees it again
                    log.info("could not label %s %s/%s: %s", plural_name, meta.get("namespace"), meta.get("name"), exc)
        except Exception as exc:  # noqa: BLE001 - the API is away: watch again
            log.warning("the labeller could not watch %s: %s", plural_name, exc)
            time.sleep(2)


def _register(info: KindInfo) -> None:
    RECONCILERS[info.kind] = Reconciler(
        kind=info.kind,
        spec_model=info.spec_model,
        adapter=info.adapter,
        cluster=CLUSTER,
        settings=SETTINGS,
        classify=classify,
        status_fields=info.status_fields,
        wiring=WIRING,
        policy=POLICY,
        protect_in_use=info.in_use_blocks_delete,
    )
    res = (GROUP, VERSION, info.plural)
    on = functools.partial(functools.partial, handle, kind=info.kind)
    if SETTINGS.scheduler == "timers":  # kopf's way, kept to measure against (make bench): a timer per object
        changed = on(always=True, wait=True, delete=False)
        kopf.on.create(*res, id="reconcile")(changed)
        kopf.on.update(*res, id="reconcile")(changed)
        kopf.on.resume(*res, id="resume")(on(always=False, wait=True, delete=False))
        kopf.timer(*res, id="poll", interval=SETTINGS.tick_seconds, initial_delay=SETTINGS.tick_seconds)(
            on(always=False, wait=False, delete=False)
        )
    else:
        kopf.on.event(*res, id="watched")(functools.partial(watched, kind=info.kind))
    kopf.on.delete(*res, id="finalize")(on(always=True, wait=True, delete=True))


for _info in KINDS:
    _register(_info)
