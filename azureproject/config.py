"""Turn environment variables into database and storage settings.

Pure functions of a mapping, so settings.py stays a readable list and tests can try every
combination of the tutorial's app settings and Service Connector's without reloading Django.
"""

import hashlib
import multiprocessing
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

AZURE_POSTGRES_SUFFIX = ".postgres.database.azure.com"
AZURE_BLOB_SUFFIX = ".blob.core.windows.net"


def azure_mode(env: Mapping[str, str]) -> bool:
    """WEBSITE_HOSTNAME is set by App Service: its presence means Azure mode."""
    return bool(env.get("WEBSITE_HOSTNAME", "").strip())


KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


def refuse_unresolved_key_vault_references(env: Mapping[str, str]) -> None:
    """App Service passes an app setting whose Key Vault reference it could not resolve (no
    access, a wrong name, the vault unreachable) as the reference's own text: stop with the
    setting's name rather than, say, sign sessions with that text."""
    unresolved = sorted(
        name for name, value in env.items() if value.strip().startswith(KEY_VAULT_REFERENCE)
    )
    if unresolved:
        raise ImproperlyConfigured(
            f"{', '.join(unresolved)}: App Service could not resolve the Key Vault reference "
            "(the app setting still reads @Microsoft.KeyVault(...)). Check that the identity "
            "in the site's keyVaultReferenceIdentity has the Key Vault Secrets User role on "
            "the vault and that the secret exists, then restart the app."
        )


def env_flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/true/yes/on or 0/false/no/off, not {value!r}")


def env_int(env: Mapping[str, str], name: str, *, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def site_time_zone(env: Mapping[str, str]) -> str:
    """SITE_TIME_ZONE (an IANA name such as America/Los_Angeles), checked: opening hours and
    dates are shown in it."""
    name = env.get("SITE_TIME_ZONE", "").strip() or "UTC"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"SITE_TIME_ZONE must be a time zone name such as America/Los_Angeles, not {name!r}"
        ) from None
    return name


def require(env: Mapping[str, str], name: str, why: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} is required {why}.")
    return value


def gunicorn_workers(env: Mapping[str, str]) -> int:
    """WEB_CONCURRENCY, else gunicorn.conf.py's default: 2 per CPU + 1 in Azure mode, 2 on the
    embedded default. The database budget divides by the same number."""
    default = multiprocessing.cpu_count() * 2 + 1 if azure_mode(env) else 2
    return env_int(env, "WEB_CONCURRENCY", default=default) or default


def gunicorn_threads(env: Mapping[str, str]) -> int:
    return env_int(env, "GUNICORN_THREADS", default=4) or 4


# Flexible Server's built-in PgBouncer listens on this port of the server's own host name.
PGBOUNCER_PORT = 6432
POSTGRES_PORT = 5432


def connection_share(env: Mapping[str, str]) -> tuple[int, int, int] | None:
    """DB_MAX_CONNECTIONS, the most server connections one instance holds, as (budget,
    workers, each worker's share); None without it. A share below one connection is refused:
    that worker could never serve a request."""
    if not env.get("DB_MAX_CONNECTIONS", "").strip():
        return None
    budget = env_int(env, "DB_MAX_CONNECTIONS", default=0)
    workers = gunicorn_workers(env)
    if budget // workers < 1:
        raise ImproperlyConfigured(
            f"DB_MAX_CONNECTIONS={budget} gives {workers} worker processes less than one "
            f"database connection each: raise it to at least {workers}, lower WEB_CONCURRENCY, "
            "or pick a database tier with more connections (docs/scale-out.md)."
        )
    return budget, workers, budget // workers


def photo_max_bytes(env: Mapping[str, str]) -> int:
    """PHOTO_MAX_MB, in bytes: the largest photo upload accepted."""
    return env_int(env, "PHOTO_MAX_MB", default=20) * 1024 * 1024


def request_body_limit(largest_photo: int) -> int:
    """The largest request body anything here reads: twice the largest photo plus room for the
    form, so a photo just over the limit still gets the form's own message (with the typed text
    kept) and only absurd uploads are cut off. The worker refuses a larger body before it
    arrives; the middleware refuses it where no worker of ours runs (runserver)."""
    return 2 * largest_photo + 1024 * 1024


