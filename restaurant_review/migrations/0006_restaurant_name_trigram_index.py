"""A trigram index for the home page's search, on PostgreSQL only.

Django's `icontains` is `UPPER(name::text) LIKE UPPER('%text%')` on PostgreSQL, which no btree
index can serve; a GIN index of pg_trgm trigrams over the same expression can. pg_trgm is a
trusted extension, but the app's role may not create extensions: `manage.py
grant_identity_access` creates it as the administrator (after deploy.sh has allow-listed it on
Azure, server parameter `azure.extensions`). Without it, this migration warns and the search
works unindexed; after creating the extension, migrate back to 0005 and forward again.
Restaurants are added rarely, so new names go straight into the index (fastupdate off) rather
than to a pending list that the planner would count against the index until autovacuum has
merged it. SQLite has no such index type: there the migration does nothing.
"""

import logging
from typing import Any

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

INDEX = "restaurant_name_trgm_idx"
TABLE = "restaurant_review_restaurant"


def create_index(apps: Any, schema_editor: Any) -> None:
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
                    "then `manage.py migrate restaurant_review 0005` and `manage.py migrate`.",
                    INDEX,
                    str(exc).strip().splitlines()[0],
                )
                return
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON {TABLE} "
            "USING gin ((UPPER(name::text)) gin_trgm_ops) WITH (fastupdate = off)"
        )


def drop_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("restaurant_review", "0005_visible_text"),
    ]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
