"""What a diner finds: the home page's filters and orders, a restaurant's details, its
reviews' order and star filter, its photo gallery, and landing on the review just posted."""

import io
import random
import re
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image
from pytest_django.asserts import assertContains, assertRedirects

from restaurant_review.forms import RestaurantForm
from restaurant_review.models import Restaurant, Review
from tests import rich_results
from tests.helpers import image_bytes, upload

pytestmark = pytest.mark.django_db

INDEX = reverse("restaurant_review:index")


def names_listed(client: Client, **params: Any) -> list[str]:
    response = client.get(INDEX, params)
    assert response.status_code == HTTPStatus.OK
    return [r.name for r in response.context["page"].object_list]


@pytest.fixture
def town(make_restaurant: Any, make_review: Any) -> dict[str, Restaurant]:
    """Four places with known details and ratings (averages 4.5, 3, 2 and none)."""
    places = {
        "napoli": make_restaurant(
            name="Pizzeria Napoli", cuisine="pizza", neighbourhood="Fremont", price_level=1
        ),
        "lupe": make_restaurant(
            name="Taquería Doña Lupe", cuisine="mexican", neighbourhood="Georgetown", price_level=1
        ),
        "lumiere": make_restaurant(
            name="Café Lumière", cuisine="french", neighbourhood="Fremont", price_level=3
        ),
        "siam": make_restaurant(
            name="Baan Siam", cuisine="thai", neighbourhood="Ballard", price_level=2
        ),
    }
    for key, ratings in (("napoli", [5, 4]), ("lupe", [3, 3, 3]), ("lumiere", [2])):
        for rating in ratings:
            make_review(restaurant=places[key], rating=rating)
    return places


def test_home_sorts_by_name_rating_reviews_and_newest(client: Client, town: Any) -> None:
    assert names_listed(client) == [
        "Baan Siam",
        "Café Lumière",
        "Pizzeria Napoli",
        "Taquería Doña Lupe",
    ]
    # Unrated places last.
    assert names_listed(client, sort="rating") == [
        "Pizzeria Napoli",
        "Taquería Doña Lupe",
        "Café Lumière",
        "Baan Siam",
    ]
    assert names_listed(client, sort="reviews")[:2] == ["Taquería Doña Lupe", "Pizzeria Napoli"]
    assert names_listed(client, sort="newest")[0] == "Baan Siam"  # created last


def test_home_filters_combine_with_search_sort_and_pager(client: Client, town: Any) -> None:
    assert names_listed(client, cuisine="pizza") == ["Pizzeria Napoli"]
    assert names_listed(client, price=1) == ["Pizzeria Napoli", "Taquería Doña Lupe"]
    assert names_listed(client, rating=3) == ["Pizzeria Napoli", "Taquería Doña Lupe"]
    assert names_listed(client, rating=4) == ["Pizzeria Napoli"]
    assert names_listed(client, q="fremont", sort="rating") == ["Pizzeria Napoli", "Café Lumière"]
    assert names_listed(client, q="fremont", price=3) == ["Café Lumière"]
    assert names_listed(client, q="fremont", cuisine="thai") == []
    # The pager keeps every choice.
    html = client.get(INDEX, {"q": "a", "price": 1, "sort": "rating"}).content.decode()
    assert 'value="rating" selected' in html and 'value="1" selected' in html


def test_pager_links_keep_filters_and_order(
    client: Client, make_restaurant: Any, make_review: Any
) -> None:
    for index in range(30):
        make_restaurant(name=f"Place {index:02d}", cuisine="thai")
    html = client.get(INDEX, {"cuisine": "thai", "sort": "newest"}).content.decode()
    assert 'href="?cuisine=thai&amp;sort=newest&amp;page=2"' in html
    assert names_listed(client, cuisine="thai", sort="newest", page=2)[-1] == "Place 00"


def test_a_search_ranks_best_matches_first_and_offers_that_order(
    client: Client, town: Any, make_restaurant: Any
) -> None:
    make_restaurant(name="Siam Garden", cuisine="thai")
    assert names_listed(client, q="thai") == ["Baan Siam", "Siam Garden"]  # by name, no name hit
    assert names_listed(client, q="siam")[0] == "Siam Garden"  # its name starts with it
    html = client.get(INDEX, {"q": "siam"}).content.decode()
    assert '<option value="relevance" selected>Best match</option>' in html
    assert "Best match" not in client.get(INDEX).content.decode()


