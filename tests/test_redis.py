"""The shared cache in Redis with Microsoft Entra ID, against a real redis-server over TLS
whose only password for the identity is the newest token (localazure/redis_server.py), through the
real ManagedIdentityCredential-or-chain, redis-py and redis-entraid."""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import caches

from azureproject.cache import RETRY_SECONDS
from localazure.identity import IdentityEndpoint
from localazure.postgres import PostgresApp
from localazure.redis_server import REDIS_RESOURCE, RedisServer
from localazure.services import app_server, base_env, http_get, manage, post_form, wait_until

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_identity(redis_server: RedisServer) -> Iterator[IdentityEndpoint]:
    """An identity endpoint whose 6-s tokens are renewed when half their life is left (as
    Azure's endpoint hands out a new token before the old one expires)."""
    client_id = f"app-client-{uuid.uuid4().hex[:8]}"
    endpoint = IdentityEndpoint(client_ids={client_id}, lifetime=6, renew_before=3)
    redis_server.hook(endpoint)
    yield endpoint.start()
    endpoint.stop()


@pytest.fixture
def redis_cache(
    redis_server: RedisServer,
    redis_identity: IdentityEndpoint,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    identity_in_process: Callable[[IdentityEndpoint], None],
    tmp_path: Path,
) -> Iterator[Any]:
    """This process's default cache in the test Redis, as settings make it from REDIS_HOST."""
    from azureproject.config import cache_settings

    identity_in_process(redis_identity)
    monkeypatch.setenv("SSL_CERT_FILE", str(redis_server.ca_file))
    client_id = next(iter(redis_identity.client_ids))
    env = {**redis_server.env, "AZURE_CLIENT_ID": client_id}
    settings.CACHES = cache_settings(env, key_prefix=f"test-{uuid.uuid4().hex[:8]}")
    cache = caches["default"]
    yield cache
    cache.close()


def test_settings_make_a_tls_redis_cache_with_entra_and_the_azure_ports() -> None:
    from azureproject.config import cache_settings

    where = {"key_prefix": "k"}
    managed = cache_settings({"REDIS_HOST": "rr.eastus.redis.azure.net"}, **where)
    assert managed["default"]["LOCATION"] == "rediss://rr.eastus.redis.azure.net:10000/0"
    assert managed["default"]["BACKEND"] == "azureproject.cache.EntraRedisCache"
    classic = cache_settings({"REDIS_HOST": "rr.redis.cache.windows.net"}, **where)
    assert classic["default"]["LOCATION"] == "rediss://rr.redis.cache.windows.net:6380/0"
    assert "password" not in str(managed).lower()
    embedded = cache_settings({}, **where)
    assert embedded["default"]["BACKEND"].endswith("LocMemCache")
    # Posting limits count in the database, never in a cache that can be full or down.
    assert "limits" not in managed and "limits" not in embedded


def test_cache_logs_in_as_the_identity_and_reauthenticates_before_expiry(
    redis_cache: Any, redis_server: RedisServer, redis_identity: IdentityEndpoint
) -> None:
    """The user is the token's oid, the password the token; as tokens are renewed, the pooled
    connection re-authenticates with each new one (the server would refuse the old one), and
    it is the same connection throughout."""
    client_id = next(iter(redis_identity.client_ids))
    user = redis_identity.object_id(client_id)
    redis_cache.set("greeting", "hello", 60)
    assert redis_cache.get("greeting") == "hello"
    first_token = redis_server._passwords[user]
    connections = [c["id"] for c in redis_server.clients_of(user)]
    assert len(connections) == 1
    auths = redis_server.auth_calls()

    # Two renewals later (6-s tokens renewed at 3 s left): a new token is the password.
    wait_until(lambda: redis_identity.minted >= 3, what="two new Redis tokens", timeout=20)
    wait_until(lambda: redis_server.auth_calls() >= auths + 2, what="re-authentication", timeout=10)
    assert redis_cache.get("greeting") == "hello"
    assert [c["id"] for c in redis_server.clients_of(user)] == connections  # no reconnect

    # The first token no longer logs in, like an expired one on Azure.
    stale = redis.Redis(
        host="localhost",
        port=redis_server.port,
        ssl=True,
        ssl_ca_certs=str(redis_server.ca_file),
        username=user,
        password=first_token,
    )
    with pytest.raises(redis.AuthenticationError):
        stale.ping()
    # The identity endpoint is asked about once per token renewal, not per call.
    assert len(redis_identity.calls_for(REDIS_RESOURCE)) <= redis_identity.minted + 1


