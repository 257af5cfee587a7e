"""A real PostgreSQL server for the tests: SSL on, scram-sha-256 for TCP, on a free port.

`initdb` refuses to run as root, so as root the server runs as the `postgres` user.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import trustme
from psycopg import sql

from azureproject.postgresql.base import TOKEN_SCOPE
from localazure.identity import IdentityEndpoint
from localazure.services import PROJECT_DIR, free_port, migrate_template, unavailable

# The resource the identity endpoint is asked for, for database tokens.
POSTGRES_RESOURCE = TOKEN_SCOPE.removesuffix("/.default")

ADMIN_PASSWORD = "test-admin-" + uuid.uuid4().hex  # made per run, never stored


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for directory in reversed(candidates):
        if Path(directory, "pg_ctl").exists() and Path(directory, "postgres").exists():
            return Path(directory)
    pg_ctl = shutil.which("pg_ctl")
    return Path(os.path.realpath(pg_ctl)).parent if pg_ctl else None


def usable_bindir() -> Path:
    """The server binaries, and a user to run them as: or the test skips (fails in CI)."""
    bindir = find_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root needs the 'postgres' user to run the server")
    assert bindir is not None
    return bindir


class PostgresServer:
    """`max_connections` as Azure's tiers set it (B1ms: 50, of which Azure keeps 15, here
    `reserved`): the app's roles may hold max_connections - reserved."""

    def __init__(self, bindir: Path, *, max_connections: int = 200, reserved: int = 3) -> None:
        self.bindir = bindir
        self.max_connections = max_connections
        self.reserved = reserved
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="rr-postgres-"))
        self.data = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.base)

    def start(self) -> "PostgresServer":
        self.socket_dir.mkdir()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(self.base / "server.key"))
        cert.cert_chain_pems[0].write_to_path(str(self.base / "server.crt"))
        ca.cert_pem.write_to_path(str(self.base / "ca.crt"))
        os.chmod(self.base / "server.key", 0o600)
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            for path in [
                self.base,
                self.socket_dir,
                self.base / "server.key",
                self.base / "server.crt",
            ]:
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                f"ssl = on\nssl_cert_file = '{self.base / 'server.crt'}'\n"
                f"ssl_key_file = '{self.base / 'server.key'}'\n"
                "password_encryption = 'scram-sha-256'\n"
                f"max_connections = {self.max_connections}\n"
                f"superuser_reserved_connections = {self.reserved}\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        # TCP only over TLS with a password; no plain-text TCP at all. Local socket for the admin.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all 127.0.0.1/32 reject\n"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "start"
        )
        self.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(ADMIN_PASSWORD)))
        return self

    def restart(self) -> None:
        """Stop and start again, data kept: every connection drops, as in a failover. A fast
        shutdown (not an immediate one, a crash): this test server runs with
        synchronous_commit off for speed, so a crash would lose commits Azure's would keep."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.base / "server.log"),
            "-m",
            "fast",
            "-w",
            "restart",
        )

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
        )

    def execute(self, query: sql.Composable | str, dbname: str = "postgres") -> list[tuple]:
        with self.admin(dbname) as conn:
            cursor = conn.execute(query)
            return cursor.fetchall() if cursor.description else []

    def create_identity_database(
        self, *, template: tuple[str, str] | None = None
    ) -> tuple[str, str]:
        """A database owned by the admin and a login role for the app's identity, with no rights
        on schema public: PostgreSQL 15's default, as on Azure before the grant. With
        `template` (a database and the role that owns its tables), a copy of that database,
        its tables handed to the new role."""
        suffix = uuid.uuid4().hex[:10]
        database, role = f"restaurants_{suffix}", f"identity_{suffix}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
        if template is not None:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template[0]))
        self.execute(create)
        self.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        if template is not None:
            reassign = sql.SQL("REASSIGN OWNED BY {} TO {}")
            self.execute(reassign.format(*map(sql.Identifier, (template[1], role))), database)
        return database, role

    def grant_schema(self, database: str, role: str, *, extensions: bool = True) -> None:
        """What `manage.py grant_identity_access` runs as the administrator; without
        `extensions`, the schema grant alone (pg_trgm neither there nor creatable)."""
        from azureproject.management.commands.grant_identity_access import grant_sql

        for statement in grant_sql(role):
            if extensions or "EXTENSION" not in statement.as_string(None):
                self.execute(statement, database)

    def set_password(self, role: str, password: str) -> None:
        self.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )

    def ssl_connections_of(self, role: str) -> list[bool]:
        return [
            row[0]
            for row in self.execute(
                sql.SQL(
                    "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                    "WHERE a.usename = {}"
                ).format(sql.Literal(role))
            )
        ]


@dataclass
class PostgresApp:
    """A database and a role for the app's managed identity, whose password is whatever token
    the identity endpoint last handed out for Azure Database for PostgreSQL (shared by the
    tests and the benchmark)."""

    server: PostgresServer
    database: str
    role: str
    client_id: str
    endpoint: IdentityEndpoint

    @property
    def env(self) -> dict[str, str]:
        return {
            "DBHOST": "127.0.0.1",
            "DBPORT": str(self.server.port),
            "DBNAME": self.database,
            "DBUSER": self.role,
            "DBSSLMODE": "require",
            "AZURE_CLIENT_ID": self.client_id,
            **self.endpoint.env,
        }

    def token_calls(self) -> int:
        return len(self.endpoint.calls_for(POSTGRES_RESOURCE))

    def settings_dict(self, **overrides: Any) -> dict[str, Any]:
        from azureproject.config import database_settings

        settings = database_settings(self.env, base_dir=PROJECT_DIR, azure=False)
        return {**settings, **overrides}


def make_postgres_app(
    server: PostgresServer,
    *,
    grant: bool = True,
    extensions: bool = True,
    lifetime: float = 3600,
    migrated: bool = False,
) -> PostgresApp:
    """A database and an identity for the app; `migrated`: the database a copy of one the app's
    migrations ran on once for this server (its tables the new identity's), as after a deploy."""
    template = migrated_template(server) if migrated else None
    database, role = server.create_identity_database(template=template)
    if grant:
        server.grant_schema(database, role, extensions=extensions)

    def set_role_password(resource: str, token: str, client_id: str | None) -> None:
        if resource.rstrip("/") == POSTGRES_RESOURCE:
            server.set_password(role, token)

    client_id = f"app-client-{uuid.uuid4().hex[:8]}"
    endpoint = IdentityEndpoint(
        client_ids={client_id}, lifetime=lifetime, on_token=set_role_password
    )
    return PostgresApp(server, database, role, client_id, endpoint.start())


_templates: dict[int, tuple[str, str]] = {}
_templates_lock = threading.Lock()


def migrated_template(server: PostgresServer) -> tuple[str, str]:
    """A database the app's migrations ran on (through its own token login), made once per
    server, and the role that owns its tables: a template no one connects to again."""
    with _templates_lock:
        if server.port not in _templates:
            app = make_postgres_app(server)
            try:
                migrate_template(app.env)
            finally:
                app.endpoint.stop()
            server.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                    sql.Identifier(app.database)
                )
            )
            _templates[server.port] = (app.database, app.role)
        return _templates[server.port]


class ConnectionWatch:
    """The most server connections `role` held (PgBouncer's on its behalf included) while
    the block ran, sampled every 20 ms."""

    def __init__(self, server: PostgresServer, role: str) -> None:
        self.server, self.role = server, role
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        query = sql.SQL("SELECT count(*) FROM pg_stat_activity WHERE usename = {}").format(
            sql.Literal(self.role)
        )
        with self.server.admin() as admin:
            while not self._stop.wait(0.02):
                self.most = max(self.most, admin.execute(query).fetchone()[0])  # type: ignore[index]

    def __enter__(self) -> "ConnectionWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
