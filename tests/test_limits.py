"""Posting limits per visitor (restaurant_review/limits.py): each visitor its own loopback
address; counts shared by every worker through the limits cache; a 429 page in the site's
layout with Retry-After; the same review twice refused; a restaurant listed twice pointed to."""

import io
import random
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory
from django.urls import reverse
from PIL import Image
from pytest_django.asserts import assertContains, assertRedirects

from localazure.services import app_server, base_env, migrated_sqlite, post_form, shell_output
from restaurant_review import limits
from restaurant_review.limits import Rate, parse_rates
from restaurant_review.models import Restaurant, Review
from tests.helpers import image_bytes, upload, within_one_window

pytestmark = pytest.mark.django_db

CREATE = reverse("restaurant_review:create_restaurant")


def visitor(number: int) -> Client:
    return Client(REMOTE_ADDR=f"127.0.0.{number}")


def post_review(client: Client, restaurant: Restaurant, text: str, **extra: Any) -> Any:
    data = {"user_name": "Ana", "rating": "4", "review_text": text, **extra}
    return client.post(reverse("restaurant_review:add_review", args=[restaurant.pk]), data)


def test_rates_read_from_settings_text() -> None:
    assert parse_rates("5/10m, 20/1d") == (Rate(5, 600), Rate(20, 86400))
    assert parse_rates("3/h") == (Rate(3, 3600),)
    assert [r.window() for r in parse_rates("1/10m,1/1h,1/2d")] == ["10 minutes", "hour", "2 days"]
    with pytest.raises(ValueError, match="not a rate"):
        parse_rates("five a day")


def test_a_sixth_review_in_ten_minutes_gets_a_429_page_and_others_still_post(
    make_restaurant: Any,
) -> None:
    restaurant = make_restaurant()
    poster = visitor(2)
    answers = [post_review(poster, restaurant, f"Visit {n}: fine.").status_code for n in range(5)]
    assert answers == [HTTPStatus.FOUND] * 5
    refused = post_review(poster, restaurant, "Visit 6: fine.")
    assertContains(refused, "Too many posts (429)", status_code=HTTPStatus.TOO_MANY_REQUESTS)
    assertContains(refused, "5 reviews per 10 minutes", status_code=429)
    assertContains(refused, "Back to the restaurants", status_code=429)  # the site's layout
    assert 0 < int(refused["Retry-After"]) <= 600
    assert Review.objects.count() == 5
    # Another visitor is not held back by that one.
    assert post_review(visitor(3), restaurant, "My own visit.").status_code == HTTPStatus.FOUND


def test_a_form_with_errors_is_not_counted(make_restaurant: Any) -> None:
    restaurant, poster = make_restaurant(), visitor(4)
    for n in range(8):
        post_review(poster, restaurant, f"Try {n}", rating="9")  # refused by the form
    assert post_review(poster, restaurant, "Now right.").status_code == HTTPStatus.FOUND


