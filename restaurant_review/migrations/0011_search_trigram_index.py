"""Search reads the folded name, cuisine and neighbourhood (Restaurant.search_text, one
`LIKE '% word%'` per word typed): a trigram index of that column serves it on PostgreSQL, and
the index of UPPER(name) that the old search used (0006) goes. See _trigram.py for the extension and
what happens without it."""

from typing import Any

from django.db import migrations

from restaurant_review.migrations._trigram import create_trigram_index, drop_index

INDEX = "restaurant_search_trgm_idx"
OLD_INDEX = "restaurant_name_trgm_idx"


def create_index(apps: Any, schema_editor: Any) -> None:
    create_trigram_index(schema_editor, index=INDEX, expression="search_text", before="0010")
    drop_index(schema_editor, OLD_INDEX)


def drop(apps: Any, schema_editor: Any) -> None:
    drop_index(schema_editor, INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("restaurant_review", "0010_restaurant_details"),
    ]

    operations = [migrations.RunPython(create_index, drop, elidable=False)]
