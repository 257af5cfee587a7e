"""Django's cache in Azure Managed Redis or Azure Cache for Redis, with Microsoft Entra ID only.

The connection logs in as the managed identity: the user name is the identity's object id
(the token's `oid`), the password a token for https://redis.azure.com from the process-wide
credential (azureproject.credential), so Redis needs no access key. redis-entraid's credential
provider gets a new token before the old one expires and re-authenticates the pooled
connections with it (`AUTH` on each), as Azure requires; a new connection always logs in
with the newest token.

A cache is never worth a failed page: when Redis cannot be reached, refuses the token or
answers too slowly, every cache call answers "not cached" (reads miss, writes are dropped),
the failure is logged once, and for RETRY_SECONDS no call waits on Redis at all. Then the next
call tries again, and the first that succeeds says so in the log.
"""

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from azure.core.exceptions import ClientAuthenticationError
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.auth.err import RequestTokenErr, TokenRenewalErr
from redis.auth.idp import IdentityProviderInterface
from redis.auth.token import JWToken, TokenInterface
from redis.auth.token_manager import RetryPolicy, TokenManagerConfig
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from redis_entraid.cred_provider import EntraIdCredentialsProvider

from azureproject.credential import auth_error_cause, get_credential

logger = logging.getLogger(__name__)

# The audience of tokens for Azure Managed Redis and Azure Cache for Redis.
REDIS_SCOPE = "https://redis.azure.com/.default"
# After a failure, pages skip Redis for this long rather than waiting on it again.
RETRY_SECONDS = 5
# Seconds to connect (TLS included) and to wait for an answer: a cache that takes longer
# is slower than rendering the page without it.
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 0.5
# Re-authenticate with a new token when 70 % of the old one's lifetime has passed (Entra's
# tokens live 1 hour or more: 18 minutes or more to spare).
REFRESH_RATIO = 0.7

# What a failing Redis, network or identity endpoint raises through a cache call.
REDIS_FAILURES: tuple[type[BaseException], ...] = (
    RedisError,
    RequestTokenErr,
    TokenRenewalErr,
    ClientAuthenticationError,
    OSError,
)


class SharedCredentialIdentityProvider(IdentityProviderInterface):
    """redis-entraid's identity provider over the process-wide credential, so Redis shares the
    token cache (and the bounded waits) of the database and photo storage."""

    def __init__(self, *, client_id: str | None) -> None:
        self.client_id = client_id

    def request_token(self, force_refresh: bool = False) -> TokenInterface:
        """A token for a new connection (at once, if one is valid), or for re-authenticating
        the pooled ones (`force_refresh`, from the renewal job): then a token due for refresh
        is replaced first, so connections move to the newest token well before expiry."""
        credential = get_credential(client_id=self.client_id)
        try:
            token = credential.get_token_info(REDIS_SCOPE, fresh=force_refresh)
        except Exception as exc:  # the provider's contract: any failure as RequestTokenErr
            raise RequestTokenErr(exc) from exc
        return JWToken(token.token)


class EntraRedisCacheClient(RedisCacheClient):
    """Django's Redis client, logging in with Entra tokens. One redis.Redis per pool (Django
    makes one per call), built with the credential provider, so redis-py registers the
    re-authentication of that pool's connections when a token is renewed."""

    def __init__(self, servers: list[str], *, client_id: str | None = None, **options: Any):
        self.credential_provider = EntraIdCredentialsProvider(
            SharedCredentialIdentityProvider(client_id=client_id),
            TokenManagerConfig(
                expiration_refresh_ratio=REFRESH_RATIO,
                lower_refresh_bound_millis=0,
                token_request_execution_timeout_in_ms=3000,
                # The credential already waits a bounded time and retries: no retry on top.
                retry_policy=RetryPolicy(max_attempts=0, delay_in_ms=0),
            ),
        )
        options = {
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": SOCKET_TIMEOUT,
            # One quick retry, for a pooled connection the server closed; no backoff.
            "retry": Retry(NoBackoff(), 1),
            **options,
            "credential_provider": self.credential_provider,
        }
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}
        self._clients_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # Django's own
        with self._clients_lock:
            client = self._clients.get(id(pool))
            if client is None:
                client = self._clients[id(pool)] = self._client(  # type: ignore[attr-defined]
                    connection_pool=pool, credential_provider=self.credential_provider
                )
                # redis-py would raise in the renewal thread (a traceback, nothing else).
                self.credential_provider.on_error(_renewal_failed)
            return client


def _renewal_failed(error: Exception) -> None:
    """A token renewal failed (the identity endpoint down, say): the pooled connections keep
    the token they have; each logs in with a new one when it reconnects."""
    logger.warning(
        "Redis token renewal failed: %s; connections log in with a new token when they reconnect",
        _cause(error),
    )


class EntraRedisCache(RedisCache):
    """RedisCache over EntraRedisCacheClient that never fails a page (see the module)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = EntraRedisCacheClient
        self.location = server
        self._state_lock = threading.Lock()
        self._down_until = 0.0
        self._down = False

    def _call(self, operation: Callable[[], Any], default: Any) -> Any:
        if self._down and time.monotonic() < self._down_until:
            return default
        try:
            result = operation()
        except REDIS_FAILURES as exc:
            with self._state_lock:
                first = not self._down
                self._down, self._down_until = True, time.monotonic() + RETRY_SECONDS
            if first:
                logger.error(
                    "Redis cache unavailable at %s: %s; pages render without it, trying again "
                    "every %s s",
                    self.location,
                    _cause(exc),
                    RETRY_SECONDS,
                )
            return default
        if self._down:
            with self._state_lock:
                back, self._down = self._down, False
            if back:
                logger.warning("Redis cache answers again: pages use it")
        return result

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._call(partial(super().get, key, default, version), default)

    def get_many(self, keys: Any, version: Any = None) -> Any:
        return self._call(partial(super().get_many, keys, version), {})

    def has_key(self, key: Any, version: Any = None) -> Any:
        return self._call(partial(super().has_key, key, version), False)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call(partial(super().add, key, value, timeout, version), False)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._call(partial(super().set, key, value, timeout, version), None)

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call(partial(super().set_many, data, timeout, version), list(data))

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call(partial(super().touch, key, timeout, version), False)

    def delete(self, key: Any, version: Any = None) -> Any:
        return self._call(partial(super().delete, key, version), False)

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._call(partial(super().delete_many, keys, version), None)

    def clear(self) -> Any:
        return self._call(super().clear, False)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        """As Django's, with an unreachable Redis answering like a missing key (ValueError)."""
        missing = object()
        result = self._call(partial(super().incr, key, delta, version), missing)
        if result is missing:
            raise ValueError(f"Key '{key}' not found: the cache is unavailable")
        return result


def _cause(exc: BaseException) -> str:
    """The useful line of a failure, never a token."""
    inner = exc.__cause__ or exc
    if isinstance(inner, ClientAuthenticationError):
        return f"no Microsoft Entra token: {auth_error_cause(inner)}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