def postgres_host(name: str) -> str:
    """The tutorial's DBHOST is the server's name; a name with a dot is a full host name."""
    if "." in name or ":" in name or name == "localhost":
        return name
    return name + AZURE_POSTGRES_SUFFIX


def uses_postgres(env: Mapping[str, str]) -> bool:
    return any(
        env.get(name)
        for name in ("DBHOST", "AZURE_POSTGRESQL_CONNECTIONSTRING", "AZURE_POSTGRESQL_HOST")
    )


def database_settings(env: Mapping[str, str], *, base_dir: Path, azure: bool) -> dict[str, Any]:
    """The `default` database: SQLite unless a PostgreSQL host is configured."""
    if not uses_postgres(env):
        if azure:
            raise ImproperlyConfigured(
                "Azure mode (WEBSITE_HOSTNAME is set) needs PostgreSQL: set DBHOST, DBNAME and "
                "DBUSER, or Service Connector's AZURE_POSTGRESQL_CONNECTIONSTRING."
            )
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.get("SQLITE_PATH") or str(base_dir / "db.sqlite3"),
        }

    if env.get("AZURE_POSTGRESQL_CONNECTIONSTRING"):
        try:
            from psycopg.conninfo import conninfo_to_dict  # only for this form of settings

            parts = conninfo_to_dict(env["AZURE_POSTGRESQL_CONNECTIONSTRING"])
        except Exception:
            raise ImproperlyConfigured(
                "AZURE_POSTGRESQL_CONNECTIONSTRING is not a libpq 'key=value ...' string."
            ) from None
        host = str(parts.pop("host", ""))
        name = str(parts.pop("dbname", ""))
        user = str(parts.pop("user", ""))
        port = str(parts.pop("port", ""))
        password = str(parts.pop("password", ""))
        sslmode = str(parts.pop("sslmode", ""))
        if not (host and name and user):
            raise ImproperlyConfigured(
                "AZURE_POSTGRESQL_CONNECTIONSTRING needs host, dbname and user."
            )
    elif env.get("AZURE_POSTGRESQL_HOST"):
        host = env["AZURE_POSTGRESQL_HOST"]
        name = require(env, "AZURE_POSTGRESQL_DATABASE", "with AZURE_POSTGRESQL_HOST")
        user = require(env, "AZURE_POSTGRESQL_USER", "with AZURE_POSTGRESQL_HOST")
        port = env.get("AZURE_POSTGRESQL_PORT", "")
        password = ""
        sslmode = env.get("AZURE_POSTGRESQL_SSL", "")
        sslmode = "require" if sslmode.lower() == "true" else ""
    else:
        host = postgres_host(env["DBHOST"])
        name = require(env, "DBNAME", "with DBHOST")
        user = require(env, "DBUSER", "with DBHOST")
        port = env.get("DBPORT", "")
        password = ""
        sslmode = ""

    # A local PostgreSQL with a password: no token is fetched.
    password = env.get("DBPASS", "") or password
    sslmode = env.get("DBSSLMODE", "") or sslmode
    if not sslmode and host.endswith(AZURE_POSTGRES_SUFFIX):
        sslmode = "require"

    options: dict[str, Any] = {}
    if sslmode:
        options["sslmode"] = sslmode
    if env.get("DBSSLROOTCERT"):
        options["sslrootcert"] = env["DBSSLROOTCERT"]
    # A connection budget smaller than a connection per thread is kept by the pool: a request
    # waits (DB_POOL_TIMEOUT at most) for one of its worker's connections rather than opening
    # one more. Within the budget, each thread keeps its own (no wait, no pool check).
    share = connection_share(env)
    pooled_by_budget = share is not None and share[2] < gunicorn_threads(env)
    pool = env_flag(env, "DB_POOL", default=False) or pooled_by_budget
    if pool:
        max_size = env_int(env, "DB_POOL_MAX_SIZE", default=4)
        if share is not None:
            max_size = share[2] if not env.get("DB_POOL_MAX_SIZE") else min(max_size, share[2])
        options["pool"] = {
            "min_size": min(env_int(env, "DB_POOL_MIN_SIZE", default=1), max_size),
            "max_size": max_size,
            "max_lifetime": env_int(env, "DB_POOL_MAX_LIFETIME", default=1800),
            # How long a request waits for a connection: psycopg-pool's 30 s would hold every
            # request that long while the server is down (connect_timeout is 5 s too).
            "timeout": env_int(env, "DB_POOL_TIMEOUT", default=5),
        }
    client_id = (
        env.get("AZURE_POSTGRESQL_CLIENTID", "").strip()
        or env.get("AZURE_CLIENT_ID", "").strip()
        or None
    )
    # PgBouncer in transaction mode: a session's state (a server-side cursor, an advisory
    # lock) may be on another server connection by the next transaction.
    pgbouncer = env_flag(env, "DB_PGBOUNCER", default=port.strip() == str(PGBOUNCER_PORT))
    through_pgbouncer: dict[str, Any] = {}
    if pgbouncer:
        through_pgbouncer = {
            "DISABLE_SERVER_SIDE_CURSORS": True,
            # Read by migrate_with_lock: migrations and their lock go to the server itself.
            "PGBOUNCER": True,
            "DIRECT_PORT": str(env_int(env, "DB_DIRECT_PORT", default=POSTGRES_PORT)),
        }
    return {
        "ENGINE": "azureproject.postgresql",
        "HOST": host,
        "PORT": port,
        "NAME": name,
        "USER": user,
        "PASSWORD": password,
        "OPTIONS": options,
        # Reuse connections so a request does not pay for TLS and a login; a pool manages
        # its own connections, so it needs CONN_MAX_AGE 0.
        "CONN_MAX_AGE": 0 if pool else env_int(env, "DB_CONN_MAX_AGE", default=600),
        "CONN_HEALTH_CHECKS": True,
        # Read by azureproject.postgresql: which managed identity's token to log in with.
        "AZURE_CLIENT_ID": client_id,
        **through_pgbouncer,
    }


