"""Trigram (pg_trgm) GIN indexes for search, on PostgreSQL only; shared by the migrations
that create them. (Django's migration loader skips modules whose names start with "_".)

pg_trgm is a trusted extension, but the app's role may not create extensions: `manage.py
grant_identity_access` creates it as the administrator (after deploy.sh has allow-listed it on
Azure, server parameter `azure.extensions`). Without it, the migration warns and the search
works unindexed; after creating the extension, migrate back before the migration and forward
again. Restaurants are added rarely, so new rows go straight into the index (fastupdate off)
rather than to a pending list that the planner would count against the index until autovacuum
has merged it. SQLite has no such index type: there nothing is done.
"""

import logging
from typing import Any

from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)

TABLE = "restaurant_review_restaurant"


def create_trigram_index(schema_editor: Any, *, index: str, expression: str, before: str) -> None:
    """CREATE INDEX `index` USING gin (`expression` gin_trgm_ops), creating pg_trgm if this
    role may; else a warning that names migration `before` to go back to once it exists."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except DatabaseError as exc:
                logger.warning(
                    "Search index %s not created: the pg_trgm extension is missing and this "
                    "role cannot create it (%s). Search works without it, scanning every "
                    "restaurant; run `manage.py grant_identity_access` as the administrator, "
                    "then `manage.py migrate restaurant_review %s` and `manage.py migrate`.",
                    index,
                    str(exc).strip().splitlines()[0],
                    before,
                )
                return
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {index} ON {TABLE} "
            f"USING gin (({expression}) gin_trgm_ops) WITH (fastupdate = off)"
        )


def drop_index(schema_editor: Any, index: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")
