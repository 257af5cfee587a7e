"""The admin: its pages, sign-in, a review's photo checked, re-encoded, kept or deleted with the
review, and compact lists."""

from http import HTTPStatus
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from restaurant_review.models import Review
from tests.helpers import NO_REPORTS_INLINE, RecordingStorage, image_bytes, upload
from tests.views_helpers import review_url

pytestmark = pytest.mark.django_db


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
