"""Opening hours: typed per day in the public form and the admin, shown on the restaurant's
page with "Open now" or "Closed" by the site's clock, in its JSON-LD, and never stale in the
page cache when the clock, not a write, changes what the page should say."""

import json
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from restaurant_review import hours
from restaurant_review.models import Restaurant
from tests import rich_results

# A Wednesday, in the site's zone (the tests' settings: UTC).
WEDNESDAY = datetime(2026, 12, 9, tzinfo=ZoneInfo("UTC"))
LUNCH_AND_DINNER = "\n".join(["11:30-14:30,17:00-22:00"] * 5 + ["12:00-02:00", ""])


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """WEDNESDAY's week, Monday = 0, at hour:minute."""
    return WEDNESDAY.replace(day=WEDNESDAY.day - 2 + day, hour=hour, minute=minute)


@pytest.mark.parametrize(
    ("typed", "ranges"),
    [
        ("", []),
        ("Closed", []),
        ("11:30-22:00", [(690, 1320)]),
        ("17:00 - 22:00, 11:30–14:30", [(690, 870), (1020, 1320)]),
        ("9am to 5pm", [(540, 1020)]),
        ("9-5pm", [(540, 1020)]),  # the half of the day said once, and 9pm would be after 5pm
        ("6-11pm", [(1080, 1380)]),
        ("11:30am-2:30pm", [(690, 870)]),
        ("12pm-12am", [(720, 1440)]),
        ("18:00-02:00", [(1080, 120)]),  # past midnight
        ("00:00-24:00", [(0, 1440)]),
        ("24 hours", [(0, 1440)]),
    ],
)
def test_a_day_is_read_as_diners_write_it(typed: str, ranges: list[tuple[int, int]]) -> None:
    assert hours.parse_day(typed) == ranges
    assert hours.parse_day(hours.editable(ranges)) == ranges  # what the form shows reads back


