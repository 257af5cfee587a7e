"""Application Insights over Microsoft Entra ID: the real Azure Monitor OpenTelemetry distro in
the app, sending to an emulated ingestion endpoint (localazure/ingestion.py) that takes only tokens
for https://monitor.azure.com from the test identity endpoint; and the Key Vault reference
App Service could not resolve."""

import re
import tempfile
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from azureproject.telemetry import REDACTED, scrub, scrub_attributes
from localazure.ingestion import IngestionEndpoint
from localazure.postgres import PostgresApp
from localazure.services import (
    AppServer,
    base_env,
    http_request,
    manage,
    post_form,
    shell_output,
    wait_until,
)
from tests.helpers import AZURE_HOST, image_bytes

HTTPS = {"Host": AZURE_HOST, "X-Forwarded-Proto": "https"}
# A JWT-shaped value and a SAS signature a client might put in a URL.
FAKE_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdXNlciJ9.c2lnbmF0dXJlLXZhbHVl"
FAKE_SIG = "SecretSignatureValue0123456789abcdef%3D"


def test_scrub_masks_signatures_tokens_and_secret_parameters() -> None:
    url = f"https://a.blob.core.windows.net/p/x.jpg?sv=2024&se=2026&sp=r&sig={FAKE_SIG}"
    assert (
        scrub(url) == f"https://a.blob.core.windows.net/p/x.jpg?sv=2024&se=2026&sp=r&sig={REDACTED}"
    )
    assert FAKE_JWT not in scrub(f"Bearer {FAKE_JWT}") and REDACTED in scrub(f"t {FAKE_JWT}")
    assert scrub("/?q=pizza&csrfmiddlewaretoken=abc&page=2") == (
        f"/?q=pizza&csrfmiddlewaretoken={REDACTED}&page=2"
    )
    assert scrub("/?design=1&q=signature") == "/?design=1&q=signature"  # not a secret's name
    attributes = scrub_attributes(
        {"http.request.header.cookie": ("csrftoken=abc",), "url.query": "token=x", "n": 3}
    )
    assert attributes == {
        "http.request.header.cookie": REDACTED,
        "url.query": f"token={REDACTED}",
        "n": 3,
    }


def test_embedded_default_loads_no_telemetry_at_all() -> None:
    code = (
        "import sys, azureproject.wsgi; "
        "print(sorted(m for m in sys.modules if m.startswith(('azure.monitor', 'opentelemetry'))))"
    )
    assert shell_output(code, env={}) == "[]"


@pytest.fixture
def ingestion(migrated_postgres_app: PostgresApp) -> Iterator[IngestionEndpoint]:
    endpoint = IngestionEndpoint(migrated_postgres_app.endpoint).start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def telemetry_env(
    migrated_azure_mode_env: dict[str, str], ingestion: IngestionEndpoint, tmp_path: Path
) -> dict[str, str]:
    """Azure mode with Application Insights: the app trusts Azurite's and ingestion's CAs."""
    azure_mode_env = migrated_azure_mode_env
    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_text(
        Path(azure_mode_env["REQUESTS_CA_BUNDLE"]).read_text() + ingestion.ca_file.read_text()
    )
    env = {
        **azure_mode_env,
        "REQUESTS_CA_BUNDLE": str(bundle),
        "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
        # Batches every half second rather than every 5 s, so the test need not wait.
        "OTEL_BSP_SCHEDULE_DELAY": "500",
        "OTEL_BLRP_SCHEDULE_DELAY": "500",
    }
    return env


@pytest.fixture
def telemetry_app(telemetry_env: dict[str, str], tmp_path: Path) -> Iterator[AppServer]:
    server = AppServer(base_env(**telemetry_env), tmp_path / "server.log").start()
    yield server
    server.stop()


