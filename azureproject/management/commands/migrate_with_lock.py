"""`migrate`, serialised across instances by a PostgreSQL advisory lock.

App Service starts every instance of a scaled-out app with the same startup command; without
the lock, two instances could apply the same migration at once and one would fail.

The lock belongs to a session, and through PgBouncer in transaction mode a session is not
one server connection (each transaction may run on another, and a lock taken on one stays
held there after the client is gone). So behind PgBouncer the command connects to the server
itself (DIRECT_PORT, same host, same token), as migrations should anyway: their DDL and long
transactions are what a transaction pooler is not for.
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
        if connection.settings_dict.get("PGBOUNCER"):
            # Before the first connection of this process: every query of the command
            # (the lock, the migrations, their post-migrate handlers) goes to the server.
            connection.close()
            connection.settings_dict["PORT"] = connection.settings_dict["DIRECT_PORT"]
            logger.info(
                "Migrating on the server itself (port %s), not through PgBouncer",
                connection.settings_dict["PORT"],
            )
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