@pytest.mark.parametrize("typed", ["noon", "25:00-26:00", "9-9", "13pm-2", "10:61-11", "9-"])
def test_a_day_that_cannot_be_read_is_refused_with_a_message(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        hours.parse_day(typed)
    assert refused.value.messages[0].endswith(".")


@pytest.mark.parametrize(
    ("now", "said"),
    [
        (at(2, 12), "Open now · until 14:30"),
        (at(2, 15), "Closed · opens 17:00"),
        (at(2, 23), "Closed · opens tomorrow 11:30"),
        (at(2, 9), "Closed · opens 11:30"),
        (at(5, 23, 30), "Open now · until 02:00"),  # Saturday night, past midnight
        (at(6, 1, 15), "Open now · until 02:00"),  # Sunday morning, Saturday's range
        (at(6, 3), "Closed · opens tomorrow 11:30"),  # closed on Sunday
        (at(4, 23), "Closed · opens tomorrow 12:00"),
    ],
)
def test_open_or_closed_and_until_when(now: datetime, said: str) -> None:
    status = hours.status(LUNCH_AND_DINNER, now)
    assert status is not None and status.text == said
    assert status.open == said.startswith("Open")


def test_hours_past_the_end_of_the_week_and_all_day() -> None:
    sunday_late = "\n".join([""] * 6 + ["20:00-03:00"])
    assert hours.status(sunday_late, at(0, 2)).text == "Open now · until 03:00"  # type: ignore[union-attr]
    always = "\n".join(["00:00-24:00"] * 7)
    assert hours.status(always, at(3, 4)).text == "Open now · 24 hours"  # type: ignore[union-attr]
    to_midnight = "\n".join(["18:00-24:00"] * 7)
    assert hours.status(to_midnight, at(3, 20)).text == "Open now · until midnight"  # type: ignore[union-attr]
    assert hours.status("", at(3, 20)) is None  # not known: nothing said
    mondays = "11:30-22:00\n\n\n\n\n\n"
    assert hours.status(mondays, at(2, 12)).text == "Closed · opens Mon 11:30"  # type: ignore[union-attr]
    assert hours.status(mondays, at(0, 23)).text == "Closed · opens Mon 11:30"  # type: ignore[union-attr]


def fields(**days: str) -> dict[str, str]:
    return {f"hours_{day}": text for day, text in days.items()}


@pytest.mark.django_db
def test_hours_entered_in_the_public_form_show_on_the_page(client: Client) -> None:
    data = {"name": "Hours Place", "street_address": "2 Clock St"}
    refused = client.post(
        reverse("restaurant_review:create_restaurant"), {**data, **fields(friday="late")}
    )
    assert refused.status_code == 400
    page = refused.content.decode()
    assert '<a href="#id_hours_friday">Enter times like' in page  # the summary links to it
    assert 'value="late"' in page  # what was typed comes back
    assert Restaurant.objects.count() == 0

    week = fields(monday="11:30-22:00", tuesday="9am-5pm", saturday="18:00-02:00")
    added = client.post(reverse("restaurant_review:create_restaurant"), {**data, **week})
    assert added.status_code == 302
    restaurant = Restaurant.objects.get()
    assert restaurant.opening_hours == "11:30-22:00\n09:00-17:00\n\n\n\n18:00-02:00\n"
    html = client.get(restaurant.get_absolute_url()).content.decode()
    assert re.search(
        r"<th scope=\"row\">Tuesday[^<]*(<span[^>]*>[^<]*</span>)?</th><td>09:00–17:00</td>", html
    )
    assert '<th scope="row">Sunday' in html and "<td>Closed</td>" in html
    status = restaurant.hours_status()
    assert status is not None and status.text in html


@pytest.mark.django_db
def test_a_restaurant_without_hours_says_nothing_of_them(
    client: Client, make_restaurant: Any
) -> None:
    html = client.get(make_restaurant().get_absolute_url()).content.decode()
    assert "Opening hours" not in html and "Open now" not in html and "Closed ·" not in html


@pytest.mark.django_db
def test_the_admin_edits_hours_per_day(admin_client: Client, make_restaurant: Any) -> None:
    restaurant = make_restaurant(opening_hours=LUNCH_AND_DINNER)
    url = reverse("admin:restaurant_review_restaurant_change", args=[restaurant.pk])
    form = admin_client.get(url).content.decode()
    assert 'name="hours_saturday" value="12:00-02:00"' in form
    assert 'name="hours_sunday" value="closed"' in form
    data = {
        "name": restaurant.name,
        "street_address": restaurant.street_address,
        "description": "",
        "cuisine": "",
        "neighbourhood": "",
        "price_level": "",
        "phone": "",
        "website": "",
        **fields(monday="8am-4pm", sunday="10-2pm"),
        "reviews-TOTAL_FORMS": "0",
        "reviews-INITIAL_FORMS": "0",
    }
    assert admin_client.post(url, data).status_code == 302
    restaurant.refresh_from_db()
    assert restaurant.opening_hours == "08:00-16:00\n\n\n\n\n\n10:00-14:00"
    data.update(fields(monday="", sunday=""))
    assert admin_client.post(url, data).status_code == 302
    restaurant.refresh_from_db()
    assert restaurant.opening_hours == ""  # every day empty: not known


@pytest.mark.django_db
def test_the_cached_page_follows_the_clock(
    client: Client, make_restaurant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page drawn while open is not served from the cache once the restaurant has closed:
    no write happened, but its key carries the status."""
    restaurant = make_restaurant(opening_hours=LUNCH_AND_DINNER)
    clock = {"now": at(2, 12)}
    monkeypatch.setattr(hours, "local_now", lambda: clock["now"])
    url = restaurant.get_absolute_url()
    assert "Open now · until 14:30" in client.get(url).content.decode()
    etag = client.get(url)["ETag"]
    clock["now"] = at(2, 15)
    later = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert later.status_code == 200  # not 304: the page has changed
    assert "Closed · opens 17:00" in later.content.decode()
    assert "Open now" not in later.content.decode()


@pytest.mark.django_db
def test_hours_are_in_the_json_ld_as_schema_org_expects(
    client: Client, make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant(
        opening_hours=LUNCH_AND_DINNER, price_level=2, phone="206 555 0100"
    )
    make_review(restaurant=restaurant, rating=4)
    html = client.get(restaurant.get_absolute_url()).content.decode()
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found is not None
    data = json.loads(found.group(1))
    assert rich_results.problems(data) == []
    specs = data["openingHoursSpecification"]
    assert len(specs) == 11  # two ranges on five days, one on Saturday
    saturday = [s for s in specs if s["dayOfWeek"] == "https://schema.org/Saturday"]
    assert saturday == [
        {
            "@type": "OpeningHoursSpecification",
            "dayOfWeek": "https://schema.org/Saturday",
            "opens": "12:00",
            "closes": "02:00",
        }
    ]


def test_the_rich_results_checker_finds_what_would_be_refused() -> None:
    """The checker itself: each of these would keep a page from a rich result."""
    good: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Restaurant",
        "name": "A",
        "url": "https://example.test/restaurant/1/",
        "address": {"@type": "PostalAddress", "streetAddress": "1 Main St"},
        "aggregateRating": {"@type": "AggregateRating", "ratingValue": "4.5", "reviewCount": 2},
    }
    assert rich_results.problems(good) == []
    broken = [
        {**good, "name": ""},
        {**good, "url": "/restaurant/1/"},
        {**good, "address": "1 Main St"},
        {**good, "aggregateRating": {**good["aggregateRating"], "ratingValue": "7"}},
        {**good, "aggregateRating": {"@type": "AggregateRating", "ratingValue": "4"}},
        {**good, "review": [{"@type": "Review", "author": "Bo", "reviewRating": {}}]},
        {**good, "ratingValue": "4"},  # a Rating's property, not a Restaurant's
        {
            **good,
            "openingHoursSpecification": [
                {"@type": "OpeningHoursSpecification", "dayOfWeek": "Mon", "opens": "9"}
            ],
        },
    ]
    for data in broken:
        assert rich_results.problems(data), data