def batches_kept_to_retry(ingestion: IngestionEndpoint) -> set[str]:
    """The batches the app's exporter has kept on disk to send again (it keeps those it could
    not send, by instrumentation key, under the temporary folder: conftest gives the tests'
    processes theirs)."""
    folder = Path(tempfile.gettempdir())
    pattern = f"Microsoft-AzureMonitor-*/opentelemetry-python-{ingestion.instrumentation_key}/*"
    return {path.name.split("@")[0] for path in folder.glob(pattern)}


def operation_ids(envelopes: list[dict[str, Any]]) -> set[str]:
    return {e.get("tags", {}).get("ai.operation.id", "") for e in envelopes} - {""}


def test_requests_dependencies_and_logs_arrive_with_an_entra_token_and_no_secret(
    telemetry_app: AppServer, ingestion: IngestionEndpoint, telemetry_env: dict[str, str]
) -> None:
    base = telemetry_app.url
    created = shell_output(
        "from restaurant_review.models import Restaurant; "
        "print(Restaurant.objects.create(name='Traced Table', street_address='3 Oak').pk)",
        env=telemetry_env,
    )
    page = f"/restaurant/{created}/"
    assert http_request(base + "/", headers=HTTPS)[0] == HTTPStatus.OK
    status, headers, body = http_request(base + page, headers=HTTPS)
    assert status == HTTPStatus.OK
    csrf_cookie = headers["set-cookie"].split(";")[0].split("=", 1)[1]
    csrf_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert csrf_token is not None
    fields = {"user_name": "Tess", "rating": "5", "review_text": "Watched closely."}
    status, _ = post_form(
        base, page, f"{page}review/", fields, photo=image_bytes(size=(400, 300)), headers=HTTPS
    )
    assert status == HTTPStatus.FOUND
    # Secrets a client put where telemetry looks: the URL and the cookies.
    token = csrf_token.group(1).decode()
    secret_query = f"/?q=table&sig={FAKE_SIG}&token={FAKE_JWT}&csrfmiddlewaretoken={token}"
    cookie = {"Cookie": f"csrftoken={csrf_cookie}; sessionid=secret-session-value"}
    # Redirected to the page's own address (made-up parameters go): its URL is sent all the same.
    redirected = http_request(base + secret_query, headers={**HTTPS, **cookie})[0]
    assert redirected == HTTPStatus.MOVED_PERMANENTLY
    assert http_request(base + "/no-such-page/", headers=HTTPS)[0] == HTTPStatus.NOT_FOUND

    def arrived() -> bool:
        urls = " ".join(
            e["data"]["baseData"].get("url", "") for e in ingestion.of_type("RequestData")
        )
        dependencies = ingestion.of_type("RemoteDependencyData")
        types = {d["data"]["baseData"].get("type", "") for d in dependencies}
        return (
            page in urls
            and "no-such-page" in urls
            and "postgresql" in types
            and any("blob" in str(d).lower() for d in dependencies)
            and any("posted for restaurant" in str(m) for m in ingestion.of_type("MessageData"))
        )

    ingestion.wait_for(arrived)
    requests = ingestion.of_type("RequestData")
    assert {r["data"]["baseData"]["responseCode"] for r in requests} >= {"200", "302", "404"}
    # The review post's log line, queries and upload are correlated with its request.
    post_ids = operation_ids(
        [r for r in requests if r["data"]["baseData"]["responseCode"] == "302"]
    )
    posted = [m for m in ingestion.of_type("MessageData") if "posted for restaurant" in str(m)]
    assert post_ids and operation_ids(posted) == post_ids
    of_post = [
        d for d in ingestion.of_type("RemoteDependencyData") if operation_ids([d]) <= post_ids
    ]
    assert "postgresql" in {d["data"]["baseData"]["type"] for d in of_post}
    assert any("/reviews/" in d["data"]["baseData"].get("data", "") for d in of_post)  # upload

    # Every batch came with a token for Azure Monitor from the app's managed identity.
    assert ingestion.refused == 0 and ingestion.tokens
    client_id = telemetry_env["AZURE_CLIENT_ID"]
    assert {t["appid"] for t in ingestion.tokens} == {client_id}

    raw = ingestion.raw()
    for secret in (FAKE_SIG, FAKE_JWT, csrf_token.group(1).decode(), csrf_cookie,
                   "secret-session-value"):  # fmt: skip
        assert secret not in raw
    assert "eyJ" not in raw  # no JWT at all, the identity's tokens included
    assert not re.search(r"sig=(?!REDACTED)[^&\"\s]+", raw)


