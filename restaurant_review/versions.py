"""The content versions that cached pages are keyed on (restaurant_review.caching): the site's
(models.ContentVersion) for the lists, each restaurant's (Restaurant.version) for its pages,
and a restaurant's opening-hours status, which the clock moves without a write. Read and moved
on in plain SQL: every page reads one, and building the query with the ORM would cost more
than running it."""

import time
from typing import Any, NamedTuple

from django.db import connections, models

from restaurant_review import hours
from restaurant_review.models import ContentVersion, Restaurant


def content_changed(*restaurant_ids: int | None) -> None:
    """Record a change to what these restaurants' pages show, and so to the site's lists:
    call it after writing (the signals in restaurant_review.signals do, for saves and deletes
    of restaurants and reviews; bulk writes call it themselves)."""
    ids = {pk for pk in restaurant_ids if pk is not None}
    if ids:
        Restaurant.objects.filter(pk__in=ids).update(version=models.F("version") + 1)
    updated = ContentVersion.objects.filter(pk=ContentVersion.SITE).update(
        value=models.F("value") + 1
    )
    if not updated:
        _recreate_site_version()


def _recreate_site_version() -> int:
    """The row was deleted: start again from the clock in nanoseconds, beyond any count it
    had reached, so no key used before comes back."""
    row, _ = ContentVersion.objects.get_or_create(
        pk=ContentVersion.SITE, defaults={"value": time.time_ns()}
    )
    return row.value


def _one_row(sql: str, pk: int) -> tuple[Any, ...] | None:
    """The row `pk` that `sql` selects, or None."""
    with connections["default"].cursor() as cursor:
        cursor.execute(sql, [pk])
        return cursor.fetchone()


def site_version() -> int:
    """The site's content version (ContentVersion)."""
    table = ContentVersion._meta.db_table
    row = _one_row(f"SELECT value FROM {table} WHERE id = %s", ContentVersion.SITE)
    return row[0] if row else _recreate_site_version()


class RestaurantState(NamedTuple):
    """What a restaurant's cached pages are keyed on: its version, and whether it is open now
    (its opening hours' status changes with the clock, not with a write)."""

    version: int
    hours: str


def restaurant_state(pk: int) -> RestaurantState | None:
    """The restaurant's version and its opening hours' status now; None if there is no such
    restaurant."""
    row = _one_row(
        f"SELECT version, opening_hours FROM {Restaurant._meta.db_table} WHERE id = %s", pk
    )
    if row is None:
        return None
    status = hours.status(row[1], hours.local_now())
    return RestaurantState(row[0], status.text if status else "")
