"""Cached page parts and conditional GET on the embedded default (local memory): whatever
changes the data shows on the very next request, and a repeat visit gets 304."""

from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.core.files.storage import FileSystemStorage
from django.test import Client
from django.urls import reverse

from azureproject.config import code_version
from restaurant_review.models import ContentVersion, Restaurant, Review
from restaurant_review.versions import content_changed
from tests.helpers import upload

INDEX = reverse("restaurant_review:index")


def page(client: Client, url: str, **params: Any) -> str:
    response = client.get(url, params)
    assert response.status_code == HTTPStatus.OK
    return response.content.decode()


def test_pages_are_cached_and_served_from_the_cache(
    client: Client, make_review: Any, django_assert_num_queries: Any
) -> None:
    review = make_review(review_text="Crisp and hot.")
    url = review.restaurant.get_absolute_url()
    first = page(client, url)
    # Cached now: only the version is read, and the page is the same (but for the CSRF token).
    Restaurant.objects.filter(pk=review.restaurant.pk).update(name="Changed behind its back")
    with django_assert_num_queries(1):
        again = page(client, url)
    assert "Crisp and hot." in again and "Changed behind its back" not in again
    assert again.count("Café Olé") == first.count("Café Olé")


def test_a_posted_review_shows_on_the_next_request(
    client: Client, make_restaurant: Any, review_data: dict[str, Any]
) -> None:
    restaurant = make_restaurant()
    url = restaurant.get_absolute_url()
    assert "No reviews yet" in page(client, url)
    assert "Not rated yet" in page(client, url)
    assert "0 reviews" in page(client, INDEX) or "No reviews" in page(client, INDEX)
    post = client.post(reverse("restaurant_review:add_review", args=[restaurant.pk]), review_data)
    assert post.status_code == HTTPStatus.FOUND
    html = page(client, url)
    assert "Best dumplings in town." in html and "No reviews yet" not in html
    assert "1 review" in page(client, INDEX)


