"""The Kubernetes side effects the reconciler needs: reading Secret keys, publishing outputs.

Why: implements core.ports.Cluster with the official kubernetes client so the core stays testable
with fakes. kopf handles watching, finalizers and the status of deletes; the agenda's passes write status
and Events through here.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from . import GROUP, VERSION, plural
from .core.adapter import ObjectRef
from .errors import TerminalError
from .shards import REPLICA_PREFIX, SHARD_LABEL, SHARD_PREFIX, Lease, LeaseConflict

log = logging.getLogger(__name__)
MANAGED_BY = {"app.kubernetes.io/managed-by": "stackery-operator"}
CHECK_REQUESTED_ANNOTATION = "sweep.stackery.io/check-requested-at"
"""Not under stackery.io/: kopf ignores every annotation under the prefix of its own storage keys, so a
change there would never reach a handler."""


class KubeCluster:
    def __init__(self) -> None:
        self._api: k8s.CoreV1Api | None = None
        self._lock = threading.Lock()
        self.interim_writes: Callable[[str, str], None] | None = None
        """Told (uid, resourceVersion) of each write a pass makes before its final status (the pendingCreate
        marker), so a body at that version is known to predate the pass's result (StatusCache.wrote)."""

    def _core(self) -> k8s.CoreV1Api:
        with self._lock:
            if self._api is None:
                try:
                    k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
                except k8s_config.ConfigException:
                    k8s_config.load_kube_config()  # type: ignore[no-untyped-call]
                self._api = k8s.CoreV1Api()
            return self._api

    def api_client(self) -> k8s.ApiClient:
        """The one configured client every API group's calls share (Leases included)."""
        return self._core().api_client

    def _custom(self) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.api_client())

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        try:
            secret = self._core().read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        raw = (secret.data or {}).get(key)
        if raw is None:
            return None
        return base64.b64decode(raw).decode()

    def read_node(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            obj = self._custom().get_namespaced_custom_object(GROUP, VERSION, namespace, plural(kind), name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return obj  # type: ignore[return-value]

    def referrers(self, kind: str, namespace: str, name: str) -> list[str]:
        from pydantic import ValidationError

        from .core.adapter import NodeRef
        from .registry import KINDS

        api = self._custom()
        out = set()
        for info in KINDS:
            got: Any = api.list_namespaced_custom_object(GROUP, VERSION, namespace, info.plural)
            for item in dict(got).get("items", []):
                try:
                    spec = info.spec_model.model_validate(item.get("spec") or {})
                except ValidationError:
                    continue
                if any(isinstance(r, NodeRef) and (r.kind, r.name) == (kind, name) for r in info.adapter.references(spec)):
                    out.add(f"{info.kind} {item['metadata']['name']}")
        return sorted(out)

    def _list_call(self, plural_name: str, namespace: str | None) -> tuple[Any, tuple[str, ...]]:
        """The list call of a kind (cluster-wide when namespace is None) and its positional arguments."""
        api = self._custom()
        if namespace is None:
            return api.list_cluster_custom_object, (GROUP, VERSION, plural_name)
        return api.list_namespaced_custom_object, (GROUP, VERSION, namespace, plural_name)

    LIST_PAGE = 250
    """Objects per list page: the sweep holds one page decoded at a time, not thousands of bodies at once
    (a whole list of 1,000 objects was about 18 MiB of the peak RSS at 3,000 objects, issue 15)."""

    def list_objects(
        self, plural_name: str, namespaces: tuple[str, ...] = (), label_selector: str = ""
    ) -> Iterator[dict[str, Any]]:
        """Every object of a kind (in the watched namespaces, or all; with a selector: in these shards), a page
        at a time."""
        for ns in namespaces or (None,):
            fn, args = self._list_call(plural_name, ns)
            token = ""
            while True:
                got = dict(fn(*args, label_selector=label_selector, limit=self.LIST_PAGE, _continue=token, _request_timeout=30))
                yield from got.get("items", [])
                token = (got.get("metadata") or {}).get("continue") or ""
                if not token:
                    break

    def watch_objects(
        self, plural_name: str, namespace: str | None, label_selector: str, timeout: int
    ) -> Iterator[dict[str, Any]]:
        """The objects matching a selector now, then those that come to match it, for up to `timeout` seconds."""
        fn, args = self._list_call(plural_name, namespace)
        for event in k8s_watch.Watch().stream(fn, *args, label_selector=label_selector, timeout_seconds=timeout):  # type: ignore[no-untyped-call]
            if event.get("type") in ("ADDED", "MODIFIED"):
                yield event["object"]

    def _patch_metadata(self, plural_name: str, namespace: str, name: str, metadata: Mapping[str, Any]) -> None:
        self._custom().patch_namespaced_custom_object(
            GROUP, VERSION, namespace, plural_name, name, {"metadata": dict(metadata)}, _request_timeout=30
        )

    def label_shard(self, plural_name: str, namespace: str, name: str, shard: int) -> None:
        """Put an object in a shard (the labeller's only write)."""
        self._patch_metadata(plural_name, namespace, name, {"labels": {SHARD_LABEL: str(shard)}})

    def request_pass(self, kind: str, namespace: str, name: str, when: str) -> None:
        """Ask for a pass now: the agenda runs one for an annotation change, and it writes its status."""
        self._patch_metadata(plural(kind), namespace, name, {"annotations": {CHECK_REQUESTED_ANNOTATION: when}})

    def patch_status(self, ref: ObjectRef, status: Mapping[str, Any]) -> str:
        """Merge-patch the status subresource (None values remove keys): the pendingCreate marker, and the
        passes the agenda runs outside kopf's handlers (kopf applies a delete handler's own patch). Returns
        the object's resourceVersion after the patch."""
        answer: Any = self._custom().patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            ref.namespace,
            plural(ref.kind),
            ref.name,
            {"status": dict(status)},
            _request_timeout=30,
            _preload_content=False,  # read for its resourceVersion only, not made into a model (errors still raise)
        )
        data = answer.data
        answer.release_conn()
        return str((json.loads(data).get("metadata") or {}).get("resourceVersion") or "")

    def post_event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        """A core/v1 Event about the object, as kopf.event posts them from handlers. Sent as a plain dict and
        its answer not made into a model: every new object posts one, and the client's model round trip
        cost more CPU than the request."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body: Any = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{ref.name}.", "namespace": ref.namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": ref.kind,
                "name": ref.name,
                "namespace": ref.namespace,
                "uid": ref.uid,
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "source": {"component": "stackery-operator"},
            "reportingComponent": "stackery-operator",
        }
        answer: Any = self._core().create_namespaced_event(ref.namespace, body, _request_timeout=30, _preload_content=False)
        answer.drain_conn()
        answer.release_conn()

    def mark_pending_create(self, ref: ObjectRef, external_name: str) -> None:
        version = self.patch_status(ref, {"pendingCreate": external_name})
        if self.interim_writes is not None:
            self.interim_writes(ref.uid, version)

    def publish_outputs(self, ref: ObjectRef, name: str, data: Mapping[str, str], *, secret: bool = False) -> None:
        api = self._core()
        what = "Secret" if secret else "ConfigMap"
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": what,
            "metadata": {
                "name": name,
                "namespace": ref.namespace,
                "labels": dict(MANAGED_BY),
                "ownerReferences": [
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": ref.kind,
                        "name": ref.name,
                        "uid": ref.uid,
                        "controller": True,
                        "blockOwnerDeletion": False,
                    }
                ],
            },
        }
        if secret:
            body["type"] = "Opaque"
            body["stringData"] = dict(data)
        else:
            body["data"] = dict(data)
        try:
            self._write_outputs(api, ref, name, body, data, secret=secret)
        except ApiException as exc:
            if exc.status != 403 or not secret:
                raise
            raise TerminalError(
                f"the operator may not write Secrets in namespace {ref.namespace}: its administrator must add the namespace "
                "to the chart value outputSecrets.namespaces (docs/security.md), or drop outputs.secretName",
                reason="OutputsForbidden",
            ) from None

    def _write_outputs(
        self, api: k8s.CoreV1Api, ref: ObjectRef, name: str, body: dict[str, Any], data: Mapping[str, str], *, secret: bool
    ) -> None:
        what = "Secret" if secret else "ConfigMap"
        read = api.read_namespaced_secret if secret else api.read_namespaced_config_map
        try:
            current = read(name, ref.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            if secret:
                api.create_namespaced_secret(ref.namespace, body)  # type: ignore[arg-type]
            else:
                api.create_namespaced_config_map(ref.namespace, body)  # type: ignore[arg-type]
            return
        owners = [o.uid for o in ((current.metadata and current.metadata.owner_references) or [])]
        if ref.uid not in owners:  # never overwrite a Secret or ConfigMap this object did not make
            field = "secretName" if secret else "configMapName"
            raise TerminalError(
                f"{what} {name} already exists and belongs to {'another object' if owners else 'nobody (made by hand)'}; "
                f"choose another outputs.{field}",
                reason="OutputsConflict",
            )
        old = dict(current.data or {})
        if secret:
            old = {k: base64.b64decode(v).decode() for k, v in old.items()}
        if old == dict(data):
            return  # unchanged: no write
        patch: dict[str, Any] = {k: None for k in old if k not in data}
        if secret:
            patch.update({k: base64.b64encode(v.encode()).decode() for k, v in data.items()})
            api.patch_namespaced_secret(name, ref.namespace, {"data": patch})
        else:
            patch.update(data)
            api.patch_namespaced_config_map(name, ref.namespace, {"data": patch})

    def delete_outputs(self, ref: ObjectRef, name: str, *, secret: bool = False) -> None:
        api = self._core()
        try:
            current = (api.read_namespaced_secret if secret else api.read_namespaced_config_map)(name, ref.namespace)
            if any(o.uid == ref.uid for o in ((current.metadata and current.metadata.owner_references) or [])):
                (api.delete_namespaced_secret if secret else api.delete_namespaced_config_map)(name, ref.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise


class ReadError(RuntimeError):
    """The plugin could not read what it needs (RBAC, connection); the message says what."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class KubeReader:
    """Read-only access for the kubectl plugin: the user's kubeconfig and RBAC, get/list verbs only."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        self._kubeconfig = kubeconfig
        self._client = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]

    def list_objects(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        api = k8s.CustomObjectsApi(self._client)
        try:
            if namespace is None:
                got: Any = api.list_cluster_custom_object(GROUP, VERSION, plural(kind))
            else:
                got = api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural(kind))
        except ApiException as exc:
            where = f"namespace {namespace}" if namespace else "all namespaces"
            raise ReadError(f"cannot list {plural(kind)} in {where}: {exc.status} {exc.reason}", exc.status or 0) from None
        return [{**item, "kind": kind} for item in dict(got).get("items", [])]

    def events(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        """Events about one object, oldest first."""
        try:
            got = k8s.CoreV1Api(self._client).list_namespaced_event(
                namespace, field_selector=f"involvedObject.kind={kind},involvedObject.name={name}"
            )
        except ApiException as exc:
            if exc.status == 403:
                return []  # Events are a courtesy: a user who may not list them still gets the rest
            raise ReadError(f"cannot list events in namespace {namespace}: {exc.status} {exc.reason}") from None
        out = [
            {
                "type": e.type,
                "reason": e.reason,
                "message": e.message,
                "time": str(e.last_timestamp or e.event_time or e.first_timestamp or ""),
                "count": e.count or 1,
            }
            for e in got.items
        ]
        return sorted(out, key=lambda e: e["time"])

    def current_namespace(self) -> str:
        _, active = k8s_config.list_kube_config_contexts(config_file=self._kubeconfig)  # type: ignore[no-untyped-call]
        return str((active or {}).get("context", {}).get("namespace") or "default")


class KubeLeases:
    """The shards' coordination.k8s.io Leases in the operator's namespace (controller.shards.LeaseStore)."""

    def __init__(self, cluster: KubeCluster, namespace: str, duration: float) -> None:
        self._cluster = cluster
        self._namespace = namespace
        self._duration = max(1, round(duration))

    def _api(self) -> k8s.CoordinationV1Api:
        return k8s.CoordinationV1Api(self._cluster.api_client())

    @staticmethod
    def _lease(got: Any) -> Lease:
        spec = got.spec
        return Lease(
            name=got.metadata.name,
            holder=spec.holder_identity or "",
            version=got.metadata.resource_version,
            transitions=spec.lease_transitions or 0,
            acquired=spec.acquire_time,
        )

    def _body(self, name: str, holder: str, transitions: int, version: str | None = None, acquired: Any = None) -> k8s.V1Lease:
        now = datetime.now(UTC)
        return k8s.V1Lease(
            metadata=k8s.V1ObjectMeta(name=name, namespace=self._namespace, labels=dict(MANAGED_BY), resource_version=version),
            spec=k8s.V1LeaseSpec(
                holder_identity=holder or None,
                lease_duration_seconds=self._duration,
                acquire_time=acquired or now,
                renew_time=now,
                lease_transitions=transitions,
            ),
        )

    def list(self) -> list[Lease]:
        got = self._api().list_namespaced_lease(
            self._namespace, label_selector="app.kubernetes.io/managed-by=stackery-operator", _request_timeout=10
        )
        leases = [self._lease(item) for item in got.items]
        return [lease for lease in leases if lease.name.startswith((SHARD_PREFIX, REPLICA_PREFIX))]

    def create(self, name: str, holder: str) -> Lease:
        try:
            return self._lease(
                self._api().create_namespaced_lease(self._namespace, self._body(name, holder, 0), _request_timeout=10)
            )
        except ApiException as exc:
            if exc.status == 409:
                raise LeaseConflict(name) from None
            raise

    def write(self, lease: Lease, holder: str, transitions: int) -> Lease:
        same = holder == lease.holder  # a renewal keeps acquireTime; a new holder (or a release) sets it
        body = self._body(lease.name, holder, transitions, lease.version, lease.acquired if same else None)
        try:
            return self._lease(self._api().replace_namespaced_lease(lease.name, self._namespace, body, _request_timeout=10))
        except ApiException as exc:
            if exc.status in (404, 409):
                raise LeaseConflict(lease.name) from None
            raise

    def delete(self, lease: Lease) -> None:
        try:
            self._api().delete_namespaced_lease(
                lease.name,
                self._namespace,
                body=k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(resource_version=lease.version)),
                _request_timeout=10,
            )
        except ApiException as exc:
            if exc.status == 409:
                raise LeaseConflict(lease.name) from None
            if exc.status != 404:
                raise
