"""Helpers the tests share: test data, failure injection, and the Blob Storage test app.

Imported by test modules and by conftest.py (pytest advises against importing from conftest).
"""

import ast
import base64
import io
import json
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from localazure.azurite import STORAGE_RESOURCE, Azurite
from localazure.identity import IdentityEndpoint
from localazure.postgres import PostgresApp
from localazure.services import PROJECT_DIR

# The app's host name in Azure-mode tests (WEBSITE_HOSTNAME).
AZURE_HOST = "restaurant-review.azurewebsites.net"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip (laptop) or fail (CI: CI=true, where run-tests.sh installed everything and
    nothing may be skipped) a test whose real component is missing."""
    if in_ci():
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


T = TypeVar("T")


def within_one_window(window: Callable[[], object], attempt: Callable[[int], T]) -> T:
    """attempt(0); once more, attempt(1), if `window()` (which of the app's fixed time windows
    it is now: a limit's count, a SAS link's) changed meanwhile, as what the app answers
    across a window's end rightly differs. A window lasts far longer than an attempt."""
    before = window()
    result = attempt(0)
    return attempt(1) if window() != before else result


def azure_mode_settings(postgres_app: PostgresApp, azurite: Azurite) -> dict[str, str]:
    """The app settings App Service would have, pointed at the test PostgreSQL and Azurite;
    the managed identity is the test endpoint (a new private container, SAS links)."""
    container = f"photos-{uuid.uuid4().hex[:10]}"
    azurite.admin(postgres_app.endpoint).create_container(container)
    return {
        **postgres_app.env,
        "WEBSITE_HOSTNAME": AZURE_HOST,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AZURE_STORAGEBLOB_RESOURCEENDPOINT": azurite.account_url,
        "STORAGE_CONTAINER_NAME": container,
        "REQUESTS_CA_BUNDLE": str(azurite.ca_file),
    }


# Debian's Chromium, as root in a closed network: no sandbox, and no background calls home.
# The tests drive its headless shell (Debian's chromium-headless-shell: the same Blink and V8
# without the desktop browser around them), which needs less CPU for the same pages
# (docs/testing.md); Lighthouse (benchmarks/lighthouse.py) wants the full browser.
CHROMIUM = "/usr/bin/chromium"
HEADLESS_CHROMIUM = "/usr/bin/chromium-headless-shell"


def full_chromium() -> str:
    """The full browser, for what needs more than the tests do (Lighthouse); run-tests.sh
    installs only the headless shell, so a missing one says how to get it."""
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium")
    return CHROMIUM


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def image_bytes(
    image_format: str = "JPEG", *, size: tuple[int, int] = (64, 48), gps: bool = False
) -> bytes:
    """A real image; with gps=True it carries EXIF GPS coordinates and a camera model."""
    image = Image.new("RGB", size, (200, 30, 40))
    buffer = io.BytesIO()
    options: dict[str, Any] = {}
    if gps:
        exif = Image.Exif()
        exif[ExifTags.Base.Model] = "Test Camera"
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (47.0, 36.0, 22.0),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (122.0, 19.0, 55.0),
        }
        options["exif"] = exif
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@contextmanager
def review_insert_fails() -> Iterator[None]:
    """The database refuses to store a review (after any photo was uploaded)."""
    from django.db import OperationalError, connection

    def fail(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("INSERT") and "restaurant_review_review" in sql:
            raise OperationalError("database went away")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        yield


@dataclass
class BlobApp:
    """A container in Azurite and the identity endpoint the app's credential talks to."""

    azurite: Azurite
    endpoint: IdentityEndpoint
    container: str
    client_id: str
    url_mode: str

    @property
    def admin(self) -> Any:
        return self.azurite.admin(self.endpoint).get_container_client(self.container)

    def blob_names(self) -> list[str]:
        return sorted(blob.name for blob in self.admin.list_blobs())

    def storage_options(self, **overrides: Any) -> dict[str, Any]:
        return {
            "account_url": self.azurite.account_url,
            "container": self.container,
            "client_id": self.client_id,
            "url_mode": self.url_mode,
            "sas_minutes": 60,
            **overrides,
        }

    def token_calls(self) -> int:
        return len(self.endpoint.calls_for(STORAGE_RESOURCE))


class RecordingStorage(FileSystemStorage):
    """Photos on local disk, with every call that reads or writes them recorded in `calls`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, str]] = []

    def _save(self, name: str, content: Any) -> str:
        self.calls.append(("save", name))
        return super()._save(name, content)

    def _open(self, name: str, mode: str = "rb") -> Any:
        self.calls.append(("open", name))
        return super()._open(name, mode)

    def delete(self, name: str) -> None:
        self.calls.append(("delete", name))
        super().delete(name)


# The management form of a review's reports (read-only) on its admin change page.
NO_REPORTS_INLINE = {
    "reports-TOTAL_FORMS": "0",
    "reports-INITIAL_FORMS": "0",
    "reports-MIN_NUM_FORMS": "0",
    "reports-MAX_NUM_FORMS": "1000",
}


def easy_auth_headers(
    object_id: str, *, name: str = "Ada Admin", email: str = "ada@contoso.example", roles=()
) -> dict[str, str]:
    """What App Service's front end adds for a user signed in with Microsoft Entra ID:
    X-MS-CLIENT-PRINCIPAL (base64 JSON of the token's claims, with name_typ and role_typ)
    and the -ID, -NAME and -IDP headers."""
    claims = [
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": object_id},
        {"typ": "name", "val": name},
        {"typ": "preferred_username", "val": email},
        *({"typ": "roles", "val": role} for role in roles),
    ]
    principal = {
        "auth_typ": "aad",
        "claims": claims,
        "name_typ": "name",
        "role_typ": "roles",
    }
    return {
        "HTTP_X_MS_CLIENT_PRINCIPAL": base64.b64encode(json.dumps(principal).encode()).decode(),
        "HTTP_X_MS_CLIENT_PRINCIPAL_ID": object_id,
        "HTTP_X_MS_CLIENT_PRINCIPAL_NAME": email,
        "HTTP_X_MS_CLIENT_PRINCIPAL_IDP": "aad",
    }


def gunicorn_setting(name: str) -> object:
    """A plain assignment in gunicorn.conf.py, read without running the file (it sets glibc
    options as it loads)."""
    tree = ast.parse((PROJECT_DIR / "gunicorn.conf.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [
            t.id for t in node.targets if isinstance(t, ast.Name)
        ] == [name]:
            return ast.literal_eval(node.value)
    raise LookupError(name)
