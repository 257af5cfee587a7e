"""The public pages: the home page and its pager, a restaurant's page, their queries per page,
titles, icons, 404 and 405, HEAD."""

import re
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from restaurant_review.models import Review
from tests.helpers import image_bytes, upload
from tests.views_helpers import CREATE, INDEX, details_url, make_many, review_url

pytestmark = pytest.mark.django_db


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
