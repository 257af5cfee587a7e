"""Helpers shared by the page, posting and admin tests."""

from typing import Any

from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from restaurant_review.models import Restaurant

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