def test_admin_edits_and_deletes_show_on_the_next_request(
    admin_client: Client, client: Client, make_review: Any
) -> None:
    review = make_review(review_text="Was good once.")
    restaurant = review.restaurant
    url = restaurant.get_absolute_url()
    assert "Was good once." in page(client, url) and "Café Olé" in page(client, INDEX)

    change = reverse("admin:restaurant_review_restaurant_change", args=[restaurant.pk])
    form = {
        "name": "Café Nouveau",
        "street_address": restaurant.street_address,
        "description": "",
        "reviews-TOTAL_FORMS": "1",
        "reviews-INITIAL_FORMS": "1",
        "reviews-MIN_NUM_FORMS": "0",
        "reviews-MAX_NUM_FORMS": "1000",
        "reviews-0-id": str(review.pk),
        "reviews-0-restaurant": str(restaurant.pk),
    }
    assert admin_client.post(change, form).status_code == HTTPStatus.FOUND
    # The review itself is edited on its own page (the restaurant lists it read-only).
    change_review = reverse("admin:restaurant_review_review_change", args=[review.pk])
    review_form = {
        "restaurant": str(restaurant.pk),
        "user_name": review.user_name,
        "rating": "2",
        "review_text": "Went downhill.",
        "reports-TOTAL_FORMS": "0",
        "reports-INITIAL_FORMS": "0",
        "reports-MIN_NUM_FORMS": "0",
        "reports-MAX_NUM_FORMS": "1000",
    }
    assert admin_client.post(change_review, review_form).status_code == HTTPStatus.FOUND
    html = page(client, url)
    assert "Café Nouveau" in html and "Went downhill." in html and "Was good once." not in html
    assert "Café Nouveau" in page(client, INDEX)

    delete = reverse("admin:restaurant_review_review_delete", args=[review.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == HTTPStatus.FOUND
    assert "No reviews yet" in page(client, url)


def test_a_review_moved_to_another_restaurant_leaves_both_pages_right(
    client: Client, make_restaurant: Any, make_review: Any
) -> None:
    first, second = make_restaurant(name="First"), make_restaurant(name="Second")
    review = make_review(restaurant=first, review_text="Wandering review.")
    assert "Wandering review." in page(client, first.get_absolute_url())
    assert "No reviews yet" in page(client, second.get_absolute_url())
    review.restaurant = second
    review.save()
    assert "Wandering review." not in page(client, first.get_absolute_url())
    assert "Wandering review." in page(client, second.get_absolute_url())


def test_a_deleted_restaurant_is_gone_from_the_cached_home_page(
    client: Client, make_restaurant: Any
) -> None:
    restaurant = make_restaurant(name="Closing Down")
    url = restaurant.get_absolute_url()
    assert "Closing Down" in page(client, INDEX) and client.get(url).status_code == 200
    restaurant.delete()
    assert "Closing Down" not in page(client, INDEX)
    assert client.get(url).status_code == HTTPStatus.NOT_FOUND


def test_restaurant_versions_move_on_with_every_save(make_restaurant: Any) -> None:
    restaurant = make_restaurant()
    assert Restaurant.objects.get(pk=restaurant.pk).version == 1
    restaurant.name = "Renamed"
    restaurant.save()
    assert restaurant.version == 2  # read back from the database, never a stale copy
    restaurant.save(update_fields=["name"])
    assert Restaurant.objects.get(pk=restaurant.pk).version == 3
    before = ContentVersion.objects.get().value
    Review.objects.create(restaurant=restaurant, user_name="Bo", rating=3, review_text="Fine.")
    assert Restaurant.objects.get(pk=restaurant.pk).version == 4
    assert ContentVersion.objects.get().value == before + 1


def test_a_missing_site_version_row_comes_back_beyond_any_earlier_count(db: None) -> None:
    ContentVersion.objects.all().delete()
    content_changed()
    assert ContentVersion.objects.get().value > 10**15


def test_seed_demo_and_new_renditions_show_at_once(
    client: Client, settings: Any, make_review: Any, tmp_path: Path
) -> None:
    from django.core.management import call_command

    assert "No restaurants yet" in page(client, INDEX)
    call_command("seed_demo", "--restaurants", "3", "--reviews", "3", "--photos", "0")
    assert page(client, INDEX).count('class="restaurant-card"') == 3

    # A photo stored before renditions existed: the page links the photo itself, until
    # make_renditions has made the renditions.
    review = make_review(photo=upload("old.jpg", _jpeg()))
    Review.objects.filter(pk=review.pk).update(photo_width=None, photo_height=None)
    content_changed(review.restaurant_id)
    url = review.restaurant.get_absolute_url()
    assert "-640w.webp" not in page(client, url)
    call_command("make_renditions")
    assert "-640w.webp" in page(client, url)


def _jpeg() -> bytes:
    from tests.helpers import image_bytes

    return image_bytes("JPEG", size=(800, 600))


def test_a_repeat_visit_gets_304_without_rendering(
    client: Client, make_review: Any, django_assert_num_queries: Any, review_data: Any
) -> None:
    review = make_review()
    url = review.restaurant.get_absolute_url()
    for target in (url, INDEX):
        response = client.get(target)
        etag = response["ETag"]
        assert etag.startswith('W/"') and "no-cache" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]
        with django_assert_num_queries(1):  # the version; nothing rendered
            again = client.get(target, headers={"if-none-match": etag})
        assert again.status_code == HTTPStatus.NOT_MODIFIED and again.content == b""
        assert client.head(target, headers={"if-none-match": etag}).status_code == 304
    # A new review: the page has changed, so it is sent again, with a new ETag.
    etag = client.get(url)["ETag"]
    client.post(reverse("restaurant_review:add_review", args=[review.restaurant.pk]), review_data)
    client.cookies.pop(CookieStorage.cookie_name, None)  # the confirmation, already shown
    changed = client.get(url, headers={"if-none-match": etag})
    assert changed.status_code == HTTPStatus.OK and changed["ETag"] != etag


def test_the_etag_is_per_visitor_and_absent_while_a_message_waits(
    client: Client, admin_client: Client, make_restaurant: Any
) -> None:
    url = make_restaurant().get_absolute_url()
    etag = client.get(url)["ETag"]
    # Another visitor (another CSRF cookie, or staff with the admin link) has another ETag.
    assert Client().get(url)["ETag"] != etag
    staff = admin_client.get(url)
    assert "Admin</a>" in staff.content.decode() and staff["ETag"] != etag
    # A message waiting to be shown: the page is rendered, never a 304.
    client.cookies[CookieStorage.cookie_name] = "pending"
    response = client.get(url, headers={"if-none-match": etag})
    assert response.status_code == HTTPStatus.OK and not response.has_header("ETag")


def test_the_csrf_token_stays_per_visitor(client: Client, make_restaurant: Any) -> None:
    url = make_restaurant().get_absolute_url()
    first, second = Client(REMOTE_ADDR="127.0.0.2"), Client(REMOTE_ADDR="127.0.0.3")
    tokens = set()
    for visitor in (first, second):
        html = page(visitor, url)
        tokens.add(html.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0])
    assert len(tokens) == 2
    # The cached form works for both.
    for visitor in (first, second):
        html = page(visitor, url)
        token = html.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        visitor.enforce_csrf_checks = True
        post = visitor.post(
            reverse("restaurant_review:add_review", args=[url.strip("/").split("/")[-1]]),
            {"csrfmiddlewaretoken": token, "user_name": "V", "rating": "4", "review_text": "ok"},
        )
        assert post.status_code == HTTPStatus.FOUND


