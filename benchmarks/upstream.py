"""The upstream sample, Azure-Samples/msdocs-django-postgresql-sample-app, served for the
benchmark's comparison (`benchmarks/run.py --upstream DIR`, DIR a checkout of it).

It runs as its startup.sh runs it on App Service (gunicorn, its production settings, access
log on stdout) with this benchmark's workers and threads, on the same PostgreSQL server over
TLS with a password (its way), with as many restaurants and reviews as ours. One change, in
its favour: its caches (sessions and its restaurant page's `cache_page(60)`) are in local
memory, not in the Redis its settings ask for. With `page_cache=False` the restaurant page is
drawn on every request: its `cache_page` serves a page up to a minute old after a new review,
which this app never does, so only the page drawn compares like with like. Nothing of it is
copied here: it runs from DIR.
"""

import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg import sql

from localazure.postgres import PostgresServer
from localazure.services import free_port, http_request

SETTINGS = """from azureproject.production import *  # noqa: F403

# cache_page (its restaurant page) uses the default cache; its sessions a cache of their own.
CACHES = {{
    "default": {{"BACKEND": "django.core.cache.backends.{pages}"}},
    "sessions": {{"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
}}
SESSION_CACHE_ALIAS = "sessions"
"""


def _seed(postgres: PostgresServer, database: str, *, restaurants: int, reviews: int) -> None:
    """`restaurants` restaurants with `reviews` reviews each, in the sample's own tables."""
    with postgres.admin(database) as admin:
        admin.execute(
            "INSERT INTO restaurant_review_restaurant (name, street_address, description) "
            "SELECT 'Restaurant ' || n, n || ' Pike Street', 'Seasonal food, friendly staff.' "
            "FROM generate_series(1, %s) AS n",
            [restaurants],
        )
        admin.execute(
            "INSERT INTO restaurant_review_review "
            "(restaurant_id, user_name, rating, review_text, review_date) "
            "SELECT r.id, 'Diner ' || k, 1 + (r.id + k) %% 5, 'Good food, quick service.', "
            "now() - k * interval '1 day' "
            "FROM restaurant_review_restaurant AS r, generate_series(1, %s) AS k",
            [reviews],
        )


@contextmanager
def upstream_server(
    checkout: Path,
    postgres: PostgresServer,
    *,
    restaurants: int,
    reviews: int,
    workers: int,
    threads: int,
    log_dir: Path,
    page_cache: bool = True,
) -> Iterator[str]:
    """The sample at `checkout`, migrated and seeded, served on a loopback port: its URL."""
    if not (checkout / "restaurant_review" / "views.py").exists():
        sys.exit(f"{checkout} is not a checkout of msdocs-django-postgresql-sample-app")
    name = f"upstream_{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(24)  # a throwaway login for a throwaway database
    postgres.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(password)
        )
    )
    postgres.execute(
        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name))
    )
    shim = Path(tempfile.mkdtemp(prefix="rr-upstream-"))
    pages = "locmem.LocMemCache" if page_cache else "dummy.DummyCache"
    (shim / "upstream_bench_settings.py").write_text(SETTINGS.format(pages=pages))
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(shim),
        "DJANGO_SETTINGS_MODULE": "upstream_bench_settings",
        "WEBSITE_HOSTNAME": "127.0.0.1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AZURE_POSTGRESQL_NAME": name,
        "AZURE_POSTGRESQL_HOST": "127.0.0.1",
        "AZURE_POSTGRESQL_USER": name,
        "AZURE_POSTGRESQL_PASSWORD": password,
        "AZURE_REDIS_CONNECTIONSTRING": "unused",  # read by its settings; CACHES replaced
        "PGPORT": str(postgres.port),
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    if migrated.returncode != 0:
        sys.exit(f"the upstream sample's migrate failed:\n{migrated.stderr}")
    _seed(postgres, name, restaurants=restaurants, reviews=reviews)
    command = [
        sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
        "--timeout", "60", "--access-logfile", "-", "--error-logfile", "-",
        "--bind", f"127.0.0.1:{port}", "azureproject.wsgi",
    ]  # fmt: skip
    log = (log_dir / "upstream.log").open("ab")
    process = subprocess.Popen(command, cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http_request(url + "/")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the upstream sample did not start; see {log_dir / 'upstream.log'}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(shim, ignore_errors=True)
