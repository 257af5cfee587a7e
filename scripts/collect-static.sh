#!/usr/bin/env bash
# Collect the static files into staticfiles/ when there are none yet (the build may have done
# it) or when a file in static/ is newer than the collection, so a changed stylesheet is never
# served stale under its old hashed name. Used by start.sh, and by the tests once per run
# before any server starts. Processes on one machine take turns (flock, where there is one) and
# look again once it is their turn: a second collection while another instance's workers load
# the files would pull them from under it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/python-env.sh
use_python requirements.txt

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
