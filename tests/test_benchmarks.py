"""The benchmark's own views measure what they say (benchmarks/instrument.py)."""

import re
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client

from benchmarks import instrument
from benchmarks.run import overran


@pytest.fixture
def benchmark_urls(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark's settings on top of the tests' (benchmarks/settings.py)."""
    settings.ROOT_URLCONF = "benchmarks.urls"
    settings.MIDDLEWARE = ["benchmarks.instrument.QueryCountMiddleware", *settings.MIDDLEWARE]
    monkeypatch.setattr(instrument, "_keys_read_once", {})


def without_csrf_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_the_unchecked_restaurant_page_is_the_page_without_its_version_query(
    benchmark_urls: None, client: Client, make_review: Any
) -> None:
    review = make_review(review_text="Crisp and hot.")
    restaurant = review.restaurant
    client.get(restaurant.get_absolute_url())  # drawn and cached
    checked = client.get(restaurant.get_absolute_url())
    unchecked_url = f"/__unchecked__/restaurant/{restaurant.pk}/"
    first = client.get(unchecked_url)  # reads the version, once
    again = client.get(unchecked_url)
    assert checked.status_code == first.status_code == again.status_code == HTTPStatus.OK
    assert checked["X-Query-Count"] == first["X-Query-Count"] == "1"
    assert again["X-Query-Count"] == "0"
    html = without_csrf_tokens(again.content.decode())
    assert "Crisp and hot." in html
    assert html == without_csrf_tokens(checked.content.decode())

    # What it leaves out: a new review shows on the page, never on the unchecked one.
    make_review(restaurant=restaurant, review_text="Cold by now.")
    assert "Cold by now." in client.get(restaurant.get_absolute_url()).content.decode()
    assert "Cold by now." not in client.get(unchecked_url).content.decode()


def test_a_load_run_that_took_far_longer_than_asked_is_flagged() -> None:
    # wrk keeps within a tenth of a second of its duration; a paused machine does not.
    assert not overran(4.1, 4) and not overran(5.0, 4)
    assert overran(27.0, 4) and overran(8.0, 4)
