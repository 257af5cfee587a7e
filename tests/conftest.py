"""Shared fixtures. The real components (the localazure package) are wired up here; a test
whose component this machine lacks (localazure's ComponentMissing) skips on a laptop and fails
in CI (CI=true), where they are required."""

import io
import logging
import shutil
import subprocess
import tempfile
import time
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from PIL import ExifTags, Image

from azureproject.credential import reset_credentials
from localazure.azurite import Azurite, find_azurite
from localazure.identity import IdentityEndpoint
from localazure.postgres import PostgresApp, PostgresServer, make_postgres_app, usable_bindir
from localazure.redis_server import RedisServer, find_redis_server
from localazure.services import PROJECT_DIR, ComponentMissing, base_env
from restaurant_review.models import Restaurant, Review
from tests.file_order import DurationRecorder, longest_first
from tests.helpers import (
    CHROMIUM_ARGS,
    HEADLESS_CHROMIUM,
    BlobApp,
    azure_mode_settings,
    image_bytes,
    unavailable,
)

# Tests that start processes (the app, servers, browsers, scripts): `-m "not slow"` skips them.
SLOW_MODULES = {
    "test_start",
    "test_e2e",
    "test_design",
    "test_deploy",
    "test_production",
    "test_credential",
    "test_faults",
    "test_scale_out",
}
REAL_COMPONENTS = {"postgres_server", "azurite", "redis_server"}


def _missing_component_is_unavailable() -> Iterator[None]:
    """A test phase (fixtures or the test itself) that meets localazure's ComponentMissing:
    skipped on a laptop, failed in CI."""
    try:
        return (yield)
    except ComponentMissing as missing:
        unavailable(str(missing))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _missing_component_is_unavailable())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _missing_component_is_unavailable())


def pytest_configure(config: pytest.Config) -> None:
    """What each test file takes is recorded (tests/file_order.py), in the main process.
    Static files collected once per run, before any test starts a server (in the main
    process, not in each xdist worker): gunicorn started alone reads staticfiles/ as it boots,
    and a start.sh collecting there meanwhile would delete files from under it."""
    if hasattr(config, "workerinput"):
        return
    config.pluginmanager.register(DurationRecorder(), "file-durations")
    if config.getoption("markexpr") == "not slow":
        return
    collected = subprocess.run(
        ["bash", str(PROJECT_DIR / "scripts" / "collect-static.sh")],
        env=base_env(),
        capture_output=True,
        text=True,
    )
    if collected.returncode != 0:
        raise pytest.UsageError(f"collectstatic failed:\n{collected.stderr}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    longest_first(items)
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES or fixtures & REAL_COMPONENTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_in_one_folder() -> Iterator[None]:
    """Temporary files, of the tests and of everything they start (the emulators' data and
    TLS files, the telemetry exporter's unsent batches, Chromium's profiles), go to one folder
    per test process, removed when it ends, rather than to /tmp for good."""
    folder = Path(tempfile.mkdtemp(prefix="rr-tests-"))
    folder.chmod(0o1777)  # as /tmp: PostgreSQL, run as its own user, makes its folder here
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(folder))
        patch.setattr(tempfile, "tempdir", None)  # this process's next temp file looks again
        yield
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _media_and_static(settings: Any, tmp_path: Path) -> None:
    """Photos go to a temp dir. Static files are served from static/ through the finders,
    without a collected manifest, and never from staticfiles/: a server that another test
    process starts (start.sh) may be collecting there, and the manifest storage deletes its
    intermediate files as it goes. Each file is looked up as it is asked for (WhiteNoise's
    autorefresh, as under runserver), not every file listed anew each time a test's client
    loads the middleware."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(settings.MEDIA_ROOT)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """In this process, a quick hasher, as Django's documentation suggests for tests: the
    production one (PBKDF2, a million rounds) costs half a second per sign-in here, also for
    an unknown username. Servers the tests start keep the production hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _limits_clock_mid_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The posting limits and the sign-in throttle count in fixed windows (10 and 15 minutes,
    an hour, a day): posts straddling a window's end would start a new count, and a test
    expecting the sixth post refused would see it accepted. In this process their clock
    starts each test at 12:05 UTC of today, five minutes or more from every window's end, and
    runs on from there."""
    from azureproject.serving import login_throttle
    from restaurant_review import limits

    real, now = time.time, time.time()
    offset = now // 86_400 * 86_400 + 12 * 3600 + 5 * 60 - now
    clock = types.SimpleNamespace(time=lambda: real() + offset)
    monkeypatch.setattr(limits, "time", clock)
    monkeypatch.setattr(login_throttle, "time", clock)


@pytest.fixture(autouse=True)
def _empty_caches() -> Iterator[None]:
    """Each test's database starts over (ids and versions again from 1): so do the caches."""
    for cache in caches.all():
        cache.clear()
    yield
    for cache in caches.all():
        cache.clear()


