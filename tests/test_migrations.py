"""Migrations on a database that already holds data: restaurants listed before their details
existed migrate cleanly and are found by the new search."""

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("restaurant_review", "0009_moderation")]


@pytest.mark.django_db(transaction=True)
def test_restaurants_listed_before_the_details_migrate_and_are_searchable() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps: Any = executor.loader.project_state(BEFORE).apps
    OldRestaurant = old_apps.get_model("restaurant_review", "Restaurant")
    OldRestaurant.objects.create(name="Taquería Doña Lupe", street_address="1 Main St")
    OldRestaurant.objects.create(name="Café Lumière", street_address="2 Main St")

    executor = MigrationExecutor(connection)  # reload: the graph as it stands now
    executor.migrate(executor.loader.graph.leaf_nodes())

    from restaurant_review.models import Restaurant

    lupe = Restaurant.objects.get(name="Taquería Doña Lupe")
    assert (lupe.cuisine, lupe.neighbourhood, lupe.price_level, lupe.phone, lupe.website) == (
        "",
        "",
        None,
        "",
        "",
    )
    assert [r.name for r in Restaurant.objects.search("dona lup")] == ["Taquería Doña Lupe"]
    assert [r.name for r in Restaurant.objects.search("LUMIERE cafe")] == ["Café Lumière"]
    lupe.full_clean()  # the new fields' defaults pass validation
