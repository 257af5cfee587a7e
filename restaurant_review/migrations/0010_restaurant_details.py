"""A restaurant's details (cuisine, neighbourhood, price, phone, website) and the folded
columns search reads (restaurant_review.search), filled here for the restaurants listed."""

import django.core.validators
from django.db import migrations, models

import restaurant_review.validators
from restaurant_review.search import folded


def fill_search_columns(apps, schema_editor):
    """Existing rows have no cuisine or neighbourhood yet: their name is all search reads."""
    Restaurant = apps.get_model("restaurant_review", "Restaurant")
    rows = list(Restaurant.objects.only("pk", "name"))
    for row in rows:
        row.search_name = row.search_text = folded(row.name)
    Restaurant.objects.bulk_update(rows, ["search_name", "search_text"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("restaurant_review", "0009_moderation"),
    ]

    operations = [
        migrations.AddField(
            model_name="restaurant",
            name="cuisine",
            field=models.CharField(
                blank=True,
                choices=[
                    ("american", "American"),
                    ("bakery", "Bakery"),
                    ("barbecue", "Barbecue"),
                    ("cafe", "Café"),
                    ("chinese", "Chinese"),
                    ("ethiopian", "Ethiopian"),
                    ("french", "French"),
                    ("greek", "Greek"),
                    ("indian", "Indian"),
                    ("italian", "Italian"),
                    ("japanese", "Japanese"),
                    ("korean", "Korean"),
                    ("mediterranean", "Mediterranean"),
                    ("mexican", "Mexican"),
                    ("middle-eastern", "Middle Eastern"),
                    ("pizza", "Pizza"),
                    ("seafood", "Seafood"),
                    ("spanish", "Spanish"),
                    ("thai", "Thai"),
                    ("vegetarian", "Vegetarian"),
                    ("vietnamese", "Vietnamese"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="restaurant",
            name="neighbourhood",
            field=models.CharField(
                blank=True,
                max_length=60,
                validators=[restaurant_review.validators.validate_visible_text],
            ),
        ),
        migrations.AddField(
            model_name="restaurant",
            name="phone",
            field=models.CharField(
                blank=True, max_length=30, validators=[restaurant_review.validators.validate_phone]
            ),
        ),
        migrations.AddField(
            model_name="restaurant",
            name="price_level",
            field=models.PositiveSmallIntegerField(
                blank=True,
                choices=[
                    (1, "$ · inexpensive"),
                    (2, "$$ · moderate"),
                    (3, "$$$ · expensive"),
                    (4, "$$$$ · very expensive"),
                ],
                null=True,
                verbose_name="price",
            ),
        ),
        migrations.AddField(
            model_name="restaurant",
            name="search_name",
            field=models.TextField(default="", editable=False),
        ),
        migrations.AddField(
            model_name="restaurant",
            name="search_text",
            field=models.TextField(default="", editable=False),
        ),
        migrations.AddField(
            model_name="restaurant",
            name="website",
            field=models.URLField(
                blank=True,
                validators=[
                    django.core.validators.URLValidator(
                        message="Enter a web address starting with https:// or http://.",
                        schemes=["http", "https"],
                    )
                ],
            ),
        ),
        migrations.AddConstraint(
            model_name="restaurant",
            constraint=models.CheckConstraint(
                condition=models.Q(("price_level__gte", 1), ("price_level__lte", 4)),
                name="restaurant_price_level_1_to_4",
            ),
        ),
        migrations.RunPython(fill_search_columns, migrations.RunPython.noop),
    ]
