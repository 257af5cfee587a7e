"""The process-wide Microsoft Entra credential shared by the database and photo storage.

One credential per identity per process, built on first use, so the SDK's token cache serves
every connection and upload: no request pays for a token while it is fresh. Which credential
follows Microsoft's advice: on App Service (Azure mode) `ManagedIdentityCredential` for the
configured identity, with no chain to walk; on a developer's machine `DefaultAzureCredential`,
which finds an Azure CLI sign-in (or a managed identity endpoint, as the tests provide).
A lock makes threads that need a token at the same moment share one identity-endpoint call.
"""

import logging
import threading
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

logger = logging.getLogger(__name__)

_registry_lock = threading.Lock()
_credentials: dict[tuple[str | None, bool], "SharedCredential"] = {}


class SharedCredential:
    """A thread-safe TokenCredential over one lazily built azure-identity credential:
    ManagedIdentityCredential when `managed_identity_only` (App Service), else
    DefaultAzureCredential."""

    def __init__(self, *, client_id: str | None, managed_identity_only: bool) -> None:
        self.client_id = client_id or None
        self.managed_identity_only = managed_identity_only
        self._lock = threading.Lock()
        self._inner: Any = None

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
        if self._inner is None:
            from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

            logger.info("Microsoft Entra tokens from %s", self.describe())
            if self.managed_identity_only:
                self._inner = ManagedIdentityCredential(client_id=self.client_id)
            else:
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
