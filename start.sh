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

# Static files: collected when there are none yet (the build may have done it) or when a file
# in static/ is newer than the collection, so a changed stylesheet is never served stale under
# its old hashed name. Instances starting together on one machine take turns (flock, where
# there is one) and look again once it is their turn: a second collection while the first
# instance's workers load the files would pull them from under it.
collect_if_stale() {
  if [ ! -f staticfiles/staticfiles.json ] \
    || [ -n "$(find static -newer staticfiles/staticfiles.json -print -quit)" ]; then
    "$PYTHON" manage.py collectstatic --noinput --verbosity 0
  fi
}
if command -v flock >/dev/null 2>&1; then
  export -f collect_if_stale
  export PYTHON
  flock .collectstatic.lock bash -c collect_if_stale
else
  collect_if_stale
fi

exec "$PYTHON" -m gunicorn azureproject.wsgi --config gunicorn.conf.py