def describe_connections(env: Mapping[str, str], database: Mapping[str, Any]) -> str | None:
    """What one instance will hold of the database server, for the log at start; None on
    SQLite."""
    if database["ENGINE"] != "azureproject.postgresql":
        return None
    workers, threads = gunicorn_workers(env), gunicorn_threads(env)
    share = connection_share(env)
    pool = database["OPTIONS"].get("pool")
    if share is not None and pool:
        held = (
            f"at most {workers * pool['max_size']} for this instance ({workers} workers x "
            f"{pool['max_size']} each, DB_MAX_CONNECTIONS={share[0]})"
        )
    elif share is not None:
        held = (
            f"at most {workers * threads} for this instance ({workers} workers x {threads} "
            f"threads, within DB_MAX_CONNECTIONS={share[0]})"
        )
    else:
        held = (
            f"up to {workers * threads} for this instance ({workers} workers x {threads} "
            "threads, one each)"
        )
    where = f"{database['HOST']}:{database['PORT'] or POSTGRES_PORT}"
    if database.get("PGBOUNCER"):
        return (
            f"Database connections: {held}, to PgBouncer at {where} (transaction pooling; "
            f"migrations on port {database['DIRECT_PORT']})"
        )
    return f"Database connections: {held}, to {where}"


def uses_blob_storage(env: Mapping[str, str]) -> bool:
    return bool(env.get("STORAGE_ACCOUNT_NAME") or env.get("AZURE_STORAGEBLOB_RESOURCEENDPOINT"))


def photo_origins(storage: Mapping[str, Any]) -> list[str]:
    """The origins photos are loaded from besides the site itself (for the CSP's img-src)."""
    account_url = storage.get("OPTIONS", {}).get("account_url")
    if not account_url:
        return []
    parts = urlsplit(account_url)
    return [f"{parts.scheme}://{parts.netloc}"]


