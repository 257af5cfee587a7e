"""Django's own test suite against this app's PostgreSQL backend, beside Django's stock backend.

Not part of the test suite (it takes minutes): a report of how `azureproject.postgresql`
behaves where Django's tests look, with and without its pool (`DB_POOL=1`), run in parallel as
`runtests.py --parallel` runs it (one cloned database per process). Django's tests come
from the sdist of the installed Django version (pip downloads it once into
`.ci/cache/django-tests/`), or from `--tests DIR`.

The real pieces, as in the tests: PostgreSQL over TLS (localazure/postgres.py), logging in with
the tokens the test identity endpoint hands out (localazure/identity.py) for this backend, and with
a password for the stock one. Both roles may create databases (the test runner makes its own
and clones them); the token role is a superuser here only so that Django's tests that create
extensions run for both.

    .venv/bin/python -m benchmarks.django_suite                    # the default apps, 2 processes
    .venv/bin/python -m benchmarks.django_suite --parallel 4 backends queries

It prints, for each backend and mode, the tests run, failures, errors and skips, and the
errors that name a missing relation (a connection in another process's database) or a
database that is unavailable; the exit status is 1 when this backend has a failure or error
that the stock backend has not.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from localazure.postgres import (
    ADMIN_PASSWORD,
    PostgresApp,
    PostgresServer,
    find_bindir,
    make_postgres_app,
)
from localazure.services import PROJECT_DIR

# Django's tests that exercise the database backend most: connections, transactions, queries,
# schema changes, and the test runner's own database handling (3,188 tests in Django 5.2).
DEFAULT_LABELS = [
    "backends",
    "basic",
    "bulk_create",
    "db_functions",
    "expressions",
    "model_fields",
    "postgres_tests",
    "queries",
    "schema",
    "select_for_update",
    "test_runner",
    "transaction_hooks",
    "transactions",
]
CACHE = PROJECT_DIR / ".ci" / "cache" / "django-tests"

# What Django's test settings for PostgreSQL set besides the databases (tests/test_sqlite.py).
SETTINGS = """\
import json
import os

DATABASES = json.loads(os.environ["DJANGO_SUITE_DATABASES"])
SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False
# As on App Service: the managed identity's tokens (azureproject.credential).
AZURE_MODE = True
"""


@dataclass
class Outcome:
    name: str
    ours: bool  # this backend, or Django's stock one
    ran: int
    failures: int
    errors: int
    skipped: int
    missing_relation: int
    unavailable: int
    failed_tests: set[str]


def django_tests(given: Path | None) -> Path:
    """The `tests` directory of the installed Django's sdist."""
    if given is not None:
        return given
    import django

    version = django.__version__
    tests = CACHE / f"django-{version}" / "tests"
    if (tests / "runtests.py").exists():
        return tests
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-binary=:all:",
            f"django=={version}",
            "-d",
            str(CACHE),
        ],
        check=True,
    )
    with tarfile.open(CACHE / f"django-{version}.tar.gz") as sdist:
        members = [m for m in sdist.getmembers() if m.name.startswith(f"django-{version}/tests/")]
        sdist.extractall(CACHE, members=members, filter="data")
    return tests


def databases(app: PostgresApp, *, ours: bool, pool: bool) -> dict[str, dict[str, object]]:
    """`default` and `other`, as Django's test settings name them, on the test server."""
    from azureproject.config import database_settings

    env = {**app.env, "DB_POOL": "1" if pool else "0"}
    result = {}
    for alias in ("default", "other"):
        settings = database_settings(env, base_dir=PROJECT_DIR, azure=False)
        if not ours:  # Django's own backend, logging in as the administrator with a password
            settings["ENGINE"] = "django.db.backends.postgresql"
            settings["USER"] = "postgres"
            settings["PASSWORD"] = ADMIN_PASSWORD
        # Django's tests expect its default, a connection per request (some close theirs).
        settings["CONN_MAX_AGE"] = 0
        settings["TEST"] = {"NAME": f"test_suite_{alias}"}
        result[alias] = settings
    return result