def test_what_gunicorns_master_loads_starts_no_telemetry_each_worker_starts_its_own(
    telemetry_env: dict[str, str],
) -> None:
    """gunicorn loads the app once and forks its workers from it (preload_app): a thread started
    by then (an exporter's) would not exist in the workers. Each worker's start makes its
    telemetry and its WSGI handler (gunicorn.conf.py: post_worker_init), once."""
    code = (
        "import threading, azureproject.wsgi as wsgi; loaded = threading.active_count(); "
        "handler = wsgi.start_worker(); "
        "print('threads:', loaded, threading.active_count() > loaded, "
        "wsgi.start_worker() is handler)"
    )
    result = manage("shell", "-c", code, env=telemetry_env)
    assert result.returncode == 0, result.stderr
    # Telemetry's own lines (its shutdown) may follow.
    assert "threads: 1 True True" in result.stdout.splitlines(), result.stdout


def test_pages_keep_answering_while_ingestion_refuses_or_is_down(
    telemetry_app: AppServer, ingestion: IngestionEndpoint
) -> None:
    base = telemetry_app.url
    assert http_request(base + "/", headers=HTTPS)[0] == HTTPStatus.OK
    ingestion.wait_for(lambda: bool(ingestion.of_type("RequestData")))

    ingestion.refuse_all = True  # the identity lost its Monitoring Metrics Publisher role
    durations = []
    for index in range(20):
        start = time.monotonic()
        assert http_request(base + f"/?page={index + 2}", headers=HTTPS)[0] == HTTPStatus.OK
        durations.append(time.monotonic() - start)
        time.sleep(0.1)
    ingestion.wait_for(lambda: ingestion.refused > 0)
    kept_before = batches_kept_to_retry(ingestion)
    ingestion.stop()  # and now nothing answers at all
    for index in range(20):
        start = time.monotonic()
        assert http_request(base + f"/?page={index + 40}", headers=HTTPS)[0] == HTTPStatus.OK
        durations.append(time.monotonic() - start)
        time.sleep(0.1)
    # A few exports failed since: the exporter kept their batches to send again later.
    wait_until(
        lambda: len(batches_kept_to_retry(ingestion) - kept_before) >= 2,
        what="two batches kept after failed exports",
        timeout=30,
    )
    assert max(durations) < 2, durations
    log = telemetry_app.log()
    complaints = [line for line in log.splitlines() if "azure.monitor.opentelemetry" in line]
    assert len(complaints) <= 2, complaints  # a background warning, not one per batch
    assert "Traceback" not in log


def test_an_unresolved_key_vault_reference_stops_the_app_naming_the_setting(
    tmp_path: Path,
) -> None:
    from tests.test_production import AZURE_SETTINGS_ONLY

    env = {
        **AZURE_SETTINGS_ONLY,
        "SECRET_KEY": "@Microsoft.KeyVault(SecretUri=https://rr-kv.vault.azure.net/secrets/django-secret-key/)",
    }
    result = manage("check", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: SECRET_KEY: App Service could not resolve the Key Vault")
    server = AppServer(base_env(**env), tmp_path / "server.log", start_sh=True)
    server.launch()
    assert server.process is not None
    assert server.process.wait(timeout=60) != 0
    assert "SECRET_KEY: App Service could not resolve" in server.log()
