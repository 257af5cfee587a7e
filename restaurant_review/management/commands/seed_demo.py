"""Fill the database with demo restaurants and reviews (for demos and benchmarks)."""

import io
import random
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from PIL import Image

from restaurant_review.models import Restaurant, Review

ADJECTIVES = ["Golden", "Blue", "Little", "Old", "Happy", "Green", "Rusty", "Silver", "Hidden"]
NOUNS = ["Spoon", "Lantern", "Olive", "Dragon", "Harbor", "Garden", "Oven", "Fig", "Tavern"]
STREETS = ["Main St", "Pike St", "Elm Ave", "Market St", "Harbor Rd", "Union Sq", "Bay St"]
NAMES = ["Ana", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hiro", "Ines", "José"]
PHRASES = [
    "Great food and friendly staff.",
    "The soup was cold, but the dessert made up for it.",
    "Would come back for the bread alone.",
    "A bit noisy on weekends.",
    "Best coffee in the neighbourhood.",
]


def _demo_photo(rng: random.Random) -> ContentFile:
    colour = tuple(rng.randrange(256) for _ in range(3))
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buffer, format="JPEG", quality=80)
    return ContentFile(buffer.getvalue(), name="demo.jpg")


class Command(BaseCommand):
    help = "Create demo restaurants and reviews (photos off by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--restaurants", type=int, default=20, help="how many restaurants")
        parser.add_argument("--reviews", type=int, default=100, help="how many reviews in all")
        parser.add_argument("--photos", type=int, default=0, help="how many reviews get a photo")
        parser.add_argument(
            "--busiest", type=int, default=0, help="extra reviews for the first new restaurant"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed, for repeatable data")
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])
        count, review_count = options["restaurants"], options["reviews"]
        now = timezone.now()
        with transaction.atomic():
            restaurants = Restaurant.objects.bulk_create(
                [
                    Restaurant(
                        name=f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {index + 1}",
                        street_address=f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
                        description=rng.choice(PHRASES),
                    )
                    for index in range(count)
                ],
                batch_size=options["batch_size"],
            )
            reviews = [
                Review(
                    restaurant=restaurants[index % len(restaurants)],
                    user_name=rng.choice(NAMES),
                    rating=rng.randint(1, 5),
                    review_text=rng.choice(PHRASES),
                    created_at=now - timedelta(minutes=rng.randint(0, 525_600)),
                )
                for index in range(review_count + options["busiest"] if restaurants else 0)
            ]
            # The extra reviews all go to the first restaurant: a page with many reviews.
            for review in reviews[review_count:]:
                review.restaurant = restaurants[0]
            for review in reviews[: options["photos"]]:
                photo = _demo_photo(rng)
                review.photo.save(photo.name, photo, save=False)
            Review.objects.bulk_create(reviews, batch_size=options["batch_size"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {len(restaurants)} restaurants and {len(reviews)} reviews "
                f"({min(options['photos'], len(reviews))} with photos)."
            )
        )