def run(
    name: str,
    tests: Path,
    app: PostgresApp,
    labels: list[str],
    *,
    ours: bool,
    pool: bool,
    parallel: int,
    workdir: Path,
) -> Outcome:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "PYTHONPATH": f"{workdir}:{PROJECT_DIR}",
        "DJANGO_SUITE_DATABASES": json.dumps(databases(app, ours=ours, pool=pool)),
        **app.env,
    }
    command = [
        sys.executable,
        "runtests.py",
        "--settings=suite_settings",
        f"--parallel={parallel}",
        "--noinput",
        *labels,
    ]
    log = workdir / f"{name.replace(' ', '-')}.log"
    with log.open("w") as out:
        subprocess.run(command, cwd=tests, env=env, stdout=out, stderr=subprocess.STDOUT)
    text = log.read_text(errors="replace")
    ran = re.search(r"^Ran (\d+) tests?", text, re.M)
    summary = re.search(r"^(?:OK|FAILED)\b.*$", text, re.M)
    # "(failures=1, skipped=166, expected failures=5)"
    counted = r"(?:\(|, )(failures|errors|skipped)=(\d+)"
    found = re.findall(counted, summary.group(0) if summary else "")
    counts = {key: int(value) for key, value in found}
    failed = set(re.findall(r"^(?:ERROR|FAIL): (\S+ \([^)]*\))", text, re.M))
    return Outcome(
        name=name,
        ours=ours,
        ran=int(ran.group(1)) if ran else 0,
        failures=counts.get("failures", 0),
        errors=counts.get("errors", 0),
        skipped=counts.get("skipped", 0),
        missing_relation=len(re.findall(r'relation "[^"]+" does not exist', text)),
        unavailable=text.count("DatabaseUnavailable"),
        failed_tests=failed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", nargs="*", default=DEFAULT_LABELS)
    parser.add_argument("--tests", type=Path, help="Django's tests directory (default: sdist)")
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()

    bindir = find_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries not found (run-tests.sh installs them)")
    tests = django_tests(args.tests)
    server = PostgresServer(bindir).start()
    try:
        app = make_postgres_app(server)
        role = sql.Identifier(app.role)
        server.execute(sql.SQL("ALTER ROLE {} CREATEDB SUPERUSER").format(role))
        workdir = Path(tempfile.mkdtemp(prefix="django-suite-"))
        (workdir / "suite_settings.py").write_text(SETTINGS)
        modes = [
            ("stock", False, False),
            ("stock, pooled", False, True),
            ("this backend", True, False),
            ("this backend, pooled", True, True),
        ]
        outcomes = []
        for name, ours, pool in modes:
            print(f"{name}: running {' '.join(args.labels)} ({args.parallel} processes)")
            outcomes.append(
                run(
                    name,
                    tests,
                    app,
                    args.labels,
                    ours=ours,
                    pool=pool,
                    parallel=args.parallel,
                    workdir=workdir,
                )
            )
        failing_only_here = only_with_this_backend(outcomes)
        report(outcomes, failing_only_here, workdir)
    finally:
        server.stop()
    sys.exit(1 if failing_only_here else 0)


def only_with_this_backend(outcomes: list[Outcome]) -> dict[str, list[str]]:
    """Per run of this backend, the tests failing there that pass with the stock one."""
    stock = set().union(*(o.failed_tests for o in outcomes if not o.ours))
    extra = {o.name: sorted(o.failed_tests - stock) for o in outcomes if o.ours}
    return {name: tests for name, tests in extra.items() if tests}


def report(outcomes: list[Outcome], failing_only_here: dict[str, list[str]], workdir: Path) -> None:
    print()
    header = "| backend | ran | failures | errors | skipped | missing relation | unavailable |"
    print(header)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for o in outcomes:
        print(
            f"| {o.name} | {o.ran:,} | {o.failures} | {o.errors} | {o.skipped:,} "
            f"| {o.missing_relation} | {o.unavailable} |"
        )
    for name, tests in failing_only_here.items():
        print(f"\n{name}: failing where the stock backend passes:")
        print(textwrap.indent("\n".join(tests), "  "))
    print(f"\nLogs: {workdir}")


if __name__ == "__main__":
    main()