def test_filters_not_understood_are_left_out_with_a_note(client: Client, town: Any) -> None:
    response = client.get(INDEX, {"sort": "price'--", "price": "9", "cuisine": "pizza"})
    assert response.status_code == HTTPStatus.OK
    assert [r.name for r in response.context["page"].object_list] == ["Pizzeria Napoli"]
    assertContains(response, "Some choices in the address were not understood")


def test_no_match_says_so_and_offers_the_full_list(client: Client, town: Any) -> None:
    html = client.get(INDEX, {"cuisine": "korean"}).content.decode()
    assert "No restaurant matches these filters." in html
    assert "Clear all" in html


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "thai pla"}, {"cuisine": "thai", "price": 2, "rating": 3, "sort": "rating"}],
)
def test_home_queries_stay_constant_with_filters(
    client: Client,
    make_restaurant: Any,
    make_review: Any,
    django_assert_num_queries: Any,
    params: Any,
) -> None:
    for index in range(30):
        restaurant = make_restaurant(name=f"Place {index}", cuisine="thai", price_level=2)
        make_review(restaurant=restaurant, rating=4)
    # The site's version, the page, the count; then, cached, the version alone.
    with django_assert_num_queries(3):
        client.get(INDEX, params)
    with django_assert_num_queries(1):
        client.get(INDEX, params)


def test_a_filtered_list_is_never_stale(client: Client, town: Any, make_review: Any) -> None:
    assert names_listed(client, rating=4) == ["Pizzeria Napoli"]
    make_review(restaurant=town["lupe"], rating=5)
    make_review(restaurant=town["lupe"], rating=5)
    make_review(restaurant=town["lupe"], rating=5)  # average 4
    assert names_listed(client, rating=4) == ["Pizzeria Napoli", "Taquería Doña Lupe"]
    town["siam"].cuisine = "pizza"
    town["siam"].save()
    assert names_listed(client, cuisine="pizza") == ["Baan Siam", "Pizzeria Napoli"]


def test_half_stars_and_one_decimal(client: Client, town: Any) -> None:
    html = client.get(INDEX).content.decode()
    napoli = html[html.index("Pizzeria Napoli") :]
    # 4.5: four and a half stars drawn; the number to one decimal.
    assert re.search(r'class="stars-drawn stars-9".*?Rated 4.5 out of 5', napoli, re.S)


# A restaurant's details


def test_cards_and_page_show_cuisine_neighbourhood_price_phone_and_website(
    client: Client, make_restaurant: Any
) -> None:
    restaurant = make_restaurant(
        name="Pizzeria Napoli",
        cuisine="pizza",
        neighbourhood="Fremont",
        price_level=2,
        phone="+1 (206) 555-0143",
        website="https://napoli.example/menu",
    )
    card = client.get(INDEX).content.decode()
    assert re.search(r"<span>Pizza</span><span>Fremont</span>.*?Price: moderate", card, re.S)
    html = client.get(restaurant.get_absolute_url()).content.decode()
    assert '<a href="tel:+12065550143">' in html
    assert '<a href="https://napoli.example/menu" rel="noopener nofollow">' in html


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "call me", "Enter a phone number of 7 to 15 digits"),
        ("phone", "555 12", "Enter a phone number of 7 to 15 digits"),
        ("phone", "206+555+0143", "Enter a phone number of 7 to 15 digits"),
        ("website", "javascript:alert(1)", "Enter a web address"),
        ("website", "ftp://files.example/", "Enter a web address"),
        ("cuisine", "martian", "Choose cuisine from the list"),
        ("price_level", "5", "Choose price from the list"),
    ],
)
def test_restaurant_details_are_validated(field: str, value: str, message: str) -> None:
    form = RestaurantForm({"name": "A", "street_address": "1 Main St", field: value})
    assert not form.is_valid()
    assert message in form.errors[field][0]


def test_a_website_without_a_scheme_is_https(client: Client) -> None:
    data = {"name": "Fig", "street_address": "1 Main St", "website": "fig.example"}
    client.post(reverse("restaurant_review:create_restaurant"), data)
    assert Restaurant.objects.get().website == "https://fig.example"


# A restaurant's reviews and photos


