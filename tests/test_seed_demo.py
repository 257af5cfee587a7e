"""seed_demo: demo data that looks real, and that a second run does not duplicate."""

import io
import random
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from PIL import Image, ImageStat

from localazure.services import PROJECT_DIR
from restaurant_review.management.commands.seed_demo import (
    DETAILS,
    GALLERY_PHOTOS,
    NEIGHBOURHOODS,
    OPENINGS,
    spread_photos,
)
from restaurant_review.models import Restaurant, Review

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_names_and_addresses_look_real_and_are_distinct() -> None:
    seed("--restaurants", "1000", "--reviews", "0")  # the benchmark's size
    names = list(Restaurant.objects.values_list("name", flat=True))
    assert len(names) == len(set(names)) == 1000
    assert not [name for name in names if re.search(r"\d", name)]  # no "Blue Fig 17"
    assert len({name.split()[0] for name in names}) > 30
    addresses = Restaurant.objects.values_list("street_address", flat=True)
    assert all(re.fullmatch(r"\d+ [\w .]+, [\w ]+", address) for address in addresses)


def test_review_counts_vary_from_none_to_several_pages() -> None:
    seed("--restaurants", "40", "--reviews", "400")
    counts = Counter(Review.objects.values_list("restaurant", flat=True))
    per_restaurant = [counts.get(pk, 0) for pk in Restaurant.objects.values_list("pk", flat=True)]
    assert sum(per_restaurant) == 400
    assert 0 in per_restaurant  # an honest empty restaurant
    assert max(per_restaurant) > 20  # the review pager (10 a page) shows
    assert len(set(per_restaurant)) > 8


def test_review_texts_agree_with_their_rating() -> None:
    seed("--restaurants", "20", "--reviews", "300")
    for review in Review.objects.all():
        opening = next(
            text for text in OPENINGS[review.rating] if review.review_text.startswith(text)
        )
        assert opening
        others = {
            text for rating, texts in OPENINGS.items() if rating != review.rating for text in texts
        }
        assert not [text for text in others if text in review.review_text]
        details = [d.split("{dish}")[0] for d in DETAILS[review.rating]]
        assert any(part in review.review_text for part in details)
    ratings = Counter(Review.objects.values_list("rating", flat=True))
    assert set(ratings) == {1, 2, 3, 4, 5}
    assert ratings[4] + ratings[5] > ratings[1] + ratings[2]  # most places are decent


def test_photos_look_like_photos(media_files: Any) -> None:
    seed("--restaurants", "6", "--reviews", "30", "--photos", "4")
    photos = [review.photo for review in Review.objects.exclude(photo="")]
    assert len(photos) == 4 and len(media_files()) == 4 * 4  # with 3 renditions each
    for photo in photos:
        with Image.open(photo.path) as image:
            assert image.format == "JPEG" and image.size == (1280, 960)
            stats = ImageStat.Stat(image.convert("L"))
            assert stats.stddev[0] > 20  # not a flat colour
            assert len(image.convert("RGB").getcolors(1_000_000) or []) > 5000


