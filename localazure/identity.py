"""A test managed-identity endpoint speaking App Service's protocol, so the real, unmodified
`DefaultAzureCredential` runs against it.

App Service sets IDENTITY_ENDPOINT and IDENTITY_HEADER; the SDK sends
`GET <endpoint>?resource=<audience>&api-version=2019-08-01[&client_id=<id>]` with the header
`X-IDENTITY-HEADER`, and expects JSON with `access_token` and `expires_on` (epoch seconds).
Tokens are JWTs shaped like Entra's (aud, iss, iat, nbf, exp, oid, tid), as Azurite checks them.
"""

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import jwt

from localazure.services import JSONRequestHandler, ThreadedHTTPServer, http_get, wait_until

TENANT_ID = "72f988bf-0000-4000-8000-00000000c0de"


@dataclass(frozen=True)
class TokenCall:
    resource: str
    client_id: str | None
    granted: bool
    at: float


class IdentityEndpoint:
    """Hands out tokens for the identities assigned to the "app": user-assigned ones by client
    id, and the system-assigned one when `system_assigned` is on; the same one until it
    expires (or has `renew_before` seconds left). `on_token(resource, token,
    client_id)` runs before a token is returned (e.g. to make it the database password)."""

    def __init__(
        self,
        *,
        client_ids: set[str] | None = None,
        system_assigned: bool = False,
        lifetime: float = 3600,
        renew_before: float = 0,
        on_token: Callable[[str, str, str | None], None] | None = None,
    ) -> None:
        self.client_ids = set(client_ids or ())
        self.system_assigned = system_assigned
        self.lifetime = lifetime
        # A token with less than this many seconds left is replaced by a new one when asked
        # for (0: only once expired), as Azure's endpoint refreshes before expiry.
        self.renew_before = renew_before
        self.on_token = on_token
        self.header = secrets.token_urlsafe(16)
        self.signing_key = secrets.token_bytes(32)
        self.calls: list[TokenCall] = []
        self.minted = 0  # distinct tokens handed out
        self.arrivals = 0  # requests received, answered or not (a frozen endpoint holds them)
        self._thawed = threading.Event()
        self._thawed.set()
        # Like App Service's endpoint, the same token is handed out until it expires, so every
        # process of the app holds the one token that is currently the database password.
        self._issued: dict[tuple[str, str | None], tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._http = ThreadedHTTPServer(self._handler())
        self.port = self._http.port
        self.url = f"http://127.0.0.1:{self.port}/msi/token"

    @property
    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.header}

    def calls_for(self, resource: str, *, granted: bool = True) -> list[TokenCall]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.resource.rstrip("/") == resource.rstrip("/") and c.granted == granted
            ]

    def start(self) -> "IdentityEndpoint":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def freeze(self) -> None:
        """Hold every request without an answer, like a network black hole, until thaw()."""
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()

    def tokens_expired(self) -> bool:
        """Whether every token handed out so far has expired (the next call mints anew)."""
        with self._lock:
            return all(expires_on <= time.time() for _, expires_on in self._issued.values())

    def object_id(self, client_id: str | None) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"identity:{client_id or 'system'}"))

    def mint(self, resource: str, client_id: str | None) -> tuple[str, int]:
        now = time.time()
        expires_on = int(now + self.lifetime)
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{TENANT_ID}/",
            "iat": int(now) - 1,
            "nbf": int(now) - 1,
            "exp": expires_on,
            "oid": self.object_id(client_id),
            "sub": self.object_id(client_id),
            "tid": TENANT_ID,
            "appid": client_id or "system-assigned",
            "idtyp": "app",
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.signing_key, algorithm="HS256"), expires_on

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(JSONRequestHandler):
            def do_GET(self) -> None:
                with endpoint._lock:
                    endpoint.arrivals += 1
                endpoint._thawed.wait()
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                resource = query.get("resource", "")
                client_id = query.get("client_id") or None
                if (
                    url.path != "/msi/token"
                    or self.headers.get("X-IDENTITY-HEADER") != endpoint.header
                ):
                    self.reply(
                        401, {"statusCode": 401, "message": "Missing or wrong X-IDENTITY-HEADER"}
                    )
                    return
                if query.get("api-version") != "2019-08-01" or not resource:
                    self.reply(400, {"statusCode": 400, "message": "Bad api-version or resource"})
                    return
                assigned = (
                    client_id in endpoint.client_ids if client_id else endpoint.system_assigned
                )
                with endpoint._lock:
                    endpoint.calls.append(TokenCall(resource, client_id, assigned, time.time()))
                if not assigned:
                    which = (
                        f"client id {client_id}" if client_id else "the system-assigned identity"
                    )
                    self.reply(
                        400,
                        {
                            "statusCode": 400,
                            "message": f"No managed identity found for {which}",
                            "correlationId": uuid.uuid4().hex,
                        },
                    )
                    return
                with endpoint._lock:
                    issued = endpoint._issued.get((resource, client_id))
                    if issued is None or issued[1] - endpoint.renew_before <= time.time():
                        issued = endpoint.mint(resource, client_id)
                        endpoint.minted += 1
                        endpoint._issued[(resource, client_id)] = issued
                        if endpoint.on_token is not None:
                            endpoint.on_token(resource, issued[0], client_id)
                token, expires_on = issued
                self.reply(
                    200,
                    {
                        "access_token": token,
                        "expires_on": str(expires_on),
                        "resource": resource,
                        "token_type": "Bearer",
                        "client_id": client_id or "system-assigned",
                    },
                )

        return Handler


def statuses_while_tokens_rotate(
    endpoint: IdentityEndpoint, url: str, *, rotations: int
) -> list[int]:
    """GET `url` over and over until `endpoint` has minted `rotations` more tokens (short-lived
    ones, from an endpoint made with a small lifetime); the statuses answered meanwhile."""
    statuses: list[int] = []
    before = endpoint.minted

    def rotated() -> bool:
        statuses.append(http_get(url)[0])
        return endpoint.minted >= before + rotations

    wait_until(rotated, what=f"{rotations} token rotations under requests")
    return statuses