def test_csrf_secrets_and_masks_are_drawn_evenly_in_one_read(monkeypatch: Any) -> None:
    """Django's CSRF module draws its secrets and masks with azureproject.serving.csrf (one read of
    the random source, not one per character): the same alphabet and length, never repeated,
    every character equally likely (the bytes a plain modulo would fold onto the first eight
    characters make those a fifth likelier)."""
    import secrets
    from collections import Counter

    from django.middleware import csrf

    from azureproject.serving.csrf import random_string

    reads: list[int] = []
    token_bytes = secrets.token_bytes
    monkeypatch.setattr(secrets, "token_bytes", lambda n: reads.append(n) or token_bytes(n))
    secret = csrf._get_new_csrf_string()
    assert len(reads) == 1  # Django's own draws 32 single bytes through os.urandom
    assert len(secret) == csrf.CSRF_SECRET_LENGTH and set(secret) <= set(csrf.CSRF_ALLOWED_CHARS)
    assert len({csrf._get_new_csrf_string() for _ in range(2000)}) == 2000
    monkeypatch.undo()

    counts = Counter(random_string(200_000, csrf.CSRF_ALLOWED_CHARS))
    expected = 200_000 / len(csrf.CSRF_ALLOWED_CHARS)  # 3,226, give or take 56
    assert set(counts) == set(csrf.CSRF_ALLOWED_CHARS)
    assert all(abs(count - expected) < expected / 10 for count in counts.values()), counts


def test_a_plain_visit_gets_the_whole_page_from_the_cache(
    admin_client: Client, make_review: Any, review_data: dict[str, Any]
) -> None:
    """Once a page is drawn for a plain visit (nobody signed in, no message), the next plain
    visitor's comes whole from the cache, no template drawn, with their own CSRF token;
    staff and a visitor with a message waiting still get pages of their own."""
    review = make_review(review_text="Crisp and hot.")
    for url in (INDEX, review.restaurant.get_absolute_url(), f"{INDEX}?sort=rating"):
        assert Client().get(url).templates  # drawn, and cached for the next plain visit
        again = Client().get(url)
        assert again.status_code == HTTPStatus.OK and again.templates == []
        body = again.content.decode().split("<body", 1)[1]
        assert body.count("Crisp and hot.") == int("restaurant" in url)
        assert "Admin</a>" in admin_client.get(url).content.decode()
    visitor = Client()
    url = review.restaurant.get_absolute_url()
    post = visitor.post(reverse("restaurant_review:add_review", args=[review.restaurant.pk]), {
        **review_data, "review_text": "Second visit, still crisp.",
    })  # fmt: skip
    assert post.status_code == HTTPStatus.FOUND
    thanked = visitor.get(url)
    assert thanked.templates and "Thank you" in thanked.content.decode()
    # The new review, for the next plain visitor too: a new version, a new page.
    fresh = Client().get(url).content.decode()
    assert "Second visit, still crisp." in fresh and "Thank you" not in fresh


class WindowedStorage(FileSystemStorage):
    """Local files whose links change with a window, as signed links do."""

    window = 1

    def url_version(self) -> str:
        return f"window-{self.window}"

    def url(self, name: str | None) -> str:
        return f"{super().url(name)}?w={self.window}"


def test_cached_parts_follow_the_photo_links_window(
    client: Client, settings: Any, make_restaurant: Any, review_data: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.test_caching.WindowedStorage",
            "OPTIONS": {"location": str(settings.MEDIA_ROOT)},
        },
    }
    restaurant = make_restaurant()
    url = restaurant.get_absolute_url()
    posted = client.post(
        reverse("restaurant_review:add_review", args=[restaurant.pk]),
        {**review_data, "photo": upload("dish.jpg", _jpeg())},
    )
    assert posted.status_code == HTTPStatus.FOUND
    assert "-640w.webp?w=1" in page(client, url) and "-640w.webp?w=1" in page(client, INDEX)
    WindowedStorage.window = 2
    try:
        assert "?w=1" not in page(client, url) and "?w=2" in page(client, url)
        assert "?w=2" in page(client, INDEX)
    finally:
        WindowedStorage.window = 1