def test_a_redis_outage_costs_no_page_and_is_logged_once(
    redis_cache: Any,
    redis_server: RedisServer,
    client: Any,
    make_restaurant: Any,
    caplog: Any,
) -> None:
    """Redis frozen (a black hole) or down: pages render uncached, none waits more than about a
    second, one ERROR line says so; when it is back, pages use it again."""
    restaurant = make_restaurant(name="Outage Diner")
    url = restaurant.get_absolute_url()
    assert client.get(url).status_code == HTTPStatus.OK
    assert redis_server.admin().dbsize() > 0  # cached in Redis
    caplog.set_level(logging.INFO, logger="azureproject.cache")
    redis_server.freeze()
    try:
        durations = []
        for _ in range(8):
            start = time.monotonic()
            response = client.get(url, {"page": "1"})  # a page not cached yet
            durations.append(time.monotonic() - start)
            assert response.status_code == HTTPStatus.OK
            assert "Outage Diner" in response.content.decode()
        assert max(durations) < 2.5, durations
        assert sum(durations[1:]) < 1, durations  # later requests skip Redis at once
    finally:
        redis_server.thaw()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "Redis cache unavailable" in errors[0].getMessage()
    assert "Traceback" not in caplog.text

    redis_server.restart()  # every connection dropped, the identity's user kept, nothing cached
    attempt = iter(range(2, 1000))  # a new page number each time: never a part in memory

    def cached_in_redis() -> bool:
        response = client.get(url, {"page": next(attempt)})
        return response.status_code == HTTPStatus.OK and redis_server.admin().dbsize() > 0

    # The cache leaves Redis alone for RETRY_SECONDS after an outage, then tries it again.
    wait_until(cached_in_redis, what="pages cached in Redis again", timeout=RETRY_SECONDS + 15)
    assert "Redis cache answers again" in caplog.text


