"""Opening hours (restaurant_review.hours), and search of descriptions (dish words): the folded
description in a column of its own, with its own trigram index on PostgreSQL (_trigram.py), so
that the index of the short search_text stays as selective as it was."""

from typing import Any

from django.db import migrations, models

from restaurant_review.migrations._trigram import create_trigram_index, drop_index
from restaurant_review.search import folded

INDEX = "restaurant_description_trgm_idx"


def fill_and_index(apps: Any, schema_editor: Any) -> None:
    Restaurant = apps.get_model("restaurant_review", "Restaurant")
    rows = list(Restaurant.objects.exclude(description="").only("pk", "description"))
    for row in rows:
        row.search_description = folded(row.description)
    Restaurant.objects.bulk_update(rows, ["search_description"], batch_size=500)
    create_trigram_index(schema_editor, index=INDEX, expression="search_description", before="0012")


def drop(apps: Any, schema_editor: Any) -> None:
    drop_index(schema_editor, INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("restaurant_review", "0012_posting_counts"),
    ]

    operations = [
        migrations.AddField(
            model_name="restaurant",
            name="opening_hours",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="restaurant",
            name="search_description",
            field=models.TextField(default="", editable=False),
        ),
        migrations.RunPython(fill_and_index, drop, elidable=False),
    ]
