"""Settings for Restaurant Review, read from environment variables.

Two modes, detected once here:
- embedded default (no Azure variables): SQLite and photos on local disk;
- Azure mode (WEBSITE_HOSTNAME, set by App Service): PostgreSQL and Blob Storage through a
  managed identity, with production security settings.
Every variable is listed in README.md and .env.sample.
"""

import os
import warnings
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from azureproject.config import (
    azure_mode,
    cache_settings,
    code_version,
    database_settings,
    env_flag,
    env_int,
    photo_max_bytes,
    photo_origins,
    photo_storage_settings,
    refuse_unresolved_key_vault_references,
    site_time_zone,
    uses_blob_storage,
)

BASE_DIR = Path(__file__).resolve().parent.parent
env = os.environ

# Any app setting still reading @Microsoft.KeyVault(...) (SECRET_KEY, from deploy.sh) is a
# reference App Service could not resolve: stop, naming it.
refuse_unresolved_key_vault_references(env)

# WEBSITE_HOSTNAME: set by App Service to the app's host name; its presence means Azure mode.
WEBSITE_HOSTNAME = env.get("WEBSITE_HOSTNAME", "").strip()
AZURE_MODE = azure_mode(env)

# DJANGO_DEBUG: 1 turns on Django's debug pages, never in Azure mode.
DEBUG = env_flag(env, "DJANGO_DEBUG", default=False) and not AZURE_MODE

