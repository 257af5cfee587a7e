"""What start.sh does before gunicorn, in one process: each `manage.py` run is a Django start
of its own, which an instance starting on a small App Service plan would otherwise pay three
times.

1. `migrate_with_lock`: migrate, one instance at a time. Its failure stops the start.
2. `check_storage`: whether photo storage works, said in the log. Browsing works without it,
   so a failure is a warning and the start goes on.
3. In Azure mode, `purge_orphan_photos`: photos no review references. A failure is a
   warning too; the next run (or the scheduled one) retries.

A failure it did not expect is logged with its traceback before the warning. Behind PgBouncer,
migrate_with_lock points this process's connection at the server itself, so the purge's scan
goes there too, as the migrations' work does, not through the transaction pooler.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger(__name__)

STORAGE_WARNING = "WARNING: photo uploads will fail until storage is fixed (see above)"
PURGE_WARNING = "WARNING: orphan photos stay until purge_orphan_photos runs again (see above)"


class Command(BaseCommand):
    help = "Migrate under the lock, check photo storage and (Azure mode) purge orphan photos."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate_with_lock", interactive=False, verbosity=options["verbosity"])
        self.warn_on_failure("check_storage", STORAGE_WARNING)
        if settings.AZURE_MODE:
            self.warn_on_failure("purge_orphan_photos", PURGE_WARNING)

    def warn_on_failure(self, name: str, warning: str) -> None:
        """Run the command `name`; if it fails, say why (its message, or the traceback of a
        fault it did not expect) and `warning`, and go on."""
        try:
            call_command(name, stdout=self.stdout, stderr=self.stderr)
        except CommandError as error:
            self.stderr.write(f"{error}\n{warning}")
        except Exception:
            logger.exception("%s failed", name)
            self.stderr.write(warning)
