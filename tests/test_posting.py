"""Adding a restaurant and posting a review: redirects and messages, errors beside their fields
with the input kept, photos stored or refused, storage and database failures that lose nothing,
CSRF."""

import re
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from pytest_django.asserts import assertContains, assertRedirects

from restaurant_review.models import Restaurant, Review
from restaurant_review.photos import stored_names
from tests.helpers import image_bytes, review_insert_fails, upload
from tests.views_helpers import CREATE, details_url, review_url

pytestmark = pytest.mark.django_db


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
        "default": {"BACKEND": "tests.views_helpers.FailingStorage"},
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
