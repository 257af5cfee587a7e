from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from restaurant_review.models import Restaurant, Review
from restaurant_review.photo_storage import review_photo_path

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rating", [0, 6])
def test_review_rating_outside_1_to_5_fails_validation(make_review: Any, rating: int) -> None:
    review = make_review()
    review.rating = rating
    with pytest.raises(ValidationError) as excinfo:
        review.full_clean()
    assert "rating" in excinfo.value.message_dict


@pytest.mark.parametrize("rating", [0, 6])
def test_database_check_constraint_rejects_rating_outside_1_to_5(
    make_review: Any, rating: int
) -> None:
    review = make_review()
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(rating=rating)
    review.refresh_from_db()
    assert review.rating == 4


def test_with_rating_stats_averages_and_counts(make_restaurant: Any, make_review: Any) -> None:
    reviewed = make_restaurant(name="Reviewed")
    make_restaurant(name="Quiet")
    for rating in (2, 3, 5):
        make_review(restaurant=reviewed, rating=rating)
    stats = {r.name: r for r in Restaurant.objects.with_rating_stats()}
    assert stats["Reviewed"].review_count == 3
    assert stats["Reviewed"].avg_rating == pytest.approx(10 / 3)
    assert stats["Quiet"].review_count == 0
    assert stats["Quiet"].avg_rating is None


def test_search_matches_the_start_of_words_case_insensitively(make_restaurant: Any) -> None:
    make_restaurant(name="Golden Spoon")
    make_restaurant(name="Blue Lantern")
    assert [r.name for r in Restaurant.objects.search("spoon")] == ["Golden Spoon"]
    assert [r.name for r in Restaurant.objects.search("SPO")] == ["Golden Spoon"]
    assert list(Restaurant.objects.search("poon")) == []  # not the start of a word
    assert Restaurant.objects.search("  ").count() == 2


@pytest.mark.parametrize("query", ["éclair", "ÉCLAIR", "Eclair", "eclair", "éCLaIR", "ecla"])
def test_search_ignores_case_and_accents(make_restaurant: Any, query: str) -> None:
    make_restaurant(name="Café Éclair")
    make_restaurant(name="Straße 9")
    make_restaurant(name="Clair de Lune")  # "clair" does not start "eclair"
    assert [r.name for r in Restaurant.objects.search(query)] == ["Café Éclair"]
    assert [r.name for r in Restaurant.objects.search("STRASSE")] == ["Straße 9"]
    assert [r.name for r in Restaurant.objects.search("strasse 9")] == ["Straße 9"]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("napoli pizzeria", ["Pizzeria Napoli"]),
        ("pizz napo", ["Pizzeria Napoli"]),
        ("dona lupe", ["Taquería Doña Lupe"]),
        ("taqueria", ["Taquería Doña Lupe"]),
        ("cafe lumiere", ["Café Lumière"]),
        ("thai", ["Baan Siam"]),  # by its cuisine
        ("fremont", ["Café Lumière", "Pizzeria Napoli"]),  # by its neighbourhood
        ("mexican georgetown", ["Taquería Doña Lupe"]),
        ("lupe pizzeria", []),  # every word must match
    ],
)
def test_search_finds_every_word_in_any_order_in_name_cuisine_or_neighbourhood(
    make_restaurant: Any, query: str, found: list[str]
) -> None:
    make_restaurant(name="Pizzeria Napoli", cuisine="pizza", neighbourhood="Fremont")
    make_restaurant(name="Taquería Doña Lupe", cuisine="mexican", neighbourhood="Georgetown")
    make_restaurant(name="Café Lumière", cuisine="french", neighbourhood="Fremont")
    make_restaurant(name="Baan Siam", cuisine="thai", neighbourhood="Ballard")
    assert [r.name for r in Restaurant.objects.search(query)] == found


def test_search_ranks_name_matches_first_then_by_name(make_restaurant: Any) -> None:
    make_restaurant(name="Zest", cuisine="thai")  # "thai" by cuisine only
    make_restaurant(name="Another Thai Place", cuisine="thai")
    make_restaurant(name="Thai Tom", cuisine="thai")  # the name starts with it
    make_restaurant(name="Bangkok Thai", cuisine="thai")
    assert [r.name for r in Restaurant.objects.search("thai")] == [
        "Thai Tom",
        "Another Thai Place",
        "Bangkok Thai",
        "Zest",
    ]


def test_search_columns_follow_the_name_cuisine_and_neighbourhood(make_restaurant: Any) -> None:
    restaurant = make_restaurant(name="Old Name")
    restaurant.name, restaurant.cuisine = "Ramen Ichiban", "japanese"
    restaurant.save(update_fields=["name", "cuisine"])
    assert [r.name for r in Restaurant.objects.search("japanese ichi")] == ["Ramen Ichiban"]
    assert list(Restaurant.objects.search("old")) == []


def test_created_at_is_set_by_the_model(make_review: Any) -> None:
    review = make_review()
    assert review.created_at is not None
    assert review.restaurant.created_at is not None


def test_reviews_are_reachable_through_related_name_newest_first(
    make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant()
    first = make_review(restaurant=restaurant)
    second = make_review(restaurant=restaurant)
    assert list(restaurant.reviews.all()) == [second, first]


def test_photo_names_are_unique_and_keep_the_extension() -> None:
    first = review_photo_path(None, "photo.JPG")  # type: ignore[arg-type]
    second = review_photo_path(None, "photo.JPG")  # type: ignore[arg-type]
    assert first != second
    assert first.startswith("reviews/") and first.endswith(".jpg")


def test_restaurant_url_round_trips(make_restaurant: Any) -> None:
    from django.urls import resolve

    restaurant = make_restaurant()
    match = resolve(restaurant.get_absolute_url())
    assert match.view_name == "restaurant_review:details"
    assert match.kwargs == {"pk": restaurant.pk}
