"""PostgreSQL backend that logs in with a Microsoft Entra access token instead of a password.

Select it with `ENGINE: "azureproject.postgresql"`. When the database settings carry no
PASSWORD, every new physical connection (persistent, pooled, or `dbshell`) gets a current
token for Azure Database for PostgreSQL as its password, from the process-wide credential.
"""

import logging
import select
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from django.db import OperationalError as DjangoOperationalError
from django.db.backends import utils
from django.db.backends.postgresql import base, client
from psycopg_pool import PoolTimeout

from azureproject.credential import auth_error_cause, get_credential
from azureproject.errors import DatabaseUnavailable

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
# The audience of Entra tokens accepted by Azure Database for PostgreSQL.
TOKEN_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


def _where(settings_dict: dict[str, Any]) -> str:
    return (
        f"PostgreSQL user {settings_dict.get('USER')!r} at "
        f"{settings_dict.get('HOST')}:{settings_dict.get('PORT') or 5432}"
    )


def entra_password(settings_dict: dict[str, Any]) -> str:
    """A current Entra access token to use as the PostgreSQL password."""
    credential = get_credential(client_id=settings_dict.get("AZURE_CLIENT_ID"))
    try:
        return credential.get_token(TOKEN_SCOPE).token
    except Exception as exc:  # Any SDK or network failure means: no token, no connection.
        cause = auth_error_cause(exc)
        message = (
            f"no Microsoft Entra token for {_where(settings_dict)} "
            f"from {credential.describe()}: {cause}"
        )
        logger.error("Database unavailable: %s", message)
        raise DatabaseUnavailable(f"Database unavailable: {message}") from exc


class DatabaseClient(client.DatabaseClient):
    """`manage.py dbshell`: psql reads the password from PGPASSWORD, so hand it the token."""

    @classmethod
    def settings_to_cmd_args_env(
        cls, settings_dict: dict[str, Any], parameters: Iterable[str]
    ) -> tuple[list[str], dict[str, str] | None]:
        if not settings_dict.get("PASSWORD"):
            settings_dict = {**settings_dict, "PASSWORD": entra_password(settings_dict)}
        return super().settings_to_cmd_args_env(settings_dict, parameters)


class DatabaseWrapper(base.DatabaseWrapper):
    client_class = DatabaseClient

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Whether the connection was kept from an earlier request and has not run a statement
        # in this one: the only time it can turn out to be gone without an error of ours.
        self.kept_connection_untested = False

    @property
    def uses_entra_token(self) -> bool:
        return not self.settings_dict.get("PASSWORD")

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        # A server that does not answer (a network black hole) fails the connection in seconds
        # rather than never (libpq's default); OPTIONS may say otherwise.
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        if self.uses_entra_token:
            params["password"] = entra_password(self.settings_dict)
        return params

    def is_usable(self) -> bool:
        """Whether a kept connection can serve the next request, without a round trip
        (Django's own check runs SELECT 1 before the first query of every request; what that
        costs: docs/azure.md). An idle connection has nothing to read: if its
        socket is readable, the server has ended it (a restart sends "terminating connection"
        and closes) and Django opens a new one."""
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.pgconn.status != psycopg.pq.ConnStatus.OK:
            return False
        # A transaction that an error aborted runs nothing until rolled back: Django's own
        # check (its SELECT 1 fails then) says unusable too, and its test cases rely on it.
        if connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close_if_health_check_failed(self) -> None:
        # Django calls this before each request's first statement; a connection still open
        # after it was kept from an earlier request (a new one is opened afterwards).
        # django-stubs 5.2 lacks the health-check attributes (Django 4.1).
        checked = self.health_check_enabled and not self.health_check_done  # type: ignore[attr-defined]
        self.kept_connection_untested = self.connection is not None and checked
        super().close_if_health_check_failed()
        if self.connection is None:
            self.kept_connection_untested = False

    def make_cursor(self, cursor: Any) -> utils.CursorWrapper:
        return CursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> utils.CursorDebugWrapper:
        return CursorDebugWrapper(cursor, self)  # Django's, which also logs COPY statements

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)
        except PoolTimeout:
            # Every pooled connection is in use: the pool's own error, as with Django's
            # backend, so callers and logs can tell a busy pool from a dead server.
            raise
        except psycopg.OperationalError as exc:
            # libpq's message spans lines ("... failed: Connection refused / Is the server
            # running ..."): keep all of it, on one line.
            cause = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            logger.error(
                "Database unavailable: cannot connect as %s: %s", _where(self.settings_dict), cause
            )
            raise DatabaseUnavailable(
                f"Database unavailable: cannot connect as {_where(self.settings_dict)}: {cause}"
            ) from exc

    @property
    def pool(self) -> Any:
        # Django builds the pool once with fixed connection kwargs; a token in them would go
        # stale. psycopg-pool >= 3.3 accepts a callable, called for each new connection.
        pool = super().pool  # type: ignore[misc]  # django-stubs 5.2 lacks Django 5.1's pool
        if pool is not None and self.uses_entra_token and not callable(pool.kwargs):
            pool.kwargs = FreshTokenKwargs(pool.kwargs, self.settings_dict)
        return pool


