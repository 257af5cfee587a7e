"""The process-wide Microsoft Entra credential shared by the database and photo storage.

One `DefaultAzureCredential` per identity per process, built on first use, so the SDK's token
cache serves every connection and upload: no request pays for a token while it is fresh.
A lock makes threads that need a token at the same moment share one identity-endpoint call.
"""

import logging
import threading
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

logger = logging.getLogger(__name__)

_registry_lock = threading.Lock()
_credentials: dict[str | None, "SharedCredential"] = {}


class SharedCredential:
    """A thread-safe TokenCredential over one lazily built DefaultAzureCredential."""

    def __init__(self, *, client_id: str | None) -> None:
        self.client_id = client_id or None
        self._lock = threading.Lock()
        self._inner: Any = None

    def describe(self) -> str:
        if self.client_id:
            return f"user-assigned managed identity (client id {self.client_id})"
        return "system-assigned managed identity"

    def _credential(self) -> Any:
        if self._inner is None:
            from azure.identity import DefaultAzureCredential

            logger.info("Using Microsoft Entra credential for the %s", self.describe())
            self._inner = DefaultAzureCredential(managed_identity_client_id=self.client_id)
        return self._inner

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        with self._lock:
            return self._credential().get_token(*scopes, **kwargs)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        with self._lock:
            return self._credential().get_token_info(*scopes, options=options)

    def close(self) -> None:
        with self._lock:
            if self._inner is not None:
                self._inner.close()
                self._inner = None


def get_credential(*, client_id: str | None = None) -> SharedCredential:
    """Return this process's credential for the identity `client_id` (None: system-assigned)."""
    key = client_id or None
    with _registry_lock:
        credential = _credentials.get(key)
        if credential is None:
            credential = _credentials[key] = SharedCredential(client_id=key)
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
