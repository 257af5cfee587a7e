"""Review photos in Azure Blob Storage, through the process-wide managed-identity credential.

A small Django `Storage` over azure-storage-blob (django-storages 1.14.6 cannot take an account
URL, which Azurite and other clouds need, and has had no release since 2025-04). No account key
and no connection string: every request carries an Entra token, and photo links are either
user-delegation SAS URLs (signed with a key obtained through the same identity, so they work on a
private container) or plain blob URLs for a public container.
"""

import logging
import mimetypes
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    UserDelegationKey,
    generate_blob_sas,
)
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from azureproject.credential import auth_error_cause, get_credential
from azureproject.errors import StorageUnavailable

logger = logging.getLogger(__name__)

# After Storage failed to give a delegation key, pages use plain links for this long rather than
# asking again for every photo on the page.
KEY_RETRY_SECONDS = 30
# Photo links and delegation keys start this much before their window, for clocks that differ.
CLOCK_SKEW = timedelta(minutes=15)
# A user-delegation key serves a window this long (or two SAS lifetimes, if longer), and is
# valid for two (Storage allows at most 7 days).
KEY_WINDOW = timedelta(days=1)

# A user posting a review waits for these: a few quick retries, then a clear message, rather
# than the SDK's default of 10 retries starting at 15 s.
RETRY_OPTIONS: dict[str, Any] = {
    # One retry, after 1-1.4 s (the SDK's backoff is initial_backoff + increment_base ** 1,
    # plus jitter: its defaults would wait 15 s or more).
    "retry_total": 1,
    "initial_backoff": 0.2,
    "increment_base": 1,
    "random_jitter_range": 0.2,
    # Seconds without progress (to connect, to send, to read) before an attempt gives up: a
    # frozen Storage costs a request about 5 s, never App Service's 230-s front-end limit.
    "connection_timeout": 2,
    "read_timeout": 2,
}