def test_second_run_adds_nothing_and_reset_starts_over(
    media_files: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first = seed("--restaurants", "8", "--reviews", "40", "--photos", "3")
    assert "Created 8 restaurants and 40 reviews (3 with photos)." in first
    before = list(Review.objects.values_list("pk", "review_text"))
    again = seed("--restaurants", "8", "--reviews", "40")
    assert "nothing added" in again and "--reset" in again
    assert list(Review.objects.values_list("pk", "review_text")) == before
    assert "nothing added" in seed("--restaurants", "3")  # a smaller run finds them too
    Restaurant.objects.create(name="Not a demo", street_address="1 Main St")
    with django_capture_on_commit_callbacks(execute=True):
        reset = seed("--reset", "--restaurants", "5", "--reviews", "10")
    assert "Deleted 9 restaurants" in reset
    assert Restaurant.objects.count() == 5 and Review.objects.count() == 10
    assert media_files() == []  # the old photos went with their reviews


def test_details_agree_with_each_other() -> None:
    """A restaurant's neighbourhood is the one in its address and in its name if named after
    one; its cuisine suits its name; phone numbers and websites reach no one."""
    seed("--restaurants", "300", "--reviews", "0")
    restaurants = list(Restaurant.objects.all())
    for restaurant in restaurants:
        assert restaurant.street_address.endswith(f", {restaurant.neighbourhood}")
        named_after = [hood for hood in NEIGHBOURHOODS if restaurant.name.endswith(f" {hood}")]
        assert named_after in ([], [restaurant.neighbourhood]), restaurant.name
        assert restaurant.cuisine and restaurant.price_level
        assert restaurant.phone == "" or re.fullmatch(r"\(206\) 555-01\d\d", restaurant.phone)
        assert restaurant.website == "" or restaurant.website.endswith(".example/")
        restaurant.full_clean()  # every field passes the forms' validation
    assert len([r for r in restaurants if r.name.endswith(NEIGHBOURHOODS)]) > 10
    pizza = Restaurant.objects.filter(name__contains="Pizz").values_list("cuisine", flat=True)
    assert set(pizza) == {"pizza"}
    assert Restaurant.objects.search("pizza fremont").exists()  # the search columns are set


def test_reviews_read_right() -> None:
    """No plural dish with a singular verb ("The garlic knots was good")."""
    seed("--restaurants", "30", "--reviews", "600")
    texts = Review.objects.values_list("review_text", flat=True)
    assert not [text for text in texts if re.search(r"\b\w+s (was|is)\b", text)]


def test_photos_go_to_as_many_restaurants_as_possible() -> None:
    seed("--restaurants", "12", "--reviews", "80", "--photos", "8")
    reviewed = set(Review.objects.values_list("restaurant", flat=True))
    with_photo = set(Review.objects.exclude(photo="").values_list("restaurant", flat=True))
    assert len(with_photo) == min(8, len(reviewed))
    covers = Restaurant.objects.with_cover_photo().exclude(cover_photo=None)
    assert covers.count() == len(with_photo)  # each one is its restaurant's cover


def test_the_readmes_demo_fills_some_galleries_and_covers_the_rest() -> None:
    """With the README's numbers, every reviewed restaurant gets a cover, and the two most
    reviewed get a dozen photos each (their galleries fill)."""
    readme = (PROJECT_DIR / "README.md").read_text()
    numbers = re.search(r"seed_demo --restaurants (\d+) --reviews (\d+) --photos (\d+)", readme)
    assert numbers is not None
    restaurants, reviews, photos = map(int, numbers.groups())
    rng = random.Random(1)
    places = [Restaurant(name=f"R{n}") for n in range(restaurants)]
    weights = [rng.paretovariate(1.3) for _ in places]
    now = timezone.now()
    written = [
        Review(restaurant=rng.choices(places, weights)[0], created_at=now - timedelta(hours=n))
        for n in range(reviews)
    ]
    chosen = spread_photos(rng, written, photos)
    assert len(chosen) == len(set(map(id, chosen))) == photos
    per_place = Counter(id(review.restaurant) for review in chosen)
    most = sorted(per_place.values(), reverse=True)
    assert most[:2] == [GALLERY_PHOTOS, GALLERY_PHOTOS] == [12, 12]
    reviewed = Counter(id(review.restaurant) for review in written)
    assert set(per_place) == set(reviewed)  # a cover for every reviewed restaurant
    busiest = {place for place, _ in reviewed.most_common(2)}
    assert {place for place, count in per_place.items() if count == 12} == busiest


def test_the_search_examples_in_the_docs_find_restaurants_in_the_readmes_demo_data(
    client: Client,
) -> None:
    """docs/features.md's search examples, on the data the README's command makes (its
    restaurants and seed; the names do not depend on the reviews or photos)."""
    readme = (PROJECT_DIR / "README.md").read_text()
    restaurants = re.search(r"seed_demo --restaurants (\d+)", readme)
    assert restaurants is not None
    call_command("seed_demo", f"--restaurants={restaurants.group(1)}", "--reviews=50")
    features = (PROJECT_DIR / "docs" / "features.md").read_text()
    search = features[features.index("- **Search**") :].split("\n- ")[0]
    examples = re.findall(r'"([^"]+)"', search)
    assert len(examples) >= 5, examples
    for example in examples:
        page = client.get("/", {"q": example})
        assert page.context["page"].paginator.count > 0, f"{example!r} finds nothing"
