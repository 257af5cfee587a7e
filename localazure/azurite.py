"""Azurite, Microsoft's storage emulator (npm), over HTTPS with OAuth, on a free port.

`--oauth basic` makes Azurite check bearer tokens' audience, issuer and times (not signatures),
which needs HTTPS; the certificate comes from a CA the tests make, trusted through
REQUESTS_CA_BUNDLE. Containers are made with tokens too: no account key is used anywhere.
"""

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken
from azure.storage.blob import BlobServiceClient

from localazure.identity import IdentityEndpoint
from localazure.services import free_port, loopback_certificate, wait_until

STORAGE_RESOURCE = "https://storage.azure.com"
ACCOUNT = "devstoreaccount1"


def find_azurite() -> str | None:
    return shutil.which("azurite-blob")


class EndpointTokenCredential:
    """The test's own admin credential: tokens minted by the test endpoint, no HTTP involved."""

    def __init__(self, endpoint: IdentityEndpoint) -> None:
        self.endpoint = endpoint

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token, expires_on = self.endpoint.mint(STORAGE_RESOURCE, "test-admin")
        return AccessToken(token, expires_on)


class Azurite:
    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.base = Path(tempfile.mkdtemp(prefix="rr-azurite-"))
        self.port = free_port()
        self.account_url = f"https://127.0.0.1:{self.port}/{ACCOUNT}"
        self.ca_file = loopback_certificate(self.base)
        self.process: subprocess.Popen | None = None

    def start(self) -> "Azurite":
        self.process = subprocess.Popen(
            [
                self.executable,
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--oauth",
                "basic",
                "--cert",
                str(self.base / "cert.pem"),
                "--key",
                str(self.base / "key.pem"),
                "--skipApiVersionCheck",
                "--inMemoryPersistence",
            ],
            stdout=(self.base / "azurite.log").open("wb"),
            stderr=subprocess.STDOUT,
            cwd=self.base,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.base / "azurite.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("Azurite did not start")

    def flush_log(self, endpoint: IdentityEndpoint) -> None:
        """Wait until Azurite's access log holds every request made so far: it writes the log
        in order but after answering, so a marker request's line means the ones before are in."""
        marker = f"log-marker-{uuid.uuid4().hex}"
        self.admin(endpoint).get_blob_client("photos", marker).exists()
        wait_until(lambda: self.requests_logged(marker) > 0, what="Azurite's access log")

    def requests_logged(self, text: str) -> int:
        """How many requests in Azurite's access log contain `text`."""
        log = self.base / "azurite.log"
        return log.read_text(errors="replace").count(text) if log.exists() else 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # in-memory data: nothing to flush
            self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def admin(self, endpoint: IdentityEndpoint) -> BlobServiceClient:
        return BlobServiceClient(
            self.account_url,
            credential=EndpointTokenCredential(endpoint),
            connection_verify=str(self.ca_file),
        )