def _window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the `window`-long period `now` is in, counted from the Unix epoch."""
    seconds = window.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, UTC)


def content_type_for(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _cause(exc: BaseException) -> str:
    error_code = getattr(exc, "error_code", None)
    text = auth_error_cause(exc)
    return f"{error_code}: {text}" if error_code and str(error_code) not in text else text


@deconstructible
class AzureBlobPhotoStorage(Storage):
    def __init__(
        self,
        *,
        account_url: str,
        container: str,
        client_id: str | None = None,
        url_mode: str = "sas",
        sas_minutes: int = 60,
    ) -> None:
        self.account_url = account_url.rstrip("/")
        self.container = container
        self.client_id = client_id
        self.url_mode = url_mode
        self.sas_lifetime = timedelta(minutes=sas_minutes)
        self._key_lock = threading.Lock()
        self._key: UserDelegationKey | None = None
        self._key_window: datetime | None = None
        self._key_failed_at = 0.0
        self._checked: tuple[float, tuple[bool, str]] | None = None

    # Clients

    @cached_property
    def service(self) -> BlobServiceClient:
        """One client per storage, and Django keeps one storage per alias: connections and the
        credential's token cache serve every request of the process."""
        return BlobServiceClient(
            self.account_url, credential=get_credential(client_id=self.client_id), **RETRY_OPTIONS
        )

    @property
    def container_client(self) -> Any:
        return self.service.get_container_client(self.container)

    def describe(self) -> str:
        identity = get_credential(client_id=self.client_id).describe()
        return f"container {self.container!r} at {self.account_url} with {identity}"

    def _unavailable(self, action: str, exc: BaseException) -> StorageUnavailable:
        message = (
            f"Photo storage unavailable: could not {action} in {self.describe()}: {_cause(exc)}"
        )
        logger.error("%s", message)
        return StorageUnavailable(message)

    # Django Storage API

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # Names are random (restaurant_review.models.review_photo_path): no existence check,
        # which would cost a request per upload. _save refuses to overwrite all the same.
        if max_length is not None and len(name) > max_length:
            raise SuspiciousFileOperation(
                f"The photo name {name!r} is longer than the field allows ({max_length})."
            )
        return name

    def _save(self, name: str, content: File) -> str:
        content.seek(0)
        content_settings = ContentSettings(
            content_type=content_type_for(name), cache_control=settings.PHOTO_CACHE_CONTROL
        )
        try:
            self.container_client.upload_blob(
                name, content, overwrite=False, content_settings=content_settings
            )
        except ResourceExistsError:
            # Names are random, so this is a caller's mistake, never a collision to retry.
            raise FileExistsError(f"photo {name} exists already and is never overwritten") from None
        except AzureError as exc:
            raise self._unavailable(f"upload {name}", exc) from exc
        return name

    def _open(self, name: str, mode: str = "rb") -> File:
        if "w" in mode or "a" in mode:
            raise ValueError("photos are written with save(), not opened for writing")
        try:
            data = self.container_client.download_blob(name).readall()
        except ResourceNotFoundError:
            raise FileNotFoundError(name) from None
        except AzureError as exc:
            raise self._unavailable(f"download {name}", exc) from exc
        return ContentFile(data, name=name)

    def delete(self, name: str) -> None:
        try:
            self.container_client.delete_blob(name)
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            raise self._unavailable(f"delete {name}", exc) from exc

    def exists(self, name: str) -> bool:
        try:
            return self.container_client.get_blob_client(name).exists()
        except AzureError as exc:
            raise self._unavailable(f"look up {name}", exc) from exc

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        directories: set[str] = set()
        files: list[str] = []
        try:
            for blob in self.container_client.list_blobs(name_starts_with=prefix):
                rest = blob.name[len(prefix) :]
                if "/" in rest:
                    directories.add(rest.split("/", 1)[0])
                else:
                    files.append(rest)
        except AzureError as exc:
            raise self._unavailable(f"list {prefix or '/'}", exc) from exc
        return sorted(directories), files

    def _properties(self, name: str) -> Any:
        try:
            return self.container_client.get_blob_client(name).get_blob_properties()
        except ResourceNotFoundError:
            raise FileNotFoundError(name) from None
        except AzureError as exc:
            raise self._unavailable(f"look up {name}", exc) from exc

    def get_modified_time(self, name: str) -> datetime:
        return self._properties(name).last_modified

    def size(self, name: str) -> int:
        return self._properties(name).size

    def url(self, name: str | None) -> str:
        """A link to the photo. In `sas` mode it is the same, byte for byte, for every page
        view, worker and instance during a window of `sas_lifetime` (start and expiry rounded
        to the window, the delegation key chosen by its own rounded window), so browsers and
        CDNs can cache the photo; each link is valid for at most two windows."""
        blob_url = f"{self.account_url}/{quote(self.container)}/{quote(name or '', safe='/')}"
        if self.url_mode == "public":
            return blob_url
        now = datetime.now(UTC)
        window_start = _window_start(now, self.sas_lifetime)
        key = self._delegation_key(now)
        if key is None:
            return blob_url  # Works on a public container; the page renders either way.
        sas = generate_blob_sas(
            account_name=self.service.account_name or "",
            container_name=self.container,
            blob_name=name or "",
            user_delegation_key=key,
            permission=BlobSasPermissions(read=True),
            expiry=window_start + 2 * self.sas_lifetime,
            start=window_start - CLOCK_SKEW,
            protocol="https",
        )
        return f"{blob_url}?{sas}"

    def url_version(self) -> str:
        """What the links url() hands out now depend on besides the name (for caches of pages
        that carry them): the SAS window, or `plain` while no delegation key can be had."""
        if self.url_mode == "public":
            return "public"
        now = datetime.now(UTC)
        if self._delegation_key(now) is None:
            return "plain"
        return f"sas-{int(_window_start(now, self.sas_lifetime).timestamp())}"

    def _delegation_key(self, now: datetime) -> UserDelegationKey | None:
        """The user-delegation key of the key window `now` is in. Every process asks Storage
        for the same start and expiry in a window, and so is given the same key."""
        window = max(KEY_WINDOW, 2 * self.sas_lifetime)
        window_start = _window_start(now, window)
        with self._key_lock:
            if self._key is not None and self._key_window == window_start:
                return self._key
            if self._key_failed_at and time.monotonic() - self._key_failed_at < KEY_RETRY_SECONDS:
                return None
            try:
                # Valid past the window's end by a whole window: it outlasts every link
                # signed during the window (each expires two SAS lifetimes after it starts).
                self._key = self.service.get_user_delegation_key(
                    key_start_time=window_start - CLOCK_SKEW,
                    key_expiry_time=window_start + 2 * window,
                )
            except AzureError as exc:
                self._key_failed_at = time.monotonic()
                logger.error(
                    "No user-delegation key for photo links (%s): %s; using plain blob URLs for "
                    "%s s",
                    self.describe(),
                    _cause(exc),
                    KEY_RETRY_SECONDS,
                )
                return None
            self._key_window = window_start
            self._key_failed_at = 0.0
            return self._key

    # Health

    def check(self, *, max_age: float = 0) -> tuple[bool, str]:
        """Whether the container exists and the identity may use it, with a sentence saying so;
        a result at most `max_age` seconds old is answered again without asking Storage."""
        now = time.monotonic()
        if self._checked is None or now - self._checked[0] > max_age:
            self._checked = (now, self._check())
        return self._checked[1]

    def _check(self) -> tuple[bool, str]:
        try:
            self.container_client.get_container_properties()
        except ResourceNotFoundError:
            return False, f"container {self.container!r} does not exist at {self.account_url}"
        except AzureError as exc:
            status = getattr(exc, "status_code", None)
            if status == 403:
                return False, (
                    f"the identity lacks rights on {self.describe()} "
                    f"(it needs the Storage Blob Data Contributor role): {_cause(exc)}"
                )
            return False, f"cannot reach {self.describe()}: {_cause(exc)}"
        return True, f"{self.describe()} is reachable"