class _RetryFirstReadOnGoneConnection:
    """Runs a request's first statement on a kept connection again, once, on a new
    connection, if the old one turns out to be gone although its socket looked fine: a server
    that restarted or failed over without a goodbye reaching us (a host gone, a NAT or load
    balancer that forgot the connection) answers the first bytes sent with a reset. Django's
    health check (a SELECT 1 before every request) found this before the statement;
    `is_usable` reads the socket instead, so the statement finds it. Only a read outside a
    transaction, on a client-side cursor, is run again: the server may have run anything else
    before the connection broke. Around every execute_wrapper() a caller adds (they run again
    on a retry), which stay the caller's alone, as with Django's backend."""

    db: DatabaseWrapper
    cursor: Any

    def _execute_with_wrappers(
        self, sql: str, params: Any, many: bool, executor: Callable[..., Any]
    ) -> Any:
        db = self.db
        retry = (
            db.kept_connection_untested
            and not many
            and not db.in_atomic_block
            and not getattr(self.cursor, "name", None)  # not a server-side cursor
            and sql.lstrip()[:6].upper() == "SELECT"
        )
        db.kept_connection_untested = False
        run = super()._execute_with_wrappers  # type: ignore[misc]
        try:
            return run(sql, params, many, executor)
        except DjangoOperationalError as exc:
            connection = db.connection
            gone = connection is None or connection.closed or connection.broken
            if not (retry and gone):
                raise
            cause = " ".join(str(exc).split())
            logger.warning(
                "A kept database connection was gone (%s); running the request's first "
                "query again on a new one",
                cause,
            )
            db.close()
            db.ensure_connection()
            self.cursor = db.create_cursor()
            return run(sql, params, many, executor)


class CursorWrapper(_RetryFirstReadOnGoneConnection, utils.CursorWrapper):
    pass


class CursorDebugWrapper(_RetryFirstReadOnGoneConnection, base.CursorDebugWrapper):
    pass


class FreshTokenKwargs:
    """A pool's connection kwargs with a current token as the password. Everything else is
    what Django fixed when it built the pool, as its own backend does: a pool serves every
    thread, so it must not follow one connection object's settings, which tests and Django's
    parallel test runner change in place (a pool that did reached other databases)."""

    def __init__(self, kwargs: dict[str, Any], settings_dict: dict[str, Any]) -> None:
        self.kwargs = {name: value for name, value in kwargs.items() if name != "password"}
        self.settings_dict = dict(settings_dict)

    def __call__(self) -> dict[str, Any]:
        return {**self.kwargs, "password": entra_password(self.settings_dict)}
