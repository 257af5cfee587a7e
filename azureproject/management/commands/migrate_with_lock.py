"""`migrate`, serialised across instances by a PostgreSQL advisory lock.

App Service starts every instance of a scaled-out app with the same startup command; without
the lock, two instances could apply the same migration at once and one would fail.
"""

import logging
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

logger = logging.getLogger(__name__)

# An arbitrary, fixed key for this app's migration lock.
MIGRATION_LOCK_KEY = 0x52455649  # "REVI"


class Command(BaseCommand):
    help = "Run migrate; on PostgreSQL, one instance at a time (advisory lock)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            call_command(
                "migrate", interactive=options["interactive"], verbosity=options["verbosity"]
            )
            return
        with connection.cursor() as cursor:
            logger.info("Waiting for the migration lock")
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            try:
                logger.info("Holding the migration lock; migrating")
                call_command(
                    "migrate", interactive=options["interactive"], verbosity=options["verbosity"]
                )
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