def test_over_the_limit_no_photo_is_decoded(
    make_restaurant: Any, monkeypatch: Any, settings: Any
) -> None:
    settings.POST_LIMIT_RATES = {**settings.POST_LIMIT_RATES, "reviews": "1/10m"}
    restaurant, poster = make_restaurant(), visitor(5)
    assert post_review(poster, restaurant, "First.").status_code == HTTPStatus.FOUND

    def no_decoding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a photo was decoded for a post over the limit")

    monkeypatch.setattr("restaurant_review.forms.reencode_photo", no_decoding)
    refused = post_review(poster, restaurant, "Second.", photo=upload("a.jpg", image_bytes()))
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_stored_photo_bytes_are_limited_per_visitor(
    make_restaurant: Any, settings: Any, media_files: Any
) -> None:
    """POST_LIMIT_PHOTO_MB=1/1d: photos are accepted while what they store (renditions
    included) stays within 1 MB, then refused, and posting without a photo still works."""
    settings.POST_LIMIT_RATES = {**settings.POST_LIMIT_RATES, "photo_bytes": "1/1d"}
    settings.POST_LIMIT_RATES["reviews"] = settings.POST_LIMIT_RATES["photo_decodes"] = "99/1d"
    restaurant, poster = make_restaurant(), visitor(6)
    # Noise: it compresses little, so a few of these fill a megabyte.
    noise = Image.frombytes("RGB", (500, 400), random.Random(6).randbytes(500 * 400 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=90)
    photo = buffer.getvalue()
    statuses = []
    for n in range(40):
        response = post_review(poster, restaurant, f"Photo {n}.", photo=upload("a.jpg", photo))
        statuses.append(response.status_code)
        if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            break
    accepted = statuses.count(HTTPStatus.FOUND)
    assert accepted >= 1 and statuses[-1] == HTTPStatus.TOO_MANY_REQUESTS, statuses
    assert "1 MB of photos per day" in response.content.decode()
    stored = sum(path.stat().st_size for path in media_files())
    assert stored <= 1024 * 1024 < stored + stored / accepted  # one more would not fit
    # Without a photo, the same visitor may still post.
    assert post_review(poster, restaurant, "No photo.").status_code == HTTPStatus.FOUND


def test_restaurants_are_limited_per_visitor(db: None) -> None:
    adder = visitor(7)
    answers = [
        adder.post(CREATE, {"name": f"Place {n}", "street_address": f"{n} Main St"}).status_code
        for n in range(4)
    ]
    assert answers == [HTTPStatus.FOUND] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert Restaurant.objects.count() == 3


def test_posting_limits_off_lets_anything_through(make_restaurant: Any, settings: Any) -> None:
    settings.POST_LIMITS_ENABLED = False
    restaurant, poster = make_restaurant(), visitor(8)
    assert {post_review(poster, restaurant, "Same.").status_code for _ in range(7)} == {302}


def test_the_same_review_again_is_refused_with_a_clear_message(make_restaurant: Any) -> None:
    restaurant, poster = make_restaurant(), visitor(9)
    assert post_review(poster, restaurant, "Great  soup, kind staff.").status_code == 302
    again = post_review(poster, restaurant, "great soup,\nKIND staff. ")
    assertContains(again, "You have already posted this review", status_code=400)
    assertContains(again, "great soup,", status_code=400)  # what was typed is kept
    assert Review.objects.count() == 1
    # Elsewhere, or from someone else, the same words are fine.
    assert post_review(poster, make_restaurant(), "Great soup, kind staff.").status_code == 302
    assert post_review(visitor(10), restaurant, "Great soup, kind staff.").status_code == 302


def test_a_restaurant_listed_already_is_pointed_to(make_restaurant: Any) -> None:
    listed = make_restaurant(name="Café Olé", street_address="1 Main St")
    response = visitor(11).post(CREATE, {"name": "CAFÉ  olé", "street_address": " 1 main st"})
    assertRedirects(response, listed.get_absolute_url(), fetch_redirect_response=False)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "“Café Olé” is already listed: here it is."
    ]
    assert Restaurant.objects.count() == 1
    # Same name, another address: another restaurant.
    other = visitor(11).post(CREATE, {"name": "Café Olé", "street_address": "9 Bay St"})
    assert other.status_code == HTTPStatus.FOUND and Restaurant.objects.count() == 2


def test_visitors_in_azure_mode_are_told_apart_by_the_address_app_service_appends(
    make_restaurant: Any, settings: Any
) -> None:
    settings.AZURE_MODE = True
    settings.ALLOWED_HOSTS = ["*"]
    restaurant = make_restaurant()

    def post(n: int, forwarded: str) -> int:
        client = Client(HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="169.254.129.3")
        return post_review(client, restaurant, f"Review {n}.").status_code

    # Forged first entries do not make a new visitor.
    answers = [post(n, f"192.0.2.{n}, 203.0.113.5:4000") for n in range(6)]
    assert answers == [302] * 5 + [429]
    assert post(7, "203.0.113.6:4000") == 302


def test_an_ipv6_visitor_is_counted_by_its_64_prefix() -> None:
    factory = RequestFactory()
    one, two, far = (
        factory.get("/", REMOTE_ADDR=address)
        for address in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1")
    )
    assert limits.visitor(one) == limits.visitor(two) != limits.visitor(far)
    assert "2001" not in limits.visitor(one)  # a keyed digest, not the address