def photo_storage_settings(
    env: Mapping[str, str], *, media_root: Path, azure: bool
) -> dict[str, Any]:
    """STORAGES["default"]: local disk unless a Blob Storage account is configured."""
    if not uses_blob_storage(env):
        if azure:
            raise ImproperlyConfigured(
                "Azure mode (WEBSITE_HOSTNAME is set) needs Blob Storage for photos: set "
                "STORAGE_ACCOUNT_NAME, or Service Connector's AZURE_STORAGEBLOB_RESOURCEENDPOINT."
            )
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media_root)},
        }
    account_url = env.get("AZURE_STORAGEBLOB_RESOURCEENDPOINT", "").strip().rstrip("/")
    if not account_url:
        account_url = f"https://{env['STORAGE_ACCOUNT_NAME'].strip()}{AZURE_BLOB_SUFFIX}"
    sas_minutes = env_int(env, "STORAGE_SAS_MINUTES", default=60)
    if not 1 <= sas_minutes <= 1440:
        # Links are signed with a delegation key valid for at most 7 days (storage.KEY_WINDOW).
        raise ImproperlyConfigured(
            f"STORAGE_SAS_MINUTES must be from 1 to 1440 (a day), not {sas_minutes}"
        )
    url_mode = env.get("STORAGE_URL_MODE", "sas").strip().lower()
    if url_mode not in {"sas", "public"}:
        raise ImproperlyConfigured(f"STORAGE_URL_MODE must be 'sas' or 'public', not {url_mode!r}")
    return {
        "BACKEND": "azureproject.storage.AzureBlobPhotoStorage",
        "OPTIONS": {
            "account_url": account_url,
            "container": env.get("STORAGE_CONTAINER_NAME", "").strip() or "photos",
            "client_id": (
                env.get("AZURE_STORAGEBLOB_CLIENTID", "").strip()
                or env.get("AZURE_CLIENT_ID", "").strip()
                or None
            ),
            "url_mode": url_mode,
            "sas_minutes": sas_minutes,
        },
    }


# Azure Managed Redis listens on 10000; Azure Cache for Redis (*.redis.cache.windows.net), and
# anything else, on 6380 for TLS.
AZURE_MANAGED_REDIS_SUFFIX = ".redis.azure.net"


def code_version(base_dir: Path) -> str:
    """A digest of what draws the pages (Python code, templates, the static files' manifest),
    for cache keys: cached parts drawn by one deploy are never served by the next."""
    digest = hashlib.blake2b(digest_size=8)
    # The project's own folders only: a pattern starting with ** would walk .venv, the tests'
    # caches and every other folder below base_dir, at every process start.
    patterns = (
        "azureproject/**/*.py",
        "restaurant_review/**/*.py",
        "restaurant_review/templates/**/*.html",
        "templates/**/*.html",
    )
    files = sorted({path for pattern in patterns for path in base_dir.glob(pattern)})
    manifest = base_dir / "staticfiles" / "staticfiles.json"
    for path in [*files, manifest] if manifest.exists() else files:
        digest.update(str(path.relative_to(base_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_settings(env: Mapping[str, str], *, key_prefix: str) -> dict[str, Any]:
    """CACHES: local memory per process; with REDIS_HOST, the default cache in Azure Managed
    Redis or Azure Cache for Redis over TLS, logging in with Microsoft Entra ID, and page parts
    in memory in front of it. (The posting limits count in the database, not here.)"""
    local = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    }
    caches: dict[str, Any] = {
        "default": {**local, "LOCATION": "default"},
        # Django's {% cache %} tag uses this alias: the page parts of restaurant_review.caching.
        "template_fragments": {**local, "LOCATION": "template_fragments"},
        # Parts that depend on the code alone (the empty review form): no trip to Redis.
        "local": {**local, "LOCATION": "local"},
        # Page parts drawn while their whole page is being cached: read, never stored again.
        "whole_page_parts": {
            "BACKEND": "azureproject.serving.page_caches.ReadOnlyCache",
            "OPTIONS": {"READS": "template_fragments"},
        },
    }
    host = env.get("REDIS_HOST", "").strip()
    if not host:
        return caches
    # Page parts: this process's memory first, then Redis (their keys never change meaning).
    caches["template_fragments"] = {
        "BACKEND": "azureproject.serving.page_caches.TwoTierCache",
        "LOCATION": "template_fragments",
        "KEY_PREFIX": key_prefix,
        "TIMEOUT": None,
        "OPTIONS": {"SHARED": "default", "MAX_ENTRIES": 500},
    }
    default_port = 10000 if host.endswith(AZURE_MANAGED_REDIS_SUFFIX) else 6380
    port = env_int(env, "REDIS_PORT", default=default_port)
    caches["default"] = {
        "BACKEND": "azureproject.cache.EntraRedisCache",
        "LOCATION": f"rediss://{host}:{port}/0",
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {
            "client_id": env.get("AZURE_CLIENT_ID", "").strip() or None,
        },
    }
    return caches
