#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "azureproject.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from azureproject.errors import DependencyUnavailable

    try:
        execute_from_command_line(sys.argv)
    except (DependencyUnavailable, ImproperlyConfigured) as exc:
        # A missing setting, a missing token or an unreachable database is an operational
        # problem, not a bug: say what failed in one line and exit non-zero, no traceback.
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
