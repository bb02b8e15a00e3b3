"""Local test bed: a real etcd + kube-apiserver, a moto server and the operator as processes.

Why: CRD schemas, CEL rules, finalizers, the status subresource and RBAC only behave for real on a
real apiserver. Used by `make demo`, the e2e tests and `make bench`. Everything binds to 127.0.0.1 on
free ports and is stopped by PID on exit (also on Ctrl-C and on test failure).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OPERATOR_NS = "stackery-system"
TENANTS = ("alice", "bob")
OPERATOR_SA = "stackery-operator"


def log(msg: str) -> None:
    print(f"[testbed] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kube_assets() -> Path:
    """Folder with kube-apiserver, etcd, kubectl: KUBEBUILDER_ASSETS, the cache, or a build (minutes)."""
    proc = subprocess.run(["bash", str(ROOT / "hack/build-kube.sh")], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            "no Kubernetes control plane binaries: install Go 1.26+ (hack/build-kube.sh builds kube-apiserver, "
            "etcd and kubectl from the Go module proxy) or set KUBEBUILDER_ASSETS to a folder holding them"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def helm_binary() -> Path:
    proc = subprocess.run(["bash", str(ROOT / "hack/build-helm.sh")], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError("no helm: install Go (hack/build-helm.sh builds it) or put helm on PATH")
    return Path(proc.stdout.strip().splitlines()[-1])


def _wait(check: Any, what: str, timeout: float, proc: subprocess.Popen[Any] | None = None, logfile: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = logfile.read_text()[-3000:] if logfile and logfile.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    tail = logfile.read_text()[-3000:] if logfile and logfile.exists() else ""
    raise TimeoutError(f"{what} not ready after {timeout}s\n{tail}")


@dataclass
class Processes:
    """Child processes, stopped in reverse order."""

    procs: list[tuple[str, subprocess.Popen[Any]]] = field(default_factory=list)

    def start(self, name: str, args: list[str], logfile: Path, env: dict[str, str] | None = None) -> subprocess.Popen[Any]:
        out = open(logfile, "ab")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop(self, name: str | None = None, timeout: float = 10, *, sig: int = signal.SIGTERM) -> None:
        """Stop processes (all, or those named): `sig` (SIGKILL: as when a node dies), SIGKILL after `timeout`."""
        for pname, proc in reversed(list(self.procs)):
            if name is not None and pname != name:
                continue
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            self.procs.remove((pname, proc))


@dataclass
class TestBed:
    workdir: Path
    assets: Path
    procs: Processes = field(default_factory=Processes)
    apiserver_url: str = ""
    admin_token: str = "admin-token-stackery"
    operator_token: str = "operator-token-stackery"
    moto_url: str = ""
    env_extra: dict[str, str] = field(default_factory=dict)
    operator_ports: dict[str, int] = field(default_factory=dict)
    """Metrics port of each running operator process, by name."""
    apiserver_args: list[str] = field(default_factory=list)

    @property
    def metrics_port(self) -> int:
        """The metrics port of the operator process named "operator" (0 when none runs)."""
        return self.operator_ports.get("operator", 0)

    # -------------------------------------------------------------- control plane
    def start_control_plane(self) -> None:
        w = self.workdir
        (w / "etcd").mkdir(parents=True, exist_ok=True)
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd = self.procs.start(
            "etcd",
            [
                str(self.assets / "etcd"),
                "--data-dir",
                str(w / "etcd"),
                "--listen-client-urls",
                f"http://127.0.0.1:{etcd_port}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{etcd_port}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-cluster",
                f"default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
                "--quota-backend-bytes",
                str(4 * 1024**3),
                "--log-level",
                "warn",
            ],
            w / "etcd.log",
        )
        _wait(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{etcd_port}/health", timeout=1).status == 200,
            "etcd",
            30,
            etcd,
            w / "etcd.log",
        )

        subprocess.run(["openssl", "genrsa", "-out", str(w / "sa.key"), "2048"], check=True, capture_output=True)
        subprocess.run(
            ["openssl", "rsa", "-in", str(w / "sa.key"), "-pubout", "-out", str(w / "sa.pub")], check=True, capture_output=True
        )
        (w / "tokens.csv").write_text(
            f'{self.admin_token},admin,admin,"system:masters"\n'
            f"{self.operator_token},system:serviceaccount:{OPERATOR_NS}:{OPERATOR_SA},operator-uid,"
            f'"system:serviceaccounts,system:serviceaccounts:{OPERATOR_NS},system:authenticated"\n'
            f"{self.operator_token}-ns,system:serviceaccount:{OPERATOR_NS}:{OPERATOR_SA}-ns,operator-ns-uid,"
            f'"system:serviceaccounts,system:serviceaccounts:{OPERATOR_NS},system:authenticated"\n'
            + "".join(f'{user}-token-stackery,{user},{user}-uid,"system:authenticated"\n' for user in TENANTS)
        )
        self.apiserver_args = [
            str(self.assets / "kube-apiserver"),
            "--etcd-servers",
            f"http://127.0.0.1:{etcd_port}",
            "--bind-address",
            "127.0.0.1",
            "--advertise-address",
            "127.0.0.1",
            "--secure-port",
            str(api_port),
            "--cert-dir",
            str(w / "certs"),
            "--token-auth-file",
            str(w / "tokens.csv"),
            "--authorization-mode",
            "RBAC",
            "--service-account-issuer",
            "https://kubernetes.default.svc",
            "--service-account-key-file",
            str(w / "sa.pub"),
            "--service-account-signing-key-file",
            str(w / "sa.key"),
            "--service-cluster-ip-range",
            "10.0.0.0/24",
            "--disable-admission-plugins",
            "ServiceAccount",
            "--v",
            "1",
        ]
        api = self.procs.start("kube-apiserver", self.apiserver_args, w / "apiserver.log")
        self.apiserver_url = f"https://127.0.0.1:{api_port}"
        _wait(lambda: self._get("/readyz") == 200, "kube-apiserver", 120, api, w / "apiserver.log")
        self.write_kubeconfig("admin", self.admin_token)
        self.write_kubeconfig("operator", self.operator_token)
        self.write_kubeconfig("operator-ns", self.operator_token + "-ns")  # for the namespaced-install test
        for user in TENANTS:  # plain users without any rights until a test binds them (tenancy tests)
            self.write_kubeconfig(user, f"{user}-token-stackery")
        log(f"kube-apiserver {self.apiserver_url} ready (kubeconfig {self.kubeconfig('admin')})")

    def stop_apiserver(self) -> None:
        """An apiserver outage (etcd and everything else keep running)."""
        self.procs.stop("kube-apiserver")

    def start_apiserver(self) -> None:
        """Back after an outage: same port, certificates and etcd."""
        api = self.procs.start("kube-apiserver", self.apiserver_args, self.workdir / "apiserver.log")
        _wait(lambda: self._get("/readyz") == 200, "kube-apiserver (restarted)", 120, api, self.workdir / "apiserver.log")

    def _get(self, path: str) -> int:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        req = urllib.request.Request(self.apiserver_url + path, headers={"Authorization": f"Bearer {self.admin_token}"})
        with urllib.request.urlopen(req, context=ctx, timeout=2) as r:
            return int(r.status)

    def kubeconfig(self, who: str = "admin") -> Path:
        return self.workdir / f"{who}.kubeconfig"

    def write_kubeconfig(self, who: str, token: str) -> None:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "stackery",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": self.apiserver_url, "certificate-authority": str(self.workdir / "certs/apiserver.crt")},
                }
            ],
            "users": [{"name": who, "user": {"token": token}}],
            "contexts": [{"name": "stackery", "context": {"cluster": "local", "user": who, "namespace": "default"}}],
        }
        self.kubeconfig(who).write_text(json.dumps(cfg, indent=1))

    def kubectl(
        self, *args: str, who: str = "admin", input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.assets / "kubectl"), "--kubeconfig", str(self.kubeconfig(who)), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def apply(self, obj: dict[str, Any], *, who: str = "admin") -> subprocess.CompletedProcess[str]:
        """kubectl apply one object given as a dict."""
        return self.kubectl("apply", "-f", "-", who=who, input=json.dumps(obj))

    # -------------------------------------------------------------- moto
    def start_moto(self, acm_wait: int = 3) -> None:
        port = free_port()
        env = {**os.environ, "MOTO_ACM_VALIDATION_WAIT": str(acm_wait)}
        moto_bin = Path(sys.executable).with_name("moto_server")
        proc = self.procs.start("moto", [str(moto_bin), "-H", "127.0.0.1", "-p", str(port)], self.workdir / "moto.log", env)
        self.moto_url = f"http://127.0.0.1:{port}"
        _wait(
            lambda: urllib.request.urlopen(self.moto_url + "/moto-api/", timeout=1).status == 200,
            "moto_server",
            30,
            proc,
            self.workdir / "moto.log",
        )
        log(f"moto server {self.moto_url} ready")

    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    # -------------------------------------------------------------- operator
    def install_crds_and_rbac(self) -> None:
        self.kubectl("apply", "--server-side", "-k", str(ROOT / "crds"))
        for crd in sorted((ROOT / "crds").glob("stackery.io_*.yaml")):
            name = crd.name.split("_", 1)[1].removesuffix(".yaml") + ".stackery.io"
            self.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
            # Established comes before the new storage serves lists; wait so the operator starts clean
            _wait(
                lambda name=name: self.kubectl("get", name.split(".")[0], "-A", check=False).returncode == 0,
                f"storage for {name}",
                30,
            )
        self.kubectl("create", "namespace", OPERATOR_NS, check=False)
        rendered = subprocess.run(
            [
                str(helm_binary()),
                "template",
                "stackery-operator",
                str(ROOT / "charts/stackery-operator"),
                "--namespace",
                OPERATOR_NS,
                "--show-only",
                "templates/rbac.yaml",
                "--show-only",
                "templates/secrets-rbac.yaml",
                "--set",
                "outputSecrets.namespaces={default}",  # the examples' Database credentials (others: the tests grant)
                "--set",
                "operator.replicas=2",  # also renders the shards' Lease Role, so sharded replicas run with the chart's RBAC
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.kubectl("apply", "-f", "-", input=rendered)

    def start_operator(self, *, who: str = "operator", name: str = "operator", **settings: str) -> int:
        """Start an operator process (`name`: its process and log name; a second replica needs another).
        Returns its metrics port (self.metrics_port is the one named "operator")."""
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG"))},
            **self.aws_env(),
            "KUBECONFIG": str(self.kubeconfig(who)),
            "STACKERY_METRICS_PORT": str(port),
            "STACKERY_PROBE_PORT": str(free_port()),
            "STACKERY_TICK_SECONDS": "1",
            "STACKERY_RESYNC_SECONDS": "5",
            # checks that find nothing new write no status; this writes one at least every 15 s, so tests can
            # watch lastSyncTime move (the default, 1 h, is what the bench measures)
            "STACKERY_STATUS_HEARTBEAT_SECONDS": "15",
            "STACKERY_WAIT_SECONDS": "2",
            "STACKERY_BLOCKED_SECONDS": "3",
            "STACKERY_BACKOFF_BASE_SECONDS": "1",
            "STACKERY_SWEEP_SECONDS": "2",
            "STACKERY_OVERDUE_MARGIN_SECONDS": "10",
            "STACKERY_LEASE_NAMESPACE": OPERATOR_NS,
            "PYTHONUNBUFFERED": "1",
            **self.env_extra,
            **settings,
        }
        wrap = shlex.split(env.pop("STACKERY_OPERATOR_WRAP", ""))  # e.g. a profiler: hack/profile.py
        logfile = self.workdir / f"{name}.log"
        proc = self.procs.start(name, [*wrap, sys.executable, "-m", "controller"], logfile, env)
        _wait(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).status == 200,
            name,
            60,
            proc,
            logfile,
        )
        log(f"{name} running (metrics http://127.0.0.1:{port}/metrics, log {logfile})")
        self.operator_ports[name] = port
        return port

    def stop_operator(self, name: str = "operator") -> None:
        self.procs.stop(name)
        self.operator_ports.pop(name, None)

    def kill_operator(self, name: str = "operator") -> None:
        """SIGKILL: no handover, no cleanup — as when a node dies."""
        self.procs.stop(name, sig=signal.SIGKILL)
        self.operator_ports.pop(name, None)

    def metrics(self, port: int | None = None) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port or self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric_total(self, name: str, *, port: int | None = None, **labels: str) -> float:
        """Sum of an operator's samples of `name` (e.g. stackery_aws_api_calls_total) carrying these labels."""
        want = [f'{k}="{v}"' for k, v in labels.items()]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in self.metrics(port).splitlines()
            if (line.startswith(name + "{") or line.startswith(name + " ")) and all(w in line for w in want)
        )

    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        out = self.kubectl("get", kind, name, "-n", namespace, "-o", "json")
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.procs.stop()


@contextlib.contextmanager
def running(*, operator: bool = True, keep: bool = False, **settings: str) -> Iterator[TestBed]:
    workdir = Path(tempfile.mkdtemp(prefix="stackery-testbed-"))
    bed = TestBed(workdir=workdir, assets=kube_assets())
    atexit.register(bed.stop)
    try:
        bed.start_control_plane()
        bed.start_moto()
        bed.install_crds_and_rbac()
        bed.env_extra.update(settings)  # kept for every (re)start of the operator, e.g. after a kill
        if operator:
            bed.start_operator()
        yield bed
    finally:
        bed.stop()
        if not keep and not os.environ.get("STACKERY_KEEP_TESTBED"):
            shutil.rmtree(workdir, ignore_errors=True)
