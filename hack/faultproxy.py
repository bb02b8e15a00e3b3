"""An HTTP proxy in front of the moto server that answers a share of AWS calls with faults.

Why: the resilience tests need AWS to misbehave the way it does in production — throttling (HTTP 429,
503 SlowDown), internal errors (500), and connections dropped before an answer — while the operator
still reaches it exactly as a real endpoint (AWS_ENDPOINT_URL). Faults are injected *before* the
request reaches moto, so a fault never hides a write that happened (moto ignores some idempotency
tokens that AWS honours, and a lost answer to a write would test moto rather than the operator).

    proxy = FaultProxy("http://127.0.0.1:5000", rate=0.2, seed=7).start()
    ... AWS_ENDPOINT_URL=proxy.url ...
    proxy.stop(); proxy.injected  # Counter of fault kinds

The benchmark uses it too: `latency` adds a fixed delay to every forwarded call (real AWS answers in tens
of milliseconds, moto in one or two: concurrency only shows with latency), and `faults=("throttle",)`
makes AWS throttle a share of the calls and nothing else.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("throttle", "slowdown", "internal", "drop")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


class FaultProxy:
    def __init__(
        self, target: str, *, rate: float, seed: int = 0, latency: float = 0.0, faults: tuple[str, ...] = FAULTS
    ) -> None:
        parts = urllib.parse.urlsplit(target)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rate = rate
        self.latency = latency
        """Seconds added before each forwarded call."""
        self.faults = faults
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def draw(self) -> str | None:
        with self.lock:
            if self.rate <= 0 or self.random.random() >= self.rate:
                self.forwarded += 1
                return None
            fault = self.random.choice(self.faults)
            self.injected[fault] += 1
            return fault

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.draw()
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None:
                    status, code, message = {
                        "throttle": (429, "TooManyRequestsException", "Rate exceeded"),
                        "slowdown": (503, "SlowDown", "Please reduce your request rate."),
                        "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
                    }[fault]
                    # the error in the request's protocol, as AWS answers it (botocore finds the code, so its
                    # retries treat it as AWS's own): JSON for the JSON protocols (DynamoDB, SSM, Lambda, ...)
                    json_protocol = "X-Amz-Target" in self.headers or self.path.startswith("/2015-03-31/")
                    if json_protocol:
                        code = "ThrottlingException" if fault == "throttle" else code
                        payload = json.dumps({"__type": code, "message": message}).encode()
                        ctype = "application/x-amz-json-1.0"
                    else:
                        payload = (
                            f"<ErrorResponse><Error><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>"
                        ).encode()
                        ctype = "text/xml"
                    self.send_response(status)
                    self.send_header("x-amzn-ErrorType", code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if proxy.latency:
                    time.sleep(proxy.latency)
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                        self.send_header(k, v)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="faultproxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
