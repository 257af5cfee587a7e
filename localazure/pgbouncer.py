"""A real PgBouncer (Debian's package) in front of the tests' PostgreSQL, as Azure Database
for PostgreSQL Flexible Server runs its built-in one: transaction pooling, TLS to the clients
and to the server, and Microsoft Entra tokens passed through.

How a token gets through: the app sends its token as the password (SCRAM); PgBouncer reads the
role's current SCRAM secret from the server (`auth_query`, as the administrator), checks the
client's proof against it, then logs in to the server with the keys the client proved it has
(SCRAM pass-through). The server's password is whatever token the identity endpoint handed
out last (localazure/postgres.py), so a token is accepted by PgBouncer exactly when the server
itself would accept it. What it does not emulate: Azure's own token validation inside its
PgBouncer, and its metrics.

PgBouncer refuses to run as root, so as root it runs as the `postgres` user, as the server does.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from localazure.postgres import ADMIN_PASSWORD, PostgresServer
from localazure.services import free_port, loopback_certificate, stop_process_group


def find_pgbouncer() -> Path | None:
    for candidate in (shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


class PgBouncer:
    """PgBouncer on a free loopback port, in front of `server`. `pool_size` server connections
    at most for each database and role (Azure's pgbouncer.default_pool_size, 50 there)."""

    def __init__(self, binary: Path, server: PostgresServer, *, pool_size: int = 10) -> None:
        self.binary = binary
        self.server = server
        self.pool_size = pool_size
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="rr-pgbouncer-"))
        self.process: subprocess.Popen | None = None

    def start(self) -> "PgBouncer":
        loopback_certificate(self.base)
        # The administrator's password, for auth_query's own login: made per run, in a file
        # only the bouncer's user reads.
        (self.base / "userlist.txt").write_text(f'"postgres" "{ADMIN_PASSWORD}"\n')
        (self.base / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.server.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"logfile = {self.base / 'pgbouncer.log'}\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {self.base / 'userlist.txt'}\n"
            "auth_user = postgres\n"
            "auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename = $1\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 5000\n"
            # What Azure's built-in PgBouncer ignores by default; anything else unknown in a
            # client's startup packet is refused, as there.
            "ignore_startup_parameters = extra_float_digits\n"
            "client_tls_sslmode = require\n"
            f"client_tls_cert_file = {self.base / 'cert.pem'}\n"
            f"client_tls_key_file = {self.base / 'key.pem'}\n"
            "server_tls_sslmode = require\n"
            "admin_users = postgres\n"
        )
        os.chmod(self.base / "userlist.txt", 0o600)
        os.chmod(self.base / "key.pem", 0o600)
        command = [str(self.binary), str(self.base / "pgbouncer.ini")]
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in [self.base, *self.base.iterdir()]:
                os.chown(path, user.pw_uid, user.pw_gid)
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_until_listening()
        return self

    def _wait_until_listening(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited:\n{self.log()}")
            try:
                psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    dbname="pgbouncer",
                    user="postgres",
                    password=ADMIN_PASSWORD,
                    sslmode="require",
                    connect_timeout=2,
                    autocommit=True,
                ).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not answer:\n{self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        path = self.base / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        try:
            stop_process_group(self.process, timeout=10)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
