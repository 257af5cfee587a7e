#!/usr/bin/env bash
# Start Restaurant Review: App Service's startup command, and the README's "run" command.
# Off App Service it installs requirements.txt into a virtual environment first, when needed
# (scripts/python-env.sh); on App Service the build has installed them, and nothing is installed.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/python-env.sh
use_python requirements.txt

# Migrate once per deploy (on PostgreSQL under an advisory lock, so instances starting together
# wait for each other instead of racing, on the server itself, never through PgBouncer); say in
# the log if the photo container is missing or the identity lacks rights (a warning: browsing
# works without photo storage); in Azure mode, delete photos that no review references (uploads
# that finished after their request gave up; it also runs on a schedule, README). One process
# (manage.py prepare_start); only a failed migration stops the start.
"$PYTHON" manage.py prepare_start

# Static files, collected when there are none yet or static/ changed (scripts/collect-static.sh).
PYTHON="$PYTHON" bash scripts/collect-static.sh

exec "$PYTHON" -m gunicorn azureproject.wsgi --config gunicorn.conf.py
