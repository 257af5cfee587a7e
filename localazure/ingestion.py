"""An Application Insights ingestion endpoint on loopback, over TLS, for the telemetry tests.

Like Azure Monitor with local authentication disabled, it takes `POST .../track` only with a
Bearer token whose audience is https://monitor.azure.com, here one the test identity endpoint
signed (checked with its key), and answers 401 otherwise. It keeps every envelope it accepted,
with the raw request bodies, so tests can look for what must never be sent.
"""

import gzip
import json
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt

from localazure.identity import IdentityEndpoint
from localazure.services import JSONRequestHandler, ThreadedHTTPServer

MONITOR_AUDIENCES = {"https://monitor.azure.com", "https://monitor.azure.com/"}


class IngestionEndpoint:
    def __init__(self, identity: IdentityEndpoint) -> None:
        self.identity = identity
        self.instrumentation_key = str(uuid.uuid4())
        self.envelopes: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.refused = 0  # requests without a valid token
        self.tokens: list[dict[str, Any]] = []  # the claims of every token accepted
        self.refuse_all = False  # as if the identity had lost its role
        self._lock = threading.Lock()
        self._http = ThreadedHTTPServer(
            self._handler(), tls_dir=Path(tempfile.mkdtemp(prefix="rr-ingestion-"))
        )
        assert self._http.ca_file is not None
        self.ca_file = self._http.ca_file
        self.port = self._http.port

    @property
    def connection_string(self) -> str:
        return (
            f"InstrumentationKey={self.instrumentation_key};"
            f"IngestionEndpoint=https://127.0.0.1:{self.port}/"
        )

    def start(self) -> "IngestionEndpoint":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.envelopes if e.get("data", {}).get("baseType") == base_type]

    def raw(self) -> str:
        with self._lock:
            return b"\n".join(self.bodies).decode(errors="replace")

    def wait_for(self, condition: Any, *, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"telemetry not received within {timeout} s")
            time.sleep(0.2)

    def _valid(self, authorization: str) -> bool:
        if self.refuse_all or not authorization.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(
                authorization.removeprefix("Bearer "),
                self.identity.signing_key,
                algorithms=["HS256"],
                options={"verify_aud": False},
            )
        except jwt.PyJWTError:
            return False
        if claims.get("aud") not in MONITOR_AUDIENCES:
            return False
        with self._lock:
            self.tokens.append(claims)
        return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(JSONRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if not self.path.rstrip("/").endswith("/track"):
                    self.reply(404, {"error": "not found"})
                    return
                if not endpoint._valid(self.headers.get("Authorization", "")):
                    with endpoint._lock:
                        endpoint.refused += 1
                    self.reply(401, {"itemsReceived": 0, "itemsAccepted": 0, "errors": []})
                    return
                text = body.decode()
                items = json.loads(text) if text.lstrip().startswith("[") else [
                    json.loads(line) for line in text.splitlines() if line.strip()
                ]  # fmt: skip
                with endpoint._lock:
                    endpoint.bodies.append(body)
                    endpoint.envelopes.extend(items)
                self.reply(
                    200, {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
                )

        return Handler
