"""The production settings, plus what the benchmark measures with: a bare view (the ceiling)
and a response header with the number of SQL queries each request ran."""

from azureproject.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
MIDDLEWARE = ["benchmarks.instrument.QueryCountMiddleware", *MIDDLEWARE]  # noqa: F405
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "benchmarks" / "templates"]  # noqa: F405