@pytest.mark.postgres
def test_two_instances_sharing_redis_never_serve_a_stale_page(
    migrated_postgres_app: PostgresApp, redis_server: RedisServer,
    migrated_azure_mode_env: dict[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    """Two app instances (Azure mode: PostgreSQL, Azurite, Redis, one identity): a page cached
    by one shows a review posted through the other, and a restaurant renamed in the database
    by a third process (the admin's way: a model save), on the very next request."""
    redis_server.hook(migrated_postgres_app.endpoint)
    env = {**migrated_azure_mode_env, **redis_server.env}
    created = manage(
        "shell", "-c",
        "from restaurant_review.models import Restaurant; "
        "print(Restaurant.objects.create(name='Shared Table', street_address='2 Elm').pk)",
        env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    pk = created.stdout.strip().splitlines()[-1]
    https = {"Host": env["WEBSITE_HOSTNAME"], "X-Forwarded-Proto": "https"}
    page = f"/restaurant/{pk}/"
    with (
        app_server(base_env(**env), tmp_path / "a.log") as a,
        app_server(base_env(**env), tmp_path / "b.log") as b,
    ):
        status, body = http_get(a.url + page, headers=https)
        assert status == HTTPStatus.OK and b"No reviews yet" in body
        keys_before = redis_server.admin().dbsize()
        assert keys_before > 0  # a's parts are in the shared cache
        status, body_b = http_get(b.url + page, headers=https)
        assert status == HTTPStatus.OK and b"No reviews yet" in body_b
        assert redis_server.admin().dbsize() == keys_before  # b served a's parts

        fields = {"user_name": "Ines", "rating": "5", "review_text": "Shared and fresh."}
        status, _ = post_form(b.url, page, f"{page}review/", fields, headers=https)
        assert status == HTTPStatus.FOUND
        status, body = http_get(a.url + page, headers=https)
        assert b"Shared and fresh." in body and b"No reviews yet" not in body
        status, home = http_get(a.url + "/", headers=https)
        assert b"Shared Table" in home and b"1 review" in home

        renamed = manage(
            "shell", "-c",
            "from restaurant_review.models import Restaurant; "
            f"r = Restaurant.objects.get(pk={pk}); r.name = 'Shared Table Two'; r.save()",
            env=env,
        )  # fmt: skip
        assert renamed.returncode == 0, renamed.stderr
        for server in (a, b):
            assert b"Shared Table Two" in http_get(server.url + page, headers=https)[1]
            assert b"Shared Table Two" in http_get(server.url + "/", headers=https)[1]
        assert "Redis cache unavailable" not in a.log() + b.log()


def test_a_part_fetched_from_redis_is_served_from_memory_afterwards(
    redis_cache: Any, redis_server: RedisServer, client: Any, make_restaurant: Any
) -> None:
    """Versioned keys never change meaning, so each process keeps the parts it has fetched:
    Redis shares what one worker rendered, and is not asked again for it."""

    def redis_gets() -> int:
        stats: dict[str, Any] = redis_server.admin().info("commandstats")
        return int(stats.get("cmdstat_get", {}).get("calls", 0))

    url = make_restaurant(name="Memory Lane").get_absolute_url()
    assert client.get(url).status_code == HTTPStatus.OK  # rendered, stored in both
    caches["template_fragments"].memory.clear()  # as another worker: only Redis has them
    before = redis_gets()
    assert "Memory Lane" in client.get(url).content.decode()
    fetched = redis_gets() - before
    assert fetched == 1  # a plain visit's whole page, in one round trip
    for _ in range(5):
        assert "Memory Lane" in client.get(url).content.decode()
    assert redis_gets() - before == fetched  # from memory from then on


def test_with_redis_full_posting_limits_hold_and_a_photo_review_posts(
    redis_cache: Any, redis_server: RedisServer, make_restaurant: Any, settings: Any
) -> None:
    """A Redis that refuses every write (out of memory, noeviction): pages go on, the posting
    limits still count (they once let 12 of 12 reviews through), and an upload is not refused
    for it (every photo upload had got a 429)."""
    from django.test import Client

    from tests.helpers import image_bytes, upload

    settings.POST_LIMITS_ENABLED = True
    admin = redis_server.admin()
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", str(admin.info("memory")["used_memory"] + 1024))
    for n in range(200):  # filled to the brim: writes answer OOM
        try:
            admin.set(f"filler-{n}", "x" * 10_000)
        except redis.exceptions.ResponseError:
            break
    try:
        restaurant = make_restaurant()
        visitor = Client(REMOTE_ADDR="203.0.113.50")
        url = f"/restaurant/{restaurant.pk}/review/"
        photo = upload("p.jpg", image_bytes("JPEG", size=(800, 600)))
        data = {"user_name": "Ana", "rating": "4", "review_text": "With a photo.", "photo": photo}
        assert visitor.post(url, data).status_code == HTTPStatus.FOUND
        statuses = [
            visitor.post(
                url, {"user_name": "Ana", "rating": "4", "review_text": f"Review {n}."}
            ).status_code
            for n in range(6)
        ]
        assert statuses == [HTTPStatus.FOUND] * 4 + [HTTPStatus.TOO_MANY_REQUESTS] * 2
    finally:
        admin.config_set("maxmemory", "0")
        admin.flushall()
