"""A real Redis server (Debian's redis-server) standing in for Azure Redis with Entra ID.

TLS only, with a certificate from a CA the tests make (trusted by the app through
SSL_CERT_FILE); no default user. An identity's ACL user is named by its object id, as Azure
names it, and its only password is the newest token the test identity endpoint handed out
for https://redis.azure.com (`on_token`): a stale token is refused, like an expired one on
Azure. The tests administer it as `admin` over a Unix socket.
"""

import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import redis

from azureproject.cache import REDIS_SCOPE
from localazure.identity import IdentityEndpoint
from localazure.services import free_port, loopback_certificate, wait_until

REDIS_RESOURCE = REDIS_SCOPE.removesuffix("/.default")


def find_redis_server() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


class RedisServer:
    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.base = Path(tempfile.mkdtemp(prefix="rr-redis-"))
        self.port = free_port()
        self.socket = self.base / "redis.sock"
        self.admin_password = secrets.token_urlsafe(24)  # made per run, never stored
        self.ca_file = loopback_certificate(self.base)
        self.process: subprocess.Popen | None = None
        self._passwords: dict[str, str] = {}  # user: newest token, restored after a restart

    def start(self) -> "RedisServer":
        config = self.base / "redis.conf"
        config.write_text(
            "port 0\n"
            f"tls-port {self.port}\nbind 127.0.0.1\n"
            f"tls-cert-file {self.base / 'cert.pem'}\ntls-key-file {self.base / 'key.pem'}\n"
            f"tls-ca-cert-file {self.ca_file}\ntls-auth-clients no\n"
            f"unixsocket {self.socket}\nunixsocketperm 700\n"
            f'dir {self.base}\nsave ""\nappendonly no\n'
            "user default off\n"
            f"user admin on >{self.admin_password} ~* &* +@all\n"
        )
        self.process = subprocess.Popen(
            [self.executable, str(config)],
            stdout=(self.base / "server.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, what="redis-server answering", timeout=20)
        for user, token in self._passwords.items():
            self._set_password(user, token)
        return self

    def _answers(self) -> bool:
        try:
            return bool(self.admin().ping())
        except redis.RedisError:
            return False

    def admin(self) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket), username="admin", password=self.admin_password
        )

    def url(self) -> str:
        return f"rediss://localhost:{self.port}/0"

    def hook(self, endpoint: IdentityEndpoint) -> None:
        """Make each Redis token `endpoint` mints the only password of its identity's user,
        keeping whatever else it does with tokens."""
        earlier = endpoint.on_token

        def on_token(resource: str, token: str, client_id: str | None) -> None:
            if earlier is not None:
                earlier(resource, token, client_id)
            if resource.rstrip("/") == REDIS_RESOURCE:
                user = endpoint.object_id(client_id)
                self._passwords[user] = token
                self._set_password(user, token)

        endpoint.on_token = on_token

    def _set_password(self, user: str, token: str) -> None:
        self.admin().acl_setuser(
            user, enabled=True, reset_passwords=True, passwords=[f"+{token}"],
            keys=["*"], channels=["*"], commands=["+@all"],
        )  # fmt: skip

    def auth_calls(self) -> int:
        """How many AUTH commands the server has run (logins and re-authentications)."""
        stats: dict[str, Any] = self.admin().info("commandstats")
        return int(stats.get("cmdstat_auth", {}).get("calls", 0))

    def clients_of(self, user: str) -> list[dict[str, Any]]:
        return [c for c in self.admin().client_list() if c.get("user") == user]

    def freeze(self) -> None:
        """Stop answering, like a network black hole, until thaw()."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        """Stop and start again on the same port, users kept: every connection drops, as in a
        failover."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        """The app settings that point the app at this server."""
        return {
            "REDIS_HOST": "localhost",
            "REDIS_PORT": str(self.port),
            "SSL_CERT_FILE": str(self.ca_file),
        }
