# Sourced by start.sh, run-tests.sh and scripts/collect-static.sh: `use_python REQUIREMENTS_FILE`
# sets PYTHON to an interpreter that has REQUIREMENTS_FILE installed, wherever the scripts run:
# - PYTHON already set: that interpreter, as it is (you, or the tests, installed what it needs);
# - App Service (WEBSITE_HOSTNAME set): its build installed the requirements into its own
#   environment, so `python3`, and nothing is installed;
# - inside an activated virtual environment (VIRTUAL_ENV): that environment;
# - anywhere else: the project's own .venv, made with `python3 -m venv` on first use, which
#   also works where `pip install` into the system Python is refused (PEP 668).
# Requirements are installed when the files changed since the last install into that
# environment, so a second start installs nothing.

# stamped FILE VALUE: whether FILE records VALUE, the inputs (requirement files, pinned
# versions) of what was installed when it was written; an install writes it once it succeeded.
stamped() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

use_python() {
  local requirements="$1" venv stamp wanted
  if [ -n "${PYTHON:-}" ]; then return 0; fi
  if [ -n "${WEBSITE_HOSTNAME:-}" ]; then PYTHON=python3; return 0; fi
  if [ -n "${VIRTUAL_ENV:-}" ]; then
    venv="$VIRTUAL_ENV"
  else
    venv="$PWD/.venv"
    if [ ! -x "$venv/bin/python" ]; then
      printf '==> Making a virtual environment in .venv (with %s)\n' "$(command -v python3)"
      if ! python3 -m venv "$venv"; then
        rm -rf "$venv"
        printf 'Could not make .venv: install the venv module (Debian/Ubuntu: apt-get install python3-venv) or activate a virtual environment.\n' >&2
        return 1
      fi
    fi
  fi
  PYTHON="$venv/bin/python"
  # requirements-dev.txt includes requirements.txt: both decide what is installed.
  wanted="$(cat requirements*.txt | cksum)"
  stamp="$venv/.restaurant-review-$(basename "$requirements").installed"
  if ! stamped "$stamp" "$wanted"; then
    printf '==> Installing %s into %s\n' "$requirements" "$venv"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    printf '%s\n' "$wanted" >"$stamp"
  fi
}
