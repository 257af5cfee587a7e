import logging
import re
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from restaurant_review.models import Restaurant, Review
from restaurant_review.photos import stored_names
from tests.helpers import (
    NO_REPORTS_INLINE,
    RecordingStorage,
    image_bytes,
    review_insert_fails,
    upload,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("restaurant_review:index")
CREATE = reverse("restaurant_review:create_restaurant")


def details_url(restaurant: Restaurant) -> str:
    return reverse("restaurant_review:details", args=[restaurant.pk])


def review_url(restaurant: Restaurant) -> str:
    return reverse("restaurant_review:add_review", args=[restaurant.pk])


def make_many(make_restaurant: Any, make_review: Any, count: int, reviews_each: int = 2) -> None:
    for index in range(count):
        restaurant = make_restaurant(name=f"Place {index:03d}")
        for rating in range(1, reviews_each + 1):
            make_review(restaurant=restaurant, rating=rating)


class FailingStorage(FileSystemStorage):
    """A storage whose writes fail, as a full disk or an unreachable service would."""

    def _save(self, name: str, content: Any) -> str:
        raise OSError("storage is unavailable")


# Home page


def test_home_lists_restaurants_with_rating_and_review_count(
    client: Client, make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant(name="Golden Spoon", street_address="12 Pike St")
    make_review(restaurant=restaurant, rating=5)
    make_review(restaurant=restaurant, rating=2)
    make_restaurant(name="Blue Lantern")
    response = client.get(INDEX)
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "Golden Spoon" in html and "12 Pike St" in html
    assert "Rated 3.5 out of 5" in html
    assert "2 reviews" in html
    assert "No reviews yet" in html  # Blue Lantern
    assert html.index("Blue Lantern") < html.index("Golden Spoon")


def test_home_search_filters_by_name(client: Client, make_restaurant: Any) -> None:
    make_restaurant(name="Golden Spoon")
    make_restaurant(name="Blue Lantern")
    html = client.get(INDEX, {"q": "lant"}).content.decode()
    assert "Blue Lantern" in html and "Golden Spoon" not in html
    assert 'value="lant"' in html


def test_home_search_with_no_match_says_so(client: Client, make_restaurant: Any) -> None:
    make_restaurant(name="Golden Spoon")
    html = client.get(INDEX, {"q": "pizza"}).content.decode()
    assert "No restaurant matches “pizza”." in html


def test_home_is_paginated_by_24(client: Client, make_restaurant: Any) -> None:
    """24 cards fill every row at 1, 2, 3 or 4 columns."""
    for index in range(30):
        make_restaurant(name=f"Place {index:02d}")
    first = client.get(INDEX).content.decode()
    second = client.get(INDEX, {"page": 2}).content.decode()
    assert "Place 23" in first and "Place 24" not in first
    assert "Place 24" in second and "Place 29" in second and "Place 23" not in second
    assert (
        '<a href="?page=2" aria-current="page"><span class="visually-hidden">Page </span>2</a>'
        in second
    )
    assert "25–30 of 30 restaurants" in second
    # A nonsense page number shows a page rather than an error.
    assert client.get(INDEX, {"page": "abc"}).status_code == HTTPStatus.OK


@pytest.mark.parametrize("count", [1, 200])
def test_home_runs_a_fixed_number_of_queries(
    client: Client,
    make_restaurant: Any,
    make_review: Any,
    django_assert_num_queries: Any,
    count: int,
) -> None:
    make_many(make_restaurant, make_review, count)
    # The content version, the count for the pager and the page itself; then, cached, the
    # version alone.
    with django_assert_num_queries(3):
        response = client.get(INDEX)
    assert response.status_code == HTTPStatus.OK
    with django_assert_num_queries(1):
        assert client.get(INDEX).content == response.content


def test_home_rejects_post(client: Client) -> None:
    assert client.post(INDEX).status_code == HTTPStatus.METHOD_NOT_ALLOWED


# Restaurant page


def test_details_shows_restaurant_and_reviews_newest_first(
    client: Client, make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant(name="Fig", street_address="3 Elm Ave", description="Small.")
    make_review(restaurant=restaurant, user_name="Older", review_text="First visit.")
    make_review(restaurant=restaurant, user_name="Newer", review_text="Second visit.", rating=2)
    html = client.get(details_url(restaurant)).content.decode()
    assert "3 Elm Ave" in html and "Small." in html
    assert "Rated 3 out of 5" in html and "2 reviews" in html
    assert html.index("Newer") < html.index("Older")
    assert "Second visit." in html and "Rated 2 out of 5" in html


def test_details_links_photo_thumbnail_to_full_photo(
    client: Client, make_restaurant: Any, review_data: Any
) -> None:
    restaurant = make_restaurant()
    client.post(review_url(restaurant), {**review_data, "photo": upload("a.jpg", image_bytes())})
    review = Review.objects.get()
    html = client.get(details_url(restaurant)).content.decode()
    url = review.photo.url
    # The tile shows a rendition (64 px wide here: none is wider than the photo); a click
    # opens the photo's own page, which links the full photo.
    small = url.removesuffix(".jpg") + "-320w.webp"
    page = reverse("restaurant_review:photo", args=[restaurant.pk, review.pk])
    assert f'class="full-photo" href="{url}"' in client.get(page).content.decode()
    assert (
        f'<a class="review-photo" href="{page}"><img src="{small}" srcset="{small} 64w" '
        'sizes="(max-width: 560px) calc(100vw - 3rem), 320px" width="64" height="48" '
        'alt="Photo from Ana&#x27;s review of Café Olé" loading="lazy" decoding="async">'
    ) in html
    # The photo strip above the reviews shows it first, loaded at once.
    assert (
        f'<li><a href="{page}"><img src="{small}" srcset="{small} 64w" sizes="160px" width="64" '
        'height="48" alt="Photo from Ana&#x27;s review" loading="eager" decoding="async" '
        'fetchpriority="high"></a></li>'
    ) in html
    photo = client.get(url)
    assert photo.status_code == HTTPStatus.OK
    assert b"".join(photo.streaming_content)[:2] == b"\xff\xd8"
    tile = client.get(small)
    assert tile.status_code == HTTPStatus.OK
    assert b"".join(tile.streaming_content)[8:12] == b"WEBP"


def test_details_paginates_reviews(client: Client, make_restaurant: Any, make_review: Any) -> None:
    restaurant = make_restaurant()
    for index in range(12):
        make_review(restaurant=restaurant, user_name=f"Guest {index:02d}")
    second = client.get(details_url(restaurant), {"page": 2}).content.decode()
    assert "Guest 01" in second and "Guest 11" not in second


@pytest.mark.parametrize("reviews", [1, 50])
def test_details_runs_a_fixed_number_of_queries(
    client: Client,
    make_restaurant: Any,
    make_review: Any,
    django_assert_num_queries: Any,
    reviews: int,
) -> None:
    restaurant = make_restaurant()
    for _ in range(reviews):
        make_review(restaurant=restaurant)
    # Its version, the restaurant with stats, the review count and page, the photo strip;
    # then, cached, the version alone.
    with django_assert_num_queries(5):
        response = client.get(details_url(restaurant))
    assert response.status_code == HTTPStatus.OK
    with django_assert_num_queries(1):
        assert client.get(details_url(restaurant)).status_code == HTTPStatus.OK


def test_unknown_restaurant_is_404_in_site_layout(client: Client) -> None:
    response = client.get(reverse("restaurant_review:details", args=[999999]))
    assert response.status_code == HTTPStatus.NOT_FOUND
    html = response.content.decode()
    assert "Page not found (404)" in html and "Restaurant Review" in html
    assert client.post(reverse("restaurant_review:add_review", args=[999999])).status_code == 404


@pytest.mark.parametrize("number", ["9223372036854775807", "9223372036854775808", "1" + "0" * 40])
def test_an_id_too_large_for_the_database_is_404_not_an_overflow(
    client: Client, number: str
) -> None:
    """2**63 and up overflow SQLite's integer (a 500 with a traceback, before): no such row."""
    assert client.get(f"/restaurant/{number}/").status_code == HTTPStatus.NOT_FOUND
    assert client.post(f"/restaurant/{number}/review/").status_code == HTTPStatus.NOT_FOUND


# Adding a restaurant


def test_create_restaurant_redirects_with_confirmation(client: Client) -> None:
    assert client.get(CREATE).status_code == HTTPStatus.OK
    data = {"name": "New Place", "street_address": "9 Bay St", "description": "Tapas."}
    response = client.post(CREATE, data)
    restaurant = Restaurant.objects.get()
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Restaurant “New Place” was added."
    ]
    assertRedirects(response, details_url(restaurant), fetch_redirect_response=False)
    page = client.get(response["Location"])
    assertContains(page, "New Place")
    assertContains(page, "was added")


def test_create_restaurant_error_keeps_input_beside_fields(client: Client) -> None:
    response = client.post(CREATE, {"name": "", "street_address": "9 Bay St", "description": "Hi"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert 'value="9 Bay St"' in html and "\nHi</textarea>" in html
    assert re.search(
        r'<label for="id_name"[^>]*>Name</label>.*?Enter the restaurant&#x27;s name', html, re.S
    )
    assert Restaurant.objects.count() == 0


# Posting a review


def test_post_review_with_photo_redirects_and_stores_it(
    client: Client, make_restaurant: Any, review_data: Any, media_files: Any
) -> None:
    restaurant = make_restaurant()
    data = {**review_data, "photo": upload("dinner.jpg", image_bytes("JPEG"))}
    response = client.post(review_url(restaurant), data)
    review = Review.objects.get()
    # Straight to the new review, whatever fragment the form's action had.
    assertRedirects(
        response, f"{details_url(restaurant)}#review-{review.pk}", fetch_redirect_response=False
    )
    assert (review.restaurant, review.user_name, review.rating) == (restaurant, "Ana", 5)
    assert [p.name for p in media_files()] == sorted(
        name.split("/")[-1] for name in stored_names(review.photo.name)
    )  # the photo and its renditions
    assertContains(client.get(response["Location"]), "Your review was posted")


def test_post_review_without_photo(client: Client, make_restaurant: Any, review_data: Any) -> None:
    restaurant = make_restaurant()
    assert client.post(review_url(restaurant), review_data).status_code == HTTPStatus.FOUND
    assert not Review.objects.get().photo


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rating": "6"}, "rating"),
        ({"rating": "abc"}, "rating"),
        ({"user_name": ""}, "user_name"),
        ({"photo": upload("fake.png", b"not an image", "image/png")}, "photo"),
    ],
)
def test_invalid_review_comes_back_with_input_and_errors(
    client: Client,
    make_restaurant: Any,
    review_data: Any,
    media_files: Any,
    change: dict[str, Any],
    field: str,
) -> None:
    restaurant = make_restaurant()
    response = client.post(review_url(restaurant), {**review_data, **change})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    # Its label (the star rating's: the legend of its radio group), then its error.
    label = "<legend>Rating" if field == "rating" else f'<label for="id_{field}"'
    assert re.search(rf"{label}[^>]*>.*?class=\"field-error\"", html, re.S)
    target = "id_rating_0" if field == "rating" else f"id_{field}"
    assert f'<a href="#{target}">' in html  # the error summary links to the field
    assert f'id="{target}"' in html
    assert "Best dumplings in town.</textarea>" in html
    if field != "user_name":
        assert 'value="Ana"' in html
    assert Review.objects.count() == 0
    assert media_files() == []


def test_review_is_not_saved_when_photo_storage_fails(
    client: Client, make_restaurant: Any, review_data: Any, settings: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.test_views.FailingStorage"},
    }
    restaurant = make_restaurant()
    data = {**review_data, "photo": upload("dinner.jpg", image_bytes())}
    response = client.post(review_url(restaurant), data)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    html = response.content.decode()
    assert "Your photo could not be stored just now" in html
    assert "Best dumplings in town.</textarea>" in html and 'value="Ana"' in html
    assert Review.objects.count() == 0


def test_database_failure_after_upload_removes_the_photo(
    client: Client, make_restaurant: Any, review_data: Any, media_files: Any
) -> None:
    restaurant = make_restaurant()

    data = {**review_data, "photo": upload("dinner.jpg", image_bytes())}
    with review_insert_fails():
        response = client.post(review_url(restaurant), data)
    assertContains(response, "Temporarily unavailable", status_code=HTTPStatus.SERVICE_UNAVAILABLE)
    assert Review.objects.count() == 0
    assert media_files() == []


def test_database_outage_shows_503_page(client: Client, make_restaurant: Any) -> None:
    make_restaurant()

    def fail(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(fail):
        response = client.get(INDEX)
    assertContains(
        response, "Temporarily unavailable (503)", status_code=HTTPStatus.SERVICE_UNAVAILABLE
    )
    assert response["Retry-After"] == "30"


# CSRF


def test_csrf_is_enforced_on_forms(make_restaurant: Any, review_data: Any) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    restaurant = make_restaurant()
    for url, data in [
        (CREATE, {"name": "X", "street_address": "Y"}),
        (review_url(restaurant), review_data),
    ]:
        response = csrf_client.post(url, data)
        assertContains(response, "could not be verified", status_code=HTTPStatus.FORBIDDEN)
    assert Restaurant.objects.count() == 1 and Review.objects.count() == 0

    csrf_client.get(CREATE)
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(
        CREATE, {"name": "X", "street_address": "Y", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == HTTPStatus.FOUND


# Admin


def test_admin_pages_load_for_superuser(
    admin_client: Client, make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant(name="Admin Place")
    review = make_review(restaurant=restaurant)
    pages = [
        reverse("admin:index"),
        reverse("admin:restaurant_review_restaurant_changelist"),
        reverse("admin:restaurant_review_restaurant_change", args=[restaurant.pk]),
        reverse("admin:restaurant_review_restaurant_add"),
        reverse("admin:restaurant_review_review_changelist"),
        reverse("admin:restaurant_review_review_change", args=[review.pk]),
        reverse("admin:restaurant_review_review_add"),
    ]
    for page in pages:
        assert admin_client.get(page).status_code == HTTPStatus.OK, page
    changelist = admin_client.get(pages[1], {"q": "Admin"}).content.decode()
    assert "Admin Place" in changelist and "4.0" in changelist


def test_admin_requires_login(client: Client) -> None:
    response = client.get(reverse("admin:restaurant_review_review_changelist"))
    assert response.status_code == HTTPStatus.FOUND
    assert "/admin/login/" in response["Location"]


def test_admin_delete_review_deletes_its_photo(
    admin_client: Client,
    make_restaurant: Any,
    review_data: Any,
    media_files: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    restaurant = make_restaurant()
    admin_client.post(
        review_url(restaurant), {**review_data, "photo": upload("a.jpg", image_bytes())}
    )
    review = Review.objects.get()
    assert len(media_files()) == 4  # the photo and its 3 renditions
    delete = reverse("admin:restaurant_review_review_delete", args=[review.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(delete, {"post": "yes"})
    assert response.status_code == HTTPStatus.FOUND
    assert Review.objects.count() == 0
    assert media_files() == []


def test_admin_photo_upload_is_checked_and_reencoded(
    admin_client: Client, make_restaurant: Any, jpeg_with_gps: bytes
) -> None:
    restaurant = make_restaurant()
    add = reverse("admin:restaurant_review_review_add")
    fields = {"restaurant": restaurant.pk, "user_name": "Eve", "rating": 3, "review_text": "ok"}
    fields |= NO_REPORTS_INLINE
    bad = admin_client.post(add, {**fields, "photo": upload("x.png", b"nope")})
    assert bad.status_code == HTTPStatus.OK and Review.objects.count() == 0
    good = admin_client.post(add, {**fields, "photo": upload("g.jpg", jpeg_with_gps)})
    assert good.status_code == HTTPStatus.FOUND
    with Review.objects.get().photo.open("rb") as stored:
        assert b"Test Camera" not in stored.read()


def test_createsuperuser_works(monkeypatch: Any, django_user_model: Any) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-Str0ng-pass!")
    call_command("createsuperuser", interactive=False, username="boss", email="b@example.com")
    assert django_user_model.objects.get(username="boss").is_superuser


def test_absurdly_large_upload_is_refused_before_reading(
    client: Client, make_restaurant: Any, review_data: Any, settings: Any, media_files: Any
) -> None:
    settings.PHOTO_MAX_BYTES = 100 * 1024  # so the request limit is 1.2 MB
    restaurant = make_restaurant()
    huge = image_bytes("PNG", size=(8, 8)) + b"\0" * (2 * 1024 * 1024)
    response = client.post(review_url(restaurant), {**review_data, "photo": upload("h.png", huge)})
    too_large = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assertContains(response, "Upload too large (413)", status_code=too_large)
    assertContains(response, "up to 0.1 MB", status_code=too_large)
    assert Review.objects.count() == 0 and media_files() == []
    # Just over the photo limit is not cut off: the form answers, keeping what was typed.
    over = image_bytes("PNG", size=(8, 8)) + b"\0" * (150 * 1024)
    response = client.post(review_url(restaurant), {**review_data, "photo": upload("o.png", over)})
    assertContains(response, "the largest accepted is", status_code=HTTPStatus.BAD_REQUEST)


SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "Permissions-Policy")


def test_early_refusals_carry_the_security_headers(
    client: Client, make_restaurant: Any, settings: Any
) -> None:
    """The 413 (refused before the body is read) and a bad Host's 400 are answered before most
    middleware runs; they still get CSP, X-Frame-Options and Permissions-Policy."""
    settings.PHOTO_MAX_BYTES = 1024  # so the request limit is just over 1 MB
    too_large = client.post(
        review_url(make_restaurant()), {"photo": upload("h.png", b"\0" * 2 * 1024 * 1024)}
    )
    bad_host = client.get("/", headers={"host": "evil.example"})
    assert (too_large.status_code, bad_host.status_code) == (413, 400)
    for response in (too_large, bad_host):
        assert all(response.has_header(name) for name in SECURITY_HEADERS), response.headers
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_control_characters_from_a_request_cannot_forge_a_log_line(
    client: Client, settings: Any, stdout_log: Any
) -> None:
    """A path with %0a, logged by the 413 middleware (and by Django's request logger for a
    404), stays on its one line."""
    settings.PHOTO_MAX_BYTES = 1024  # so the request limit is just over 1 MB
    forged = "/x%0a2026-12-02 12:00:00,000 ERROR forged.logger 1: injected%0d%e2%80%ae"
    too_large = client.post(forged, {"photo": upload("h.png", b"\0" * 2 * 1024 * 1024)})
    assert too_large.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert client.get(forged).status_code == HTTPStatus.NOT_FOUND
    lines = stdout_log()
    assert not any(line.startswith("2026-12-02 12:00:00,000 ERROR forged") for line in lines)
    refused = [line for line in lines if "Refused a" in line]
    assert len(refused) == 1 and "injected" in refused[0], lines
    assert "\u202e" not in refused[0] and "\r" not in refused[0]
    not_found = [line for line in lines if "Not Found" in line]
    assert len(not_found) == 1 and "injected" in not_found[0], lines


def test_every_log_record_is_one_line_whatever_its_arguments(stdout_log: Any) -> None:
    """Not only the request loggers: any record's message has its control characters escaped
    by the stdout handler's formatter; a traceback still follows on lines of its own."""
    logger = logging.getLogger("restaurant_review.views")
    logger.warning("Name %s", "Bob\n2026-12-02 ERROR forged: x\u2028y\x1b[31m")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("Failed for %s", "a\rb")
    lines = stdout_log()
    assert lines[0].endswith("Name Bob\\x0a2026-12-02 ERROR forged: x\\u2028y\\x1b[31m")
    assert lines[1].endswith("Failed for a\\x0db")
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"


@pytest.fixture
def recording_storage(settings: Any) -> RecordingStorage:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.helpers.RecordingStorage",
            "OPTIONS": {"location": str(settings.MEDIA_ROOT)},
        },
    }
    storage = storages["default"]
    assert isinstance(storage, RecordingStorage)
    return storage


def test_admin_save_without_touching_the_photo_keeps_it_untouched(
    admin_client: Client,
    make_restaurant: Any,
    review_data: Any,
    recording_storage: RecordingStorage,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Saving a review, or its restaurant with the review inline, must not download, re-encode
    and re-upload the stored photo under a new name."""
    restaurant = make_restaurant()
    admin_client.post(
        review_url(restaurant), {**review_data, "photo": upload("a.jpg", image_bytes())}
    )
    review = Review.objects.get()
    name = review.photo.name
    recording_storage.calls.clear()

    change = reverse("admin:restaurant_review_review_change", args=[review.pk])
    fields = {"restaurant": restaurant.pk, "user_name": "Ana", "rating": 2, "review_text": "Meh."}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(change, fields | NO_REPORTS_INLINE)
    assert response.status_code == HTTPStatus.FOUND
    review.refresh_from_db()
    assert (review.rating, review.photo.name) == (2, name)

    inline = {
        "name": restaurant.name,
        "street_address": restaurant.street_address,
        "description": "Edited.",
        "reviews-TOTAL_FORMS": "1",
        "reviews-INITIAL_FORMS": "1",
        "reviews-0-id": str(review.pk),
        "reviews-0-restaurant": str(restaurant.pk),
    }
    restaurant_change = reverse("admin:restaurant_review_restaurant_change", args=[restaurant.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(restaurant_change, inline)
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:3000]
    review.refresh_from_db()
    assert (review.rating, review.photo.name) == (2, name)
    assert recording_storage.calls == []


def test_admin_lists_show_thumbnails_and_text_and_restaurants_list_reviews_compactly(
    admin_client: Client, make_restaurant: Any, review_data: Any
) -> None:
    restaurant = make_restaurant()
    admin_client.post(
        review_url(restaurant), {**review_data, "photo": upload("a.jpg", image_bytes())}
    )
    review = Review.objects.get()
    thumbnail = review.photo.url.removesuffix(".jpg") + "-320w.webp"
    changelist = admin_client.get(reverse("admin:restaurant_review_review_changelist"))
    assertContains(changelist, f'<img src="{thumbnail}"')
    assertContains(changelist, "Best dumplings in town.")  # the text, beside the photo
    # The restaurant lists its reviews as compact read-only rows, each linking to its page.
    change = admin_client.get(
        reverse("admin:restaurant_review_restaurant_change", args=[restaurant.pk])
    )
    assertContains(change, reverse("admin:restaurant_review_review_change", args=[review.pk]))
    assert 'name="reviews-0-review_text"' not in change.content.decode()


# What diners meet (issue: a restaurant site people enjoy)


def test_pages_have_their_own_title_and_description(client: Client, make_restaurant: Any) -> None:
    restaurant = make_restaurant(name="Golden Spoon", street_address="12 Pike St")
    pages = {
        INDEX: "<title>Restaurants · Restaurant Review</title>",
        details_url(restaurant): "<title>Golden Spoon, 12 Pike St · Restaurant Review</title>",
        CREATE: "<title>Add a restaurant · Restaurant Review</title>",
    }
    descriptions = set()
    for url, title in pages.items():
        html = client.get(url).content.decode()
        assert title in html
        description = re.search(r'<meta name="description" content="([^"]+)">', html)
        assert description and len(description.group(1)) > 40
        descriptions.add(description.group(1))
    assert len(descriptions) == 3
    assert "Golden Spoon at 12 Pike St: be the first to review it. Cosy." in descriptions


def test_favicon_and_app_icons_are_served(client: Client) -> None:
    for path, content_type in [
        ("/favicon.ico", "image/x-icon"),
        ("/icon.svg", "image/svg+xml"),
        ("/apple-touch-icon.png", "image/png"),
        ("/site.webmanifest", "application/manifest+json"),
    ]:
        response = client.get(path)
        assert response.status_code == HTTPStatus.OK, path
        assert response["Content-Type"].startswith(content_type), path


def test_restaurant_without_reviews_says_so_once(client: Client, make_restaurant: Any) -> None:
    html = client.get(details_url(make_restaurant())).content.decode()
    assert html.count("No reviews yet") == 1
    assert "0 reviews" not in html and "Not rated yet" in html


def test_restaurant_page_shows_the_rating_distribution(
    client: Client, make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant()
    for rating in (5, 5, 4, 1):
        make_review(restaurant=restaurant, rating=rating)
    html = client.get(details_url(restaurant)).content.decode()
    bars = re.findall(
        r'<span class="rating-label">(\d) stars?</span><meter min="0" max="4" '
        r'value="(\d)"',
        html,
    )
    assert bars == [("5", "2"), ("4", "1"), ("3", "0"), ("2", "0"), ("1", "1")]
    assert '<p class="rating-big" aria-hidden="true">3.8</p>' in html  # 3.75, rounded up


def test_home_cards_show_the_newest_review_photo(
    client: Client, make_restaurant: Any, review_data: Any
) -> None:
    with_photo, without = make_restaurant(name="A Place"), make_restaurant(name="B Place")
    for name in ("old.jpg", "new.jpg"):
        client.post(review_url(with_photo), {**review_data, "photo": upload(name, image_bytes())})
    newest = Review.objects.filter(restaurant=with_photo).order_by("-created_at").first()
    assert newest is not None
    html = client.get(INDEX).content.decode()
    cover = newest.photo.url.removesuffix(".jpg") + "-320w.webp"
    first_card, second_card = html.split('class="restaurant-card"')[1:3]
    assert f'src="{cover}"' in first_card and 'alt=""' in first_card
    assert '<span class="cover-placeholder" aria-hidden="true"></span>' in second_card
    assert without.name in second_card


def test_forms_mark_optional_fields_and_drop_label_colons(
    client: Client, make_restaurant: Any
) -> None:
    html = client.get(CREATE).content.decode()
    assert '<label for="id_name">Name</label>' in html
    assert (
        '<label for="id_description">Description <span class="optional">(optional)</span>' in html
    )
    restaurant = make_restaurant()
    page = client.get(details_url(restaurant)).content.decode()
    assert '<label for="id_photo">Photo <span class="optional">(optional)</span>' in page
    # A failed post comes back scrolled to the form.
    assert f'action="{review_url(restaurant)}#review-form"' in page


def test_failed_review_with_a_photo_asks_for_it_again(
    client: Client, make_restaurant: Any, review_data: Any
) -> None:
    restaurant = make_restaurant()
    data = {**review_data, "rating": "", "photo": upload("a.jpg", image_bytes())}
    response = client.post(review_url(restaurant), data)
    assertContains(response, "Your photo was not kept: please choose it again.", status_code=400)
    assertContains(
        response, 'aria-describedby="id_photo_helptext id_photo_notice"', status_code=400
    )
    # Only the rating is marked invalid (each of its radio buttons), not the photo.
    invalid = re.findall(r'name="(\w+)"[^>]*aria-invalid="true"', response.content.decode())
    assert set(invalid) == {"rating"}


def test_head_answers_like_get_for_pages_and_photos(
    client: Client, make_restaurant: Any, review_data: Any
) -> None:
    """Uptime monitors ask with HEAD."""
    restaurant = make_restaurant()
    client.post(review_url(restaurant), {**review_data, "photo": upload("a.jpg", image_bytes())})
    photo = Review.objects.get().photo.url
    for url in [INDEX, details_url(restaurant), CREATE, photo]:
        response = client.head(url)
        assert response.status_code == HTTPStatus.OK, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body == b"", url


def test_wrong_method_gets_a_405_page_in_the_site_layout(
    client: Client, make_restaurant: Any
) -> None:
    response = client.delete(details_url(make_restaurant()))
    assertContains(response, "That cannot be done here (405)", status_code=405)
    assertContains(response, 'class="site-header"', status_code=405)
    assert response["Allow"] == "GET, HEAD"
    assert client.get(review_url(make_restaurant())).status_code == 405
