#!/usr/bin/env bash
# Start Restaurant Review: App Service's startup command, and the README's "run" command.
# Off App Service it installs requirements.txt into a virtual environment first, when needed
# (scripts/python-env.sh); on App Service the build has installed them, and nothing is installed.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/python-env.sh
use_python requirements.txt

# Migrate once per deploy; on PostgreSQL under an advisory lock, so instances starting together
# wait for each other instead of racing (on the server itself, never through PgBouncer).
"$PYTHON" manage.py migrate_with_lock --noinput

# Say at startup, in the log, if the photo container is missing or the identity lacks rights.
# Browsing works without photo storage, so this warns rather than stopping the app.
"$PYTHON" manage.py check_storage || echo "WARNING: photo uploads will fail until storage is fixed (see above)" >&2

# Azure mode: delete photos that no review references (uploads that finished after their
# request gave up); it also runs on a schedule (README). A failure here never stops the app.
if [ -n "${WEBSITE_HOSTNAME:-}" ]; then
  "$PYTHON" manage.py purge_orphan_photos || echo "WARNING: purge_orphan_photos failed (see above)" >&2
fi

# Static files, collected when there are none yet or static/ changed (scripts/collect-static.sh).
PYTHON="$PYTHON" bash scripts/collect-static.sh

exec "$PYTHON" -m gunicorn azureproject.wsgi --config gunicorn.conf.py