def test_a_failed_post_redraws_the_form_with_errors_not_the_cached_empty_one(
    client: Client, make_restaurant: Any
) -> None:
    restaurant = make_restaurant()
    assert "Enter your name" not in page(client, restaurant.get_absolute_url())
    response = client.post(reverse("restaurant_review:add_review", args=[restaurant.pk]), {})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Enter your name" in response.content.decode()
    assert "Enter your name" not in page(client, restaurant.get_absolute_url())


def test_the_code_version_changes_with_a_template(tmp_path: Path) -> None:
    (tmp_path / "restaurant_review" / "templates").mkdir(parents=True)
    template = tmp_path / "restaurant_review" / "templates" / "page.html"
    template.write_text("<p>one</p>")
    first = code_version(tmp_path)
    assert code_version(tmp_path) == first
    template.write_text("<p>two</p>")
    second = code_version(tmp_path)
    assert second != first
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "base.html").write_text("<html>")
    assert code_version(tmp_path) != second
    # Only the project's own folders are read, not a virtual environment's packages.
    third = code_version(tmp_path)
    installed = tmp_path / ".venv" / "lib" / "django" / "contrib" / "admin" / "templates"
    installed.mkdir(parents=True)
    (installed / "base.html").write_text("<html>")
    assert code_version(tmp_path) == third


@pytest.mark.parametrize("alias", ["default", "local"])
def test_the_embedded_default_caches_in_local_memory(alias: str) -> None:
    assert type(caches[alias]).__name__ == "LocMemCache"


def test_a_parameter_holding_an_encoded_query_does_not_share_a_key(
    client: Client, make_restaurant: Any
) -> None:
    """`page=1%26q%3DSpam` is one parameter (a page number that is no number), not a search."""
    make_restaurant(name="Spam Palace")
    make_restaurant(name="Other Place")
    trick = client.get(f"{INDEX}?page=1%26q%3DSpam")
    assert trick.status_code == HTTPStatus.OK
    assert "Other Place" in trick.content.decode()
    search = page(client, INDEX, q="Spam", page="1")
    assert "Spam Palace" in search and "Other Place" not in search


def test_a_page_has_one_address_so_the_cache_keeps_one_copy(
    client: Client, make_restaurant: Any
) -> None:
    """Unknown, repeated and empty parameters go: one cached page per page, whatever a client
    writes (a 2 KB query of made-up parameters had become a 50 KB page, cached twice)."""
    restaurant = make_restaurant(name="Brick Oven")
    for asked, canonical in [
        ("/?a&a&b=1&u=7", "/"),
        ("/?q=brick&q=olive", "/?q=olive"),
        ("/?q=&cuisine=&price=&rating=&sort=", "/"),
        ("/?sort=rating&q=brick&utm_source=x", "/?q=brick&sort=rating"),
        (
            f"/restaurant/{restaurant.pk}/?stars=5&stars=1&x=1",
            f"/restaurant/{restaurant.pk}/?stars=1",
        ),
        (f"/restaurant/{restaurant.pk}/photos/?page=&z=", f"/restaurant/{restaurant.pk}/photos/"),
    ]:
        response = client.get(asked)
        assert response.status_code == HTTPStatus.MOVED_PERMANENTLY, asked
        assert response["Location"] == canonical
    for address in ("/?q=brick", "/?sort=rating&q=brick", f"/restaurant/{restaurant.pk}/?stars=5"):
        assert client.get(address).status_code == HTTPStatus.OK  # already its own address
    assert "Brick Oven" in client.get("/?q=brick").content.decode()


def test_a_page_cached_whole_is_not_also_stored_in_parts(
    admin_client: Client, make_review: Any
) -> None:
    """A plain visit stores one entry per page (the whole page), not the page and each of its
    parts again; staff, whose pages are their own, store the parts for each other."""
    from django.core.cache.backends.locmem import LocMemCache

    review = make_review(review_text="Crisp and hot.")
    parts = caches["template_fragments"]
    assert isinstance(parts, LocMemCache)

    def stored() -> list[str]:
        return list(parts._cache)  # type: ignore[attr-defined]

    Client().get(review.restaurant.get_absolute_url())
    assert len(stored()) == 1 and ":page." in stored()[0]
    admin_client.get(review.restaurant.get_absolute_url())
    assert len(stored()) > 1  # the parts, for the next member of staff
    Client().get(INDEX)
    assert sum(":page." in key for key in stored()) == 2