def test_reviews_sort_and_filter_by_stars(
    client: Client, make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant()
    for rating in (3, 5, 1, 5):
        make_review(restaurant=restaurant, rating=rating, review_text=f"Gave it {rating}.")
    url = restaurant.get_absolute_url()

    def ratings(**params: Any) -> list[int]:
        return [r.rating for r in client.get(url, params).context["page"].object_list]

    assert ratings() == [5, 1, 5, 3]  # newest first
    assert ratings(order="highest") == [5, 5, 3, 1]
    assert ratings(order="lowest") == [1, 3, 5, 5]
    assert ratings(stars=5) == [5, 5]
    assert ratings(stars=2) == []
    html = client.get(url, {"stars": 5}).content.decode()
    assert "Showing 2 5-star reviews of 4." in html
    # Each star bar links to its filter; the selected one links back to all.
    assert 'href="?stars=3#reviews"' in html and 'href="?#reviews" aria-current="true"' in html
    assert ratings(order="bogus", stars="9") == [5, 1, 5, 3]


def store_photo_reviews(restaurant: Restaurant, count: int) -> list[Review]:
    from restaurant_review.forms import process_photo

    reviews = []
    for index in range(count):
        data = image_bytes("PNG", size=(40 + index, 30))
        review = Review(restaurant=restaurant, user_name=f"R{index}", rating=4, review_text="Ok")
        review.photo = process_photo(io.BytesIO(data), size=len(data))
        review.save()
        reviews.append(review)
    return reviews


def test_photo_strip_shows_the_restaurants_newest_photos_and_the_gallery_all(
    client: Client, make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant()
    photo_reviews = store_photo_reviews(restaurant, 30)
    for _ in range(12):  # newer reviews without photos: page 1 of reviews has no photo
        make_review(restaurant=restaurant)
    html = client.get(restaurant.get_absolute_url()).content.decode()
    strip = html[html.index('class="photo-strip"') : html.index('id="reviews"')]
    assert strip.count("<img") == 8
    assert "See all 30 photos" in strip
    gallery_url = reverse("restaurant_review:photos", args=[restaurant.pk])
    first = client.get(gallery_url)
    assert first.status_code == HTTPStatus.OK
    assert [r.pk for r in first.context["page"].object_list] == [
        r.pk for r in reversed(photo_reviews)
    ][:24]
    assert 'srcset="' in first.content.decode()  # renditions
    second = client.get(gallery_url, {"page": 2})
    assert len(second.context["page"].object_list) == 6
    assert client.get(reverse("restaurant_review:photos", args=[999])).status_code == 404


# After posting


def test_posting_lands_on_the_new_review_with_thanks_right_above_it(
    client: Client, make_restaurant: Any, make_review: Any, review_data: Any
) -> None:
    restaurant = make_restaurant()
    make_review(restaurant=restaurant)
    response = client.post(
        reverse("restaurant_review:add_review", args=[restaurant.pk]), review_data
    )
    review = Review.objects.latest("pk")
    target = f"{restaurant.get_absolute_url()}#review-{review.pk}"
    assertRedirects(response, target, fetch_redirect_response=False)
    html = client.get(restaurant.get_absolute_url()).content.decode()
    thanks = html.index("Thank you! Your review was posted.")
    # Inside the reviews, just before the list whose first item is the new review.
    assert html.index('id="reviews"') < thanks < html.index(f'id="review-{review.pk}"')
    assert html.count("Thank you! Your review was posted.") == 1


def phone_photo() -> bytes:
    """A 12-megapixel JPEG of over 15 MB, as a phone's camera makes (noise compresses badly)."""
    noise = random.Random(1).randbytes(4032 * 3024 * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (4032, 3024), noise).save(buffer, "JPEG", quality=97)
    return buffer.getvalue()


def test_a_phone_photo_of_over_15_mb_is_accepted(
    client: Client, make_restaurant: Any, review_data: Any
) -> None:
    data = phone_photo()
    assert len(data) > 15 * 1024 * 1024
    restaurant = make_restaurant()
    response = client.post(
        reverse("restaurant_review:add_review", args=[restaurant.pk]),
        {**review_data, "photo": upload("IMG_0042.jpg", data)},
    )
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:2000]
    review = Review.objects.get()
    assert max(review.photo_width, review.photo_height) == 2048


def test_staff_edit_the_details_in_the_admin_and_search_follows(
    admin_client: Client, client: Client, make_restaurant: Any
) -> None:
    restaurant = make_restaurant(name="Fig")
    url = reverse("admin:restaurant_review_restaurant_change", args=[restaurant.pk])
    form = admin_client.get(url).content.decode()
    for field in ("cuisine", "neighbourhood", "price_level", "phone", "website"):
        assert f'id="id_{field}"' in form
    data = {
        "name": "Fig",
        "street_address": "1 Main St",
        "description": "",
        "cuisine": "greek",
        "neighbourhood": "Ballard",
        "price_level": "2",
        "phone": "(206) 555-0100",
        "website": "fig.example",
        "reviews-TOTAL_FORMS": "0",
        "reviews-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, data)
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:3000]
    restaurant.refresh_from_db()
    assert restaurant.website == "https://fig.example"
    assert names_listed(client, q="greek ballard") == ["Fig"]
    assert names_listed(client, cuisine="greek") == ["Fig"]


def test_review_pages_open_at_the_reviews_and_a_filter_says_how_many_it_shows(
    client: Client, make_restaurant: Any
) -> None:
    restaurant = make_restaurant()
    for n in range(25):
        Review.objects.create(
            restaurant=restaurant, user_name="Ana", rating=2 if n < 6 else 5, review_text=f"R{n}."
        )
    page = client.get(restaurant.get_absolute_url()).content.decode()
    assert 'href="?page=2#reviews"' in page  # "Next" on a phone lands at the reviews
    filtered = client.get(restaurant.get_absolute_url(), {"stars": 2}).content.decode()
    assert "Showing 6 2-star reviews of 25." in filtered


def test_a_filtered_list_is_titled_by_what_it_shows(client: Client) -> None:
    def title(**params: Any) -> str:
        found = re.search(
            r"<title>(.*?) · Restaurant Review</title>", client.get("/", params).content.decode()
        )
        assert found is not None
        return found.group(1)

    assert title() == "Restaurants"
    assert title(cuisine="french") == "French restaurants"
    assert title(q="bistro", cuisine="french", price=2, rating=4) == (
        "French restaurants matching “bistro”, $$, rated 4 and up"
    )
    assert title(cuisine="martian", price=9) == "Restaurants"  # not understood: left out


def test_a_restaurant_page_gives_directions_to_its_address(
    client: Client, make_restaurant: Any
) -> None:
    restaurant = make_restaurant(name="Café Olé", street_address="1 Main St, Springfield")
    page = client.get(restaurant.get_absolute_url()).content.decode()
    assert (
        'href="https://www.google.com/maps/search/?api=1&amp;query=Caf%C3%A9+Ol%C3%A9%2C+1+Main+St%2C+Springfield"'
        in page
    )


def test_a_restaurant_page_describes_itself_for_search_engines_and_shared_links(
    client: Client, make_restaurant: Any, review_data: Any
) -> None:
    """JSON-LD Restaurant with what Google's rich results need (name and address; a rating
    with its value and count, the value the page shows; each review's author and rating),
    Open Graph with an absolute image, and a canonical link, as on every page."""
    import json

    restaurant = make_restaurant(name="Trattoria <Test>", price_level=2, cuisine="italian")
    url = reverse("restaurant_review:add_review", args=[restaurant.pk])
    client.post(url, {**review_data, "rating": "5", "photo": upload("a.jpg", image_bytes())})
    for rating in (4, 4):
        Review.objects.create(
            restaurant=restaurant, user_name="Bo", rating=rating, review_text="Good."
        )
    html = client.get(restaurant.get_absolute_url()).content.decode()
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found is not None and "<Test>" not in found.group(1)  # no raw "<" in the data
    data = json.loads(found.group(1))
    assert rich_results.problems(data) == []
    assert (data["@context"], data["@type"]) == ("https://schema.org", "Restaurant")
    assert data["name"] == "Trattoria <Test>"
    assert data["address"] == {"@type": "PostalAddress", "streetAddress": "1 Main St"}
    assert (data["servesCuisine"], data["priceRange"]) == ("Italian", "$$")
    shown = re.search(r'<p class="rating-big" aria-hidden="true">([^<]+)</p>', html)
    assert shown is not None
    aggregate = data["aggregateRating"]
    assert aggregate["ratingValue"] == shown.group(1) == "4.3"
    assert (aggregate["reviewCount"], aggregate["bestRating"]) == (3, 5)
    assert len(data["review"]) == 3
    assert all(r["author"]["name"] and r["reviewRating"]["ratingValue"] for r in data["review"])
    absolute = f"http://testserver{restaurant.get_absolute_url()}"
    assert data["url"] == absolute and data["image"].startswith("http://testserver/media/")
    assert f'<link rel="canonical" href="{absolute}">' in html
    assert '<meta property="og:title" content="Trattoria &lt;Test&gt;">' in html
    og_image = re.search(r'<meta property="og:image" content="([^"]+)">', html)
    assert og_image is not None and og_image.group(1) == data["image"]
    home = client.get("/", {"q": "trattoria"}).content.decode()
    assert '<link rel="canonical" href="http://testserver/?q=trattoria">' in home
    assert '<meta property="og:image" content="http://testserver/apple-touch-icon.png">' in home


def test_a_typo_still_finds_restaurants_and_says_so(client: Client, make_restaurant: Any) -> None:
    make_restaurant(name="Pizzeria Napoli", cuisine="pizza", description="Wood-fired oven.")
    make_restaurant(name="Kumo Ramen", cuisine="japanese", description="Handmade noodles.")

    def names(q: str) -> tuple[list[str], str]:
        page = client.get("/", {"q": q})
        return [r.name for r in page.context["page"].object_list], page.content.decode()

    found, html = names("pizzria")
    assert found == ["Pizzeria Napoli"]
    assert "Nothing matches “pizzria” exactly. Showing the closest spellings." in html
    assert names("kumo ramne")[0] == ["Kumo Ramen"]  # every word close to one of its words
    assert names("xqzzv")[0] == []
    assert "closest spellings" not in names("pizzeria")[1]


def test_every_photo_link_opens_a_page_of_the_site_with_its_review_and_neighbours(
    client: Client, make_restaurant: Any
) -> None:
    restaurant = make_restaurant(name="Photo Place")
    first, middle, last = store_photo_reviews(restaurant, 3)  # oldest first
    for url in (
        restaurant.get_absolute_url(),
        reverse("restaurant_review:photos", args=[restaurant.pk]),
    ):
        html = client.get(url).content.decode()
        assert 'href="/media/' not in html  # no photo opens as a bare file
        assert reverse("restaurant_review:photo", args=[restaurant.pk, middle.pk]) in html
    assert "See all 3 photos" in client.get(restaurant.get_absolute_url()).content.decode()

    page = client.get(reverse("restaurant_review:photo", args=[restaurant.pk, middle.pk]))
    assert page.status_code == HTTPStatus.OK
    again = client.get(page.wsgi_request.path, HTTP_IF_NONE_MATCH=page["ETag"])
    assert again.status_code == HTTPStatus.NOT_MODIFIED  # its own ETag, as for any page
    html = page.content.decode()
    assert "From R1's review" in html and f"#review-{middle.pk}" in html
    newer = reverse("restaurant_review:photo", args=[restaurant.pk, last.pk])
    older = reverse("restaurant_review:photo", args=[restaurant.pk, first.pk])
    assert f'rel="prev" href="{newer}"' in html and f'rel="next" href="{older}"' in html
    newest = client.get(newer).content.decode()
    back = reverse("restaurant_review:photo", args=[restaurant.pk, middle.pk])
    assert 'rel="prev"' not in newest and f'rel="next" href="{back}"' in newest
    # A photo of another restaurant, or of a hidden review, has no page here.
    other = make_restaurant(name="Elsewhere")
    assert (
        client.get(reverse("restaurant_review:photo", args=[other.pk, middle.pk])).status_code
        == 404
    )
    Review.objects.filter(pk=first.pk).update(hidden=True)
    assert client.get(older).status_code == HTTPStatus.NOT_FOUND


def test_dish_words_find_restaurants_by_their_description(
    client: Client, make_restaurant: Any
) -> None:
    """A dish word finds the places that describe it; a match in a name, cuisine or
    neighbourhood ranks above one found only in a description."""
    make_restaurant(name="Kumo", cuisine="japanese", description="Handmade noodles, and sushi.")
    make_restaurant(name="Sprout", cuisine="vegetarian", description="Everything can be vegan.")
    make_restaurant(name="Noodle Bar", cuisine="thai", description="Curries.")
    assert names_listed(client, q="noodles") == ["Kumo"]
    assert names_listed(client, q="noodle") == ["Noodle Bar", "Kumo"]  # the name first
    assert names_listed(client, q="VEGAN") == ["Sprout"]
    assert names_listed(client, q="sushi japanese") == ["Kumo"]  # words from both
    assert names_listed(client, q="sushi thai") == []
    restaurant = Restaurant.objects.get(name="Sprout")
    restaurant.description = "Plant-based plates."
    restaurant.save(update_fields=["description"])
    # No longer found by its description: only as a close spelling of "vegetarian".
    assert client.get(INDEX, {"q": "vegan"}).context["page"].closest
    assert names_listed(client, q="plant") == ["Sprout"]