# SECRET_KEY: signs sessions and CSRF tokens. Required in Azure mode, where it must stay the same
# across restarts and instances (deploy.sh makes it a Key Vault reference); the embedded default
# falls back to a development-only value.
SECRET_KEY = env.get("SECRET_KEY", "").strip()
if not SECRET_KEY:
    if AZURE_MODE:
        raise ImproperlyConfigured(
            "The environment variable SECRET_KEY is required in Azure mode (WEBSITE_HOSTNAME is "
            "set): set it as an app setting, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = "django-insecure-development-only-never-use-in-production"
# SECRET_KEY_FALLBACKS: earlier keys, comma-separated, still accepted for what they signed
# (sessions, password resets, messages) while a new SECRET_KEY signs everything new; a Key Vault
# reference to the previous version of the key after scripts/rotate-secret-key.sh.
SECRET_KEY_FALLBACKS = [
    key.strip() for key in env.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()
]

# DJANGO_ALLOWED_HOSTS: extra host names (custom domains), comma-separated.
_extra_hosts = [h.strip() for h in env.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
if AZURE_MODE:
    ALLOWED_HOSTS = [WEBSITE_HOSTNAME, *_extra_hosts]
    CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS]
else:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", *_extra_hosts]

INSTALLED_APPS = [
    "restaurant_review.apps.RestaurantReviewConfig",
    "azureproject.apps.AzureProjectConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
]

MIDDLEWARE = [
    # Answers App Service's health probe before host validation: the probe's Host header is
    # the instance's internal address, not WEBSITE_HOSTNAME.
    "azureproject.serving.middleware.HealthCheckMiddleware",
    # X-Frame-Options, Content-Security-Policy (django-csp) and Permissions-Policy on every
    # answer: outermost, so the early refusals (413, a bad Host's 400) carry them too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "azureproject.serving.middleware.PermissionsPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Refuses absurdly large uploads (413) before reading them.
    "azureproject.serving.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # With App Service authentication on: staff are who Microsoft Entra ID says (easy_auth).
    "azureproject.easy_auth.EasyAuthMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A 405 (wrong method) answers with a page in the site's layout.
    "azureproject.serving.middleware.MethodNotAllowedPageMiddleware",
    # Turns a database or storage outage in a view into a 503 page.
    "azureproject.serving.middleware.DependencyOutageMiddleware",
    # Throttles failed logins (django-axes); last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "azureproject.urls"
WSGI_APPLICATION = "azureproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite, or PostgreSQL logging in with an Entra token, never a password
# (azureproject.config.database_settings; its variables: docs/configuration.md).
DATABASES = {"default": database_settings(env, base_dir=BASE_DIR, azure=AZURE_MODE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Admin login throttling (django-axes): after 5 wrong passwords for one username from one
# address, that pair is locked out for 15 minutes (a 429 page). Username and address together,
# so an attacker cannot lock the real admin out from elsewhere. Each failure is one log line
# (never the password). Unlock at once with `python manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    # Wrong passwords from one address across usernames (password spraying): see the module.
    "azureproject.serving.login_throttle.AddressThrottleBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Wrong passwords from one address, whatever the usernames, before it may not sign in at all.
LOGIN_FAILURES_PER_ADDRESS = "20/15m"
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "429.html"
# WEBSITE_AUTH_ENABLED: set to True by App Service when its authentication is on. In Azure
# mode staff then sign in with Microsoft Entra ID, app roles Admin and Moderator, and no
# password (azureproject/easy_auth.py); otherwise its headers are ignored.
ENTRA_SIGN_IN = AZURE_MODE and env.get("WEBSITE_AUTH_ENABLED", "").strip().lower() == "true"

# Who the visitor is (azureproject/client_ip.py): login throttling and posting limits ask it.
CLIENT_IP_CALLABLE = "azureproject.client_ip.client_ip"
AXES_CLIENT_IP_CALLABLE = CLIENT_IP_CALLABLE

# Per-visitor posting limits (restaurant_review/limits.py reads and checks them): COUNT/PERIOD
# pairs; docs/configuration.md has each variable and its default.
POST_LIMITS_ENABLED = env.get("POST_LIMITS", "on").strip().lower() not in {"off", "0", "false"}
_REVIEW_RATES = env.get("POST_LIMIT_REVIEWS", "5/10m,20/1d")
POST_LIMIT_RATES = {
    "reviews": _REVIEW_RATES,
    "photo_decodes": _REVIEW_RATES,  # photos decoded count as reviews do
    "restaurants": env.get("POST_LIMIT_RESTAURANTS", "3/1h,10/1d"),
    "reports": "10/1h,30/1d",
    "photo_bytes": env.get("POST_LIMIT_PHOTO_MB", "60/1d"),  # megabytes
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = site_time_zone(os.environ)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Static files: hashed names from collectstatic's manifest; before collectstatic has run
# (runserver on a fresh clone), WhiteNoise serves them straight from static/.
WHITENOISE_USE_FINDERS = not (STATIC_ROOT / "staticfiles.json").exists()
# Files browsers ask for at the site's root (favicon.ico, icons, the web app manifest).
WHITENOISE_ROOT = BASE_DIR / "public"
WHITENOISE_MIMETYPES = {".webmanifest": "application/manifest+json"}
if WHITENOISE_USE_FINDERS:
    # Expected until collectstatic has run; WhiteNoise would warn that staticfiles/ is missing.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

MEDIA_ROOT = Path(env.get("MEDIA_ROOT") or BASE_DIR / "media")
MEDIA_URL = "/media/"
# Photos: local disk, or Blob Storage through the managed identity
# (azureproject.config.photo_storage_settings; its variables: docs/configuration.md).
STORAGES = {
    "default": photo_storage_settings(env, media_root=MEDIA_ROOT, azure=AZURE_MODE),
    "staticfiles": {"BACKEND": "azureproject.serving.staticfiles.StaticFilesStorage"},
}
# The app serves its own uploaded photos only when they are on local disk.
SERVE_MEDIA = not uses_blob_storage(env)

# A strict Content-Security-Policy: everything from this site only (no inline script or style,
# no CDN), photos also from the photo storage's origin, no framing, forms post here only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, *photo_origins(STORAGES["default"])],
        "script-src": [SELF],
        "style-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# Referrer-Policy: Django's SecurityMiddleware sends its default, same-origin. Permissions-Policy
# (azureproject.serving.middleware): no camera, microphone, location or other powerful features.
SECURE_REFERRER_POLICY = "same-origin"

# Photo names are unique and a stored photo never changes, so browsers and CDNs may keep one
# for a year: the Cache-Control of every photo, from Blob Storage or from the app.
PHOTO_CACHE_CONTROL = "public, max-age=31536000, immutable"

# Photo size limits (PHOTO_MAX_MB, PHOTO_MAX_EDGE: docs/configuration.md).
PHOTO_MAX_BYTES = photo_max_bytes(env)
PHOTO_MAX_EDGE = env_int(env, "PHOTO_MAX_EDGE", default=2048)
# Larger images are refused before decoding (decompression bombs).
PHOTO_MAX_PIXELS = 50_000_000
# Photos are decoded one at a time per process; an upload waits this long for its turn, then
# gets its form back with a 503 and Retry-After.
PHOTO_DECODE_WAIT_SECONDS = 5

# Caches: local memory, or Redis with an Entra token (azureproject.config.cache_settings;
# docs/caching.md). Keys carry the code's digest: a deploy never serves the previous one's parts.
CACHES = cache_settings(env, key_prefix=code_version(BASE_DIR))

# Messages in a signed cookie: no session row, no database query to show one.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

if AZURE_MODE:
    # App Service terminates TLS at its front end and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # DJANGO_HSTS_SECONDS: how long browsers must use HTTPS only (default one year).
    SECURE_HSTS_SECONDS = env_int(env, "DJANGO_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# DJANGO_LOG_LEVEL: level of the app's and Django's logs on stdout (default INFO).
LOG_LEVEL = env.get("DJANGO_LOG_LEVEL", "INFO").strip().upper() or "INFO"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # One record, one line: control characters in a message (a path with %0a, say) are
        # escaped, so no one can write a line of their own into the log.
        "plain": {
            "()": "azureproject.serving.log_filters.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d: %(message)s",
        },
    },
    # A client's mistake (bad Host, traversal, too many fields, broken multipart) is one
    # WARNING line; real 500s keep their ERROR and traceback.
    "filters": {
        "client_errors": {"()": "azureproject.serving.log_filters.ClientErrorFilter"},
        # The telemetry exporter's complaints: one line every 5 minutes at most.
        "telemetry_rate": {"()": "azureproject.serving.log_filters.TelemetryRateLimitFilter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
            "filters": ["client_errors", "telemetry_rate"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # The Azure SDK logs every HTTP request at INFO; keep its warnings and errors only.
        "azure": {"level": "WARNING"},
        # DefaultAzureCredential warns of each failure itself; our code logs it once, shorter.
        "azure.identity": {"level": "ERROR"},
        # Request failures are logged once with their cause by Django's request logger.
        "django": {"level": LOG_LEVEL},
        # django-axes narrates every login at INFO; a failed login is one line of our own
        # (azureproject.apps), and axes keeps its warnings (a lockout).
        "axes": {"level": "WARNING"},
    },
}
