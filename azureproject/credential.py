"""The process-wide Microsoft Entra credential shared by the database and photo storage.

One credential per identity per process, built on first use, so the SDK's token cache serves
every connection and upload: no request pays for a token while it is fresh. Which credential
follows Microsoft's advice: on App Service (Azure mode) `ManagedIdentityCredential` for the
configured identity, with no chain to walk; on a developer's machine `DefaultAzureCredential`,
which finds an Azure CLI sign-in (or a managed identity endpoint, as the tests provide).
Threads that need a token at the same moment share one identity-endpoint call, and a slow or
frozen endpoint never holds up a caller that has a valid token (SharedCredential).
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ClientAuthenticationError

logger = logging.getLogger(__name__)

# A request that needs a token and has no valid one waits this long for the identity endpoint,
# then fails (503): far below App Service's 230-s front-end limit and gunicorn's timeout.
TOKEN_WAIT_SECONDS = 3
# Each token request: connect and read timeouts, and one retry (the SDK's defaults would wait
# minutes). It runs in its own thread, so callers with a valid token never wait for it.
TOKEN_REQUEST_OPTIONS: dict[str, Any] = {
    "connection_timeout": 2,
    "read_timeout": 3,
    "retry_total": 1,
}
# A token this close to its expiry is no longer handed out.
EXPIRY_MARGIN_SECONDS = 1

_registry_lock = threading.Lock()
_credentials: dict[tuple[str | None, bool], "SharedCredential"] = {}


@dataclass
class _Refresh:
    """One token request in flight for a set of scopes; waiters wait on `done`."""

    done: threading.Event = field(default_factory=threading.Event)
    token: AccessTokenInfo | None = None
    error: BaseException | None = None


class SharedCredential:
    """A thread-safe TokenCredential over one lazily built azure-identity credential:
    ManagedIdentityCredential when `managed_identity_only` (App Service), else
    DefaultAzureCredential.

    It keeps the newest token per scope, and never makes a caller wait long on the identity
    endpoint: a token still valid is handed out at once, even while it is being refreshed; at
    most one refresh per scope is in flight, in its own thread and outside any lock a caller
    needs; a caller with no valid token waits at most `wait_seconds` for it and then gets a
    ClientAuthenticationError (the next caller starts a new refresh once that one is over).
    The token requests themselves have bounded connect and read timeouts."""

    def __init__(
        self,
        *,
        client_id: str | None,
        managed_identity_only: bool,
        wait_seconds: float = TOKEN_WAIT_SECONDS,
    ) -> None:
        self.client_id = client_id or None
        self.managed_identity_only = managed_identity_only
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()  # guards the fields below; never held while waiting
        self._inner: Any = None
        # Per scope: the newest token, and when to start getting the next one.
        self._tokens: dict[tuple[str, ...], tuple[AccessTokenInfo, float]] = {}
        self._refreshes: dict[tuple[str, ...], _Refresh] = {}

    @property
    def kind(self) -> str:
        if self.managed_identity_only:
            return "ManagedIdentityCredential"
        return "DefaultAzureCredential"

    def describe(self) -> str:
        """Which credential and identity, for logs and error messages."""
        if self.client_id:
            identity = f"the user-assigned managed identity (client id {self.client_id})"
        else:
            identity = "the system-assigned managed identity"
        if self.managed_identity_only:
            return f"{self.kind} for {identity}"
        return f"{self.kind} (a developer sign-in such as the Azure CLI, or {identity})"

    def _credential(self) -> Any:
        with self._lock:
            if self._inner is None:
                from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

                logger.info("Microsoft Entra tokens from %s", self.describe())
                if self.managed_identity_only:
                    self._inner = ManagedIdentityCredential(
                        client_id=self.client_id, **TOKEN_REQUEST_OPTIONS
                    )
                else:
                    self._inner = DefaultAzureCredential(
                        managed_identity_client_id=self.client_id, **TOKEN_REQUEST_OPTIONS
                    )
            return self._inner

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        info = self.get_token_info(*scopes)
        return AccessToken(info.token, info.expires_on)

    def get_token_info(
        self, *scopes: str, options: Any = None, fresh: bool = False
    ) -> AccessTokenInfo:
        """The newest token for `scopes`. With `fresh`, a token due for refresh is not handed
        out while its refresh is under way: the caller waits for the new one (at most
        `wait_seconds`, then it gets the old one if still valid), for a background job that
        re-authenticates long-lived connections."""
        key = tuple(scopes)
        now = time.time()
        with self._lock:
            token, refresh_at = self._tokens.get(key, (None, 0.0))
            usable = token is not None and token.expires_on - now > EXPIRY_MARGIN_SECONDS
            due = not usable or now >= refresh_at
            refresh = self._refreshes.get(key)
            if due and refresh is None:
                refresh = self._refreshes[key] = _Refresh()
                threading.Thread(
                    target=self._refresh, args=(key, refresh), name="token-refresh", daemon=True
                ).start()
        if usable and token is not None and not (fresh and due):
            return token  # valid: whatever the refresh does, this caller goes on at once
        assert refresh is not None
        finished = refresh.done.wait(self.wait_seconds)
        if usable and token is not None and (not finished or refresh.error is not None):
            return token  # `fresh` asked for the new one, but its refresh hangs or failed
        if not finished:
            raise ClientAuthenticationError(
                message=f"no Microsoft Entra token within {self.wait_seconds:g} s: the identity "
                "endpoint did not answer in time"
            )
        if refresh.error is not None:
            raise refresh.error
        assert refresh.token is not None
        return refresh.token

    def _refresh(self, key: tuple[str, ...], refresh: _Refresh) -> None:
        try:
            refresh.token = self._credential().get_token_info(*key)
        except BaseException as exc:  # handed to the waiting callers, who log it
            refresh.error = exc
        with self._lock:
            if refresh.token is not None:
                self._tokens[key] = (refresh.token, _refresh_time(refresh.token))
            self._refreshes.pop(key, None)
        refresh.done.set()

    def close(self) -> None:
        with self._lock:
            inner, self._inner = self._inner, None
            self._tokens.clear()
        if inner is not None:
            inner.close()


def _refresh_time(token: AccessTokenInfo) -> float:
    """When to start getting the next token, for one just received: when Entra suggests
    (refresh_on), else halfway to its expiry."""
    if token.refresh_on:
        return token.refresh_on
    now = time.time()
    return now + (token.expires_on - now) / 2


def get_credential(*, client_id: str | None = None) -> SharedCredential:
    """Return this process's credential for the identity `client_id` (None: system-assigned):
    a managed identity only in Azure mode (settings.AZURE_MODE)."""
    from django.conf import settings

    key = (client_id or None, bool(settings.AZURE_MODE))
    with _registry_lock:
        credential = _credentials.get(key)
        if credential is None:
            credential = _credentials[key] = SharedCredential(
                client_id=key[0], managed_identity_only=key[1]
            )
        return credential


def reset_credentials() -> None:
    """Forget every credential (tests, and after the identity configuration changes)."""
    with _registry_lock:
        for credential in _credentials.values():
            credential.close()
        _credentials.clear()


def auth_error_cause(exc: BaseException) -> str:
    """The useful line of a credential failure: DefaultAzureCredential lists every credential it
    tried; on App Service the managed identity's line is the one that says what went wrong."""
    text = str(exc).strip()
    for line in text.splitlines():
        if "ManagedIdentityCredential:" in line:
            return line.strip()
    return text.splitlines()[0] if text else type(exc).__name__