@pytest.fixture
def stdout_log() -> Iterator[Callable[[], list[str]]]:
    """The lines the app's stdout log handler writes during the test, formatted as it formats
    them (the handler holds the stream it was given when logging was configured)."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "stdout")
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: buffer.getvalue().splitlines()
    finally:
        handler.setStream(previous)


@pytest.fixture
def make_restaurant(db: None) -> Callable[..., Restaurant]:
    def make(**overrides: Any) -> Restaurant:
        fields = {"name": "Café Olé", "street_address": "1 Main St", "description": "Cosy."}
        return Restaurant.objects.create(**{**fields, **overrides})

    return make


@pytest.fixture
def make_review(db: None, make_restaurant: Callable[..., Restaurant]) -> Callable[..., Review]:
    def make(**overrides: Any) -> Review:
        if "restaurant" not in overrides:
            overrides["restaurant"] = make_restaurant()
        fields = {"user_name": "Ana", "rating": 4, "review_text": "Lovely soup."}
        return Review.objects.create(**{**fields, **overrides})

    return make


@pytest.fixture
def jpeg_with_gps() -> bytes:
    data = image_bytes("JPEG", gps=True)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


@pytest.fixture
def review_data() -> dict[str, Any]:
    return {"user_name": "Ana", "rating": "5", "review_text": "Best dumplings in town."}


@pytest.fixture
def media_files(settings: Any) -> Callable[[], list[Path]]:
    """Lists the photo files stored on local disk."""

    def files() -> list[Path]:
        root = Path(settings.MEDIA_ROOT)
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    return files


# Real PostgreSQL and the managed-identity endpoint (localazure/postgres.py, identity.py)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = usable_bindir()
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture
def postgres_app(postgres_server: PostgresServer) -> Iterator[PostgresApp]:
    app = make_postgres_app(postgres_server)
    yield app
    app.endpoint.stop()


@pytest.fixture
def migrated_postgres_app(postgres_server: PostgresServer) -> Iterator[PostgresApp]:
    """As postgres_app, with the app's tables already made (a copy of a database migrated
    once per server): for tests of what comes after migrate."""
    app = make_postgres_app(postgres_server, migrated=True)
    yield app
    app.endpoint.stop()


@pytest.fixture
def identity_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[IdentityEndpoint], None]]:
    """Point this process's credential at a test endpoint, with a fresh credential cache."""

    def use(endpoint: IdentityEndpoint) -> None:
        for name, value in endpoint.env.items():
            monkeypatch.setenv(name, value)
        reset_credentials()

    yield use
    reset_credentials()


# Chromium, driven by Playwright (browser tests)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API runs an event loop in this thread while it lives,
    and Django refuses database calls from a thread with a running loop."""
    executable = (
        HEADLESS_CHROMIUM
        if Path(HEADLESS_CHROMIUM).exists()
        else shutil.which("chromium-headless-shell")
    )
    if not executable:
        unavailable(
            "Chromium's headless shell not found (Debian: apt-get install chromium-headless-shell)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# Azurite (localazure/azurite.py) and Blob Storage settings for the app


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    executable = find_azurite()
    if executable is None:
        unavailable("Azurite not found (npm install -g azurite@3.37.0)")
    server = Azurite(executable).start()
    yield server
    server.cleanup()


@pytest.fixture(params=["sas"])
def blob_app(
    request: Any,
    azurite: Azurite,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    identity_in_process: Callable[[IdentityEndpoint], None],
) -> Iterator[BlobApp]:
    """Photos go to a fresh container in Azurite, through the app's real storage and the real
    DefaultAzureCredential. `sas` (default): a private container; `public`: public blob access."""
    url_mode = request.param
    client_id = f"app-client-{uuid.uuid4().hex[:8]}"
    endpoint = IdentityEndpoint(client_ids={client_id}).start()
    app = BlobApp(azurite, endpoint, f"photos-{uuid.uuid4().hex[:10]}", client_id, url_mode)
    app.azurite.admin(endpoint).create_container(
        app.container, public_access="blob" if url_mode == "public" else None
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite.ca_file))
    identity_in_process(endpoint)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "azureproject.storage.AzureBlobPhotoStorage",
            "OPTIONS": app.storage_options(),
        },
    }
    yield app
    endpoint.stop()


# Azure mode: WEBSITE_HOSTNAME set, PostgreSQL and Azurite behind one identity endpoint


@pytest.fixture
def azure_mode_env(postgres_app: PostgresApp, azurite: Azurite) -> dict[str, str]:
    """The app settings App Service would have (tests.helpers.azure_mode_settings)."""
    return azure_mode_settings(postgres_app, azurite)


@pytest.fixture
def migrated_azure_mode_env(migrated_postgres_app: PostgresApp, azurite: Azurite) -> dict[str, str]:
    """azure_mode_env on a database already migrated."""
    return azure_mode_settings(migrated_postgres_app, azurite)


# Redis standing in for Azure Redis with Entra ID (localazure/redis_server.py)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    executable = find_redis_server()
    if executable is None:
        unavailable("redis-server not found (Debian: apt-get install redis-server)")
    server = RedisServer(executable).start()
    yield server
    server.cleanup()