def test_the_limits_are_shared_by_the_workers_of_a_real_server(tmp_path: Path) -> None:
    """gunicorn with two workers: the counts live in the database, not in a worker."""
    env = base_env(
        SQLITE_PATH=str(migrated_sqlite(tmp_path / "db.sqlite3")),
        MEDIA_ROOT=str(tmp_path / "media"),
        WEB_CONCURRENCY="2",
        POST_LIMIT_REVIEWS="3/10m",
    )
    pk = shell_output(
        "from restaurant_review.models import Restaurant; "
        "print(Restaurant.objects.create(name='Shared', street_address='1 St').pk)",
        env=env,
    )
    page, action = f"/restaurant/{pk}/", f"/restaurant/{pk}/review/"
    with app_server(env, tmp_path / "server.log") as server:
        attempts: list[list[int]] = []

        def six_posts(attempt: int) -> list[int]:
            """From a new visitor on a second attempt: the server's clock is the real one, and its
            10-minute window may end amid the six posts (a new count)."""
            answers = [
                post_form(
                    server.url,
                    page,
                    action,
                    {"user_name": "Ana", "rating": "4", "review_text": f"Visit {n}."},
                    source=("127.0.0.20", "127.0.0.22")[attempt],
                )[0]
                for n in range(6)
            ]
            attempts.append(answers)
            return answers

        answers = within_one_window(lambda: time.time() // 600, six_posts)
        other = post_form(
            server.url,
            page,
            action,
            {"user_name": "Bo", "rating": "5", "review_text": "Mine."},
            source="127.0.0.21",
        )[0]
    assert answers == [302, 302, 302, 429, 429, 429]
    assert other == 302
    log = server.log()
    refused = sum(answered.count(429) for answered in attempts)  # each logged once
    assert log.count("Posting limit reached") == refused and "Traceback" not in log


def test_a_filled_bot_trap_is_refused_and_people_never_see_it(make_restaurant: Any) -> None:
    restaurant, bot = make_restaurant(), visitor(12)
    page = bot.get(restaurant.get_absolute_url()).content.decode()
    trap = page.split('<div class="trap" aria-hidden="true">')[1].split("</div>")[0]
    assert 'name="homepage"' in trap and 'tabindex="-1"' in trap and "Leave this empty" in trap
    refused = post_review(bot, restaurant, "Buy cheap pills.", homepage="http://spam.example")
    assertContains(refused, "a field meant to stay empty was filled in", status_code=400)
    added = bot.post(CREATE, {"name": "Spam", "street_address": "1 St", "homepage": "x"})
    assert added.status_code == HTTPStatus.BAD_REQUEST
    assert Review.objects.count() == 0 and Restaurant.objects.count() == 1
    # Left empty, as a person leaves it: accepted.
    assert post_review(bot, restaurant, "A real visit.", homepage="").status_code == 302


def test_a_visitors_second_upload_at_once_waits_and_others_upload_freely(
    make_restaurant: Any,
) -> None:
    """One visitor's uploads at once would take the photo decoders from everyone: their
    second one, while the first is processed (by any worker), comes back with its text."""
    restaurant, hurried = make_restaurant(), visitor(13)
    with limits.one_upload_at_a_time(hurried.get("/").wsgi_request) as allowed:
        assert allowed  # the first upload, in progress
        second = post_review(hurried, restaurant, "Second.", photo=upload("b.jpg", image_bytes()))
        assertContains(second, "still being processed", status_code=429)
        assertContains(second, "Second.", status_code=429)  # what was typed is kept
        assert second["Retry-After"] == "5"
        other = post_review(visitor(14), restaurant, "Mine.", photo=upload("c.jpg", image_bytes()))
        assert other.status_code == HTTPStatus.FOUND
    # Once the first is done, the next one goes through.
    again = post_review(hurried, restaurant, "Second.", photo=upload("b.jpg", image_bytes()))
    assert again.status_code == HTTPStatus.FOUND


def test_a_photo_is_decoded_only_within_the_visitors_limit_valid_form_or_not(
    make_restaurant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight uploads in a row with the rating left out (each a 400): at most five photos are
    decoded, the rest refused before their decoding (429)."""
    from restaurant_review import forms

    decoded = []
    real = forms.reencode_photo
    monkeypatch.setattr(forms, "reencode_photo", lambda *a, **k: decoded.append(1) or real(*a, **k))
    restaurant, poster = make_restaurant(), visitor(8)
    photo = image_bytes("JPEG")  # what is counted is decodings, whatever their size
    statuses = [
        poster.post(
            reverse("restaurant_review:add_review", args=[restaurant.pk]),
            {"user_name": "Ana", "review_text": "No rating.", "photo": upload("p.jpg", photo)},
        ).status_code
        for _ in range(8)
    ]
    assert len(decoded) <= 5
    assert statuses == [HTTPStatus.BAD_REQUEST] * 5 + [HTTPStatus.TOO_MANY_REQUESTS] * 3


def test_a_rate_that_cannot_be_read_stops_the_app_at_start(settings: Any) -> None:
    """A system check, not the first post, reports a bad rate, naming its setting."""
    from django.core import checks

    assert [e for e in checks.run_checks() if e.id == "restaurant_review.E001"] == []
    settings.POST_LIMIT_RATES = {**settings.POST_LIMIT_RATES, "restaurants": "three a day"}
    settings.LOGIN_FAILURES_PER_ADDRESS = "20/15m,40/1h"
    errors = [e.msg for e in checks.run_checks() if e.id == "restaurant_review.E001"]
    assert len(errors) == 2
    assert errors[0].startswith("POST_LIMIT_RATES['restaurants']: not a rate")
    assert errors[1] == "LOGIN_FAILURES_PER_ADDRESS must be one rate, not '20/15m,40/1h'"
