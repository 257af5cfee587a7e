"""Fill the database with demo restaurants and reviews that look real (for demos and benchmarks).

Idempotent: the demo restaurants have names derived from --seed, and a second run that finds
them adds nothing. --reset deletes every restaurant and review (and their photos) first.
"""

import io
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from restaurant_review import hours, models
from restaurant_review.forms import process_photo
from restaurant_review.management.commands._demo_photos import demo_photo
from restaurant_review.models import RATING_MAX, RATING_MIN, Restaurant, Review
from restaurant_review.search import words
from restaurant_review.versions import content_changed


@dataclass(frozen=True)
class Cuisine:
    names: tuple[str, ...]  # name patterns: {word} from `words`, {person} from PEOPLE
    words: tuple[str, ...]
    dishes: tuple[str, ...]  # each one dish, in the singular: "the {dish} was ..."
    photo: str  # which demo photo suits it (_demo_photos.DISHES)
    blurb: str
    kind: models.Cuisine
    prices: tuple[int, ...]  # the price levels such places have
    hours: tuple[str, ...]  # opening hours such places keep, Monday first ("" closed)


CUISINES = (
    Cuisine(
        ("Trattoria {word}", "Osteria {word}", "{person}'s Trattoria", "Pasta {word}"),
        ("Bella", "Da Nonna", "Il Forno", "Luna", "Sorrento", "Verde", "Aurora", "Roma"),
        ("cacio e pepe", "wild mushroom risotto", "tiramisu", "burrata", "pappardelle ragù"),
        "pasta",
        "Fresh pasta rolled every morning, and a short list of Italian wines.",
        models.Cuisine.ITALIAN,
        (2, 3),
        (
            "",
            "17:00-22:00",
            "17:00-22:00",
            "17:00-22:00",
            "17:00-23:00",
            "12:00-15:00,17:00-23:00",
            "12:00-21:00",
        ),
    ),
    Cuisine(
        ("{word} Pizza", "Pizzeria {word}", "{person}'s Slice", "{word} Wood Oven"),
        ("Napoli", "Forno Rosso", "Brick House", "Vesuvio", "Little Italy", "Crust"),
        ("margherita", "diavola", "calzone", "garlic bread", "marinara pizza"),
        "pizza",
        "Neapolitan pizza from a wood-fired oven, in and out in ninety seconds.",
        models.Cuisine.PIZZA,
        (1, 2),
        ("11:30-22:00",) * 4 + ("11:30-23:30", "11:30-23:30", "12:00-21:00"),
    ),
    Cuisine(
        ("{word} Ramen", "Noodle House {word}", "{word} Izakaya", "{person}'s Ramen Bar"),
        ("Sakura", "Kumo", "Tonkotsu", "Hoshi", "Mizu", "Ichiban", "Umami"),
        ("tonkotsu ramen", "gyoza", "karaage", "miso ramen", "pork belly bao"),
        "bowl",
        "Broth simmered for eighteen hours, noodles made in house, and sushi at the counter.",
        models.Cuisine.JAPANESE,
        (1, 2),
        ("11:30-14:30,17:00-22:00",) * 5 + ("12:00-02:00", "12:00-21:00"),
    ),
    Cuisine(
        ("{word} Thai Kitchen", "Baan {word}", "{word} Curry House", "{person}'s Thai"),
        ("Siam", "Lotus", "Chili", "Jasmine", "Orchid", "Basil Leaf", "Tamarind"),
        ("green curry", "pad see ew", "khao soi", "tom yum soup", "mango sticky rice"),
        "bowl",
        "Curries with real heat, and a kind staff who will tone it down if you ask.",
        models.Cuisine.THAI,
        (1, 2),
        ("",) + ("11:00-21:30",) * 4 + ("11:00-22:30", "11:00-22:30"),
    ),
    Cuisine(
        ("The {word} Table", "{word} & Greens", "{person}'s Garden", "{word} Salad Bar"),
        ("Harvest", "Green", "Sprout", "Meadow", "Field", "Olive", "Fig"),
        ("grain bowl", "roasted beet salad", "falafel plate", "kale caesar", "lentil soup"),
        "salad",
        "Seasonal vegetables from farms within fifty miles; every dish can be made vegan.",
        models.Cuisine.VEGETARIAN,
        (1, 2),
        ("08:00-15:00",) * 5 + ("09:00-15:00", "09:00-14:00"),
    ),
    Cuisine(
        ("Bistro {word}", "Café {word}", "{person}'s Brasserie", "Le Petit {word}"),
        ("Éclair", "Lumière", "Marais", "Provence", "Chez Nous", "Montmartre", "Soleil"),
        ("steak au poivre", "onion soup", "niçoise salad", "crème brûlée", "duck confit"),
        "salad",
        "A Parisian bistro menu, with a long zinc bar and a good house red.",
        models.Cuisine.FRENCH,
        (2, 3, 4),
        (
            "",
            "",
            "17:30-22:00",
            "17:30-22:00",
            "17:30-23:00",
            "11:00-14:30,17:30-23:00",
            "11:00-14:30",
        ),
    ),
)
PEOPLE = (
    "Marta", "Luigi", "Keiko", "Somchai", "Amara", "Jules", "Rosa", "Omar", "Ines", "Tomás",
    "Hana", "Nadia", "Felix", "Priya", "Mateo", "Yuki", "Camille", "Dario", "Leila", "Sven",
)  # fmt: skip
NEIGHBOURHOODS = (
    "Ballard", "Capitol Hill", "Fremont", "Queen Anne", "Belltown", "Georgetown",
    "Wallingford", "Columbia City", "Pioneer Square", "Ravenna", "Greenwood", "Beacon Hill",
)  # fmt: skip
STREETS = (
    "Pike St", "Pine St", "Market St", "Leary Way", "Fremont Ave N", "Rainier Ave S",
    "Broadway E", "Eastlake Ave E", "Greenwood Ave N", "1st Ave S", "Stone Way N", "15th Ave E",
)  # fmt: skip
REVIEWERS = (
    "Ana P.", "Ben", "Chloé M.", "Dmitri", "Eve L.", "Farah K.", "Gus", "Hiro T.", "Isla",
    "José R.", "Kwame", "Lena W.", "Maya", "Noor S.", "Olivia", "Pavel D.", "Quinn", "Rafa",
    "Sara B.", "Theo", "Uma", "Victor H.", "Wen", "Ximena", "Yara G.", "Zoe",
)  # fmt: skip
# Review sentences by rating, so the words agree with the stars. {dish} is one of the cuisine's.
OPENINGS = {
    1: ("Disappointing from start to finish.", "We will not be back.", "Not worth the money."),
    2: ("Not great, sadly.", "Had high hopes after the reviews.", "A mixed evening at best."),
    3: ("Decent, if not memorable.", "A solid neighbourhood spot.", "Fine for a weeknight."),
    4: ("Really good meal.", "Lovely place, we'll be back.", "A reliable favourite."),
    5: ("Outstanding!", "Best meal we've had in months.", "Everything was perfect."),
}
DETAILS = {
    1: (
        "The {dish} arrived cold and we waited forty minutes for it.",
        "Our server forgot half the order and the {dish} was bland.",
        "The {dish} tasted reheated, and the table was sticky.",
    ),
    2: (
        "The {dish} was underseasoned and the room was very loud.",
        "Service was slow, though the {dish} was all right.",
        "The {dish} was too salty to finish.",
    ),
    3: (
        "The {dish} was good, the rest of the menu less so.",
        "Friendly staff; the {dish} was fine but nothing special.",
        "Portions are generous and the {dish} is worth ordering.",
    ),
    4: (
        "The {dish} was excellent, and service was warm and quick.",
        "Try the {dish}, it is the star of the menu.",
        "Great {dish}; it gets busy, so book ahead.",
    ),
    5: (
        "The {dish} alone is worth the trip.",
        "Every dish was great, especially the {dish}.",
        "I still think about the {dish}. Friendly, attentive staff too.",
    ),
}
CLOSINGS = (
    "",
    "",
    "Prices are fair.",
    "Good for groups.",
    "Cosy on a rainy evening.",
    "They have outdoor seating in summer.",
)


@dataclass(frozen=True)
class DemoRestaurant:
    name: str
    cuisine: Cuisine
    neighbourhood: str


def restaurant_names(rng: random.Random, count: int) -> list[DemoRestaurant]:
    """`count` distinct names, each with its cuisine and neighbourhood; the first k are the same
    for any count (same seed), so a second run, whatever its count, recognises the restaurants
    of the first. A second place of a name is named after its own neighbourhood."""
    names: list[DemoRestaurant] = []
    seen: set[str] = set()
    while len(names) < count:
        cuisine = rng.choice(CUISINES)
        name = rng.choice(cuisine.names).format(
            word=rng.choice(cuisine.words), person=rng.choice(PEOPLE)
        )
        hood = rng.choice(NEIGHBOURHOODS)
        if name in seen:
            for hood in rng.sample(NEIGHBOURHOODS, len(NEIGHBOURHOODS)):
                if f"{name} {hood}" not in seen:
                    name = f"{name} {hood}"
                    break
            else:  # thousands of restaurants: the names run out
                name = f"{name} No. {len(names) + 1}"
        if name not in seen:
            seen.add(name)
            names.append(DemoRestaurant(name, cuisine, hood))
    return names


def slug(name: str) -> str:
    return "-".join(words(name))


def description(demo: DemoRestaurant) -> str:
    """The cuisine's blurb and two of its dishes, so that dish words find it."""
    first, second = random.Random(demo.name).sample(demo.cuisine.dishes, 2)
    return f"{demo.cuisine.blurb} Known for the {first} and the {second}."


def opening_hours(demo: DemoRestaurant) -> str:
    """The cuisine's usual hours as Restaurant.opening_hours keeps them; one restaurant in
    eight has none known. (Its own random numbers, from the name: the restaurants' and reviews'
    other data stay as they were before hours existed.)"""
    if random.Random(f"hours {demo.name}").random() < 0.125:
        return ""
    return hours.week_text([hours.parse_day(day) for day in demo.cuisine.hours])


def demo_restaurant(rng: random.Random, demo: DemoRestaurant, *, now: Any) -> Restaurant:
    """A Restaurant for `demo`: an address in its neighbourhood, and a phone number and website
    that reach no one (555-01xx numbers and the .example domain are reserved for fiction)."""
    restaurant = Restaurant(
        name=demo.name,
        street_address=f"{rng.randint(100, 9999)} {rng.choice(STREETS)}, {demo.neighbourhood}",
        description=description(demo),
        opening_hours=opening_hours(demo),
        cuisine=demo.cuisine.kind,
        neighbourhood=demo.neighbourhood,
        price_level=rng.choice(demo.cuisine.prices),
        phone=f"(206) 555-01{rng.randint(0, 99):02d}" if rng.random() < 0.9 else "",
        website=f"https://{slug(demo.name)}.example/" if rng.random() < 0.7 else "",
        created_at=now - timedelta(days=rng.randint(400, 900)),
    )
    restaurant.refresh_search()  # bulk_create does not call save()
    return restaurant


# Restaurants whose galleries the demo fills: the two most reviewed get up to this many photos.
GALLERY_PHOTOS = 12


def spread_photos(rng: random.Random, reviews: list[Review], count: int) -> list[Review]:
    """`count` reviews to get a photo: first one per restaurant in turn (its newest review, so
    it is the cover), so that as many restaurants as possible have a cover photo; then the two
    most reviewed restaurants up to GALLERY_PHOTOS each, so that some galleries are full; then
    one per restaurant in turn again."""
    by_restaurant: dict[int, list[Review]] = {}
    for review in sorted(reviews, key=lambda review: review.created_at, reverse=True):
        by_restaurant.setdefault(id(review.restaurant), []).append(review)
    queues = list(by_restaurant.values())
    rng.shuffle(queues)
    galleries = sorted(queues, key=len, reverse=True)[:2]
    chosen: list[Review] = []
    for queue in queues:
        if len(chosen) < count:
            chosen.append(queue.pop(0))
    for queue in galleries:
        for _ in range(GALLERY_PHOTOS - 1):  # its cover is chosen already
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    while len(chosen) < count and any(queues):
        for queue in [queue for queue in queues if queue]:
            if len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def review_text(rng: random.Random, rating: int, cuisine: Cuisine) -> str:
    dish = rng.choice(cuisine.dishes)
    parts = [
        rng.choice(OPENINGS[rating]),
        rng.choice(DETAILS[rating]).format(dish=dish),
        rng.choice(CLOSINGS),
    ]
    return " ".join(part for part in parts if part)


def review_rating(rng: random.Random, quality: float) -> int:
    return max(RATING_MIN, min(RATING_MAX, round(rng.gauss(quality, 0.9))))


class Command(BaseCommand):
    help = (
        "Create demo restaurants and reviews (photos off by default). Adds nothing if the demo "
        "restaurants are there already; --reset deletes all restaurants and reviews first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--restaurants", type=int, default=20, help="how many restaurants")
        parser.add_argument("--reviews", type=int, default=100, help="how many reviews in all")
        parser.add_argument("--photos", type=int, default=0, help="how many reviews get a photo")
        parser.add_argument(
            "--busiest", type=int, default=0, help="extra reviews for the first new restaurant"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed, for repeatable data")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete every restaurant and review (and their photos) first",
        )
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])
        count = options["restaurants"]
        names = restaurant_names(rng, count)
        if options["reset"]:
            deleted = Restaurant.objects.count()
            with transaction.atomic():
                Review.objects.all().delete()  # one by one: each review's photo goes too
                Restaurant.objects.all().delete()
            self.stdout.write(f"Deleted {deleted} restaurants and their reviews.")
        else:
            present = Restaurant.objects.filter(name__in=[demo.name for demo in names]).count()
            if present:
                self.stdout.write(
                    f"The demo data is there already ({present} of its restaurants): nothing "
                    "added. Use --reset to start over."
                )
                return
        now = timezone.now()
        batch_size = options["batch_size"]
        with transaction.atomic():
            restaurants = Restaurant.objects.bulk_create(
                [demo_restaurant(rng, demo, now=now) for demo in names], batch_size=batch_size
            )
            reviews = self.make_reviews(rng, restaurants, names, options, now=now)
            cuisine_of = {id(r): demo.cuisine for r, demo in zip(restaurants, names, strict=True)}
            for review in spread_photos(rng, reviews, options["photos"]):
                data = demo_photo(rng, cuisine_of[id(review.restaurant)].photo)
                # As an upload is stored: re-encoded, with renditions (at bulk_create).
                review.photo = process_photo(io.BytesIO(data), size=len(data))
            Review.objects.bulk_create(reviews, batch_size=batch_size)
            # bulk_create sends no signals: the new restaurants come with their reviews in one
            # commit, and the site's lists are told here.
            content_changed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {len(restaurants)} restaurants and {len(reviews)} reviews "
                f"({min(options['photos'], len(reviews))} with photos)."
            )
        )

    @staticmethod
    def make_reviews(
        rng: random.Random,
        restaurants: list[Restaurant],
        names: list[DemoRestaurant],
        options: dict[str, Any],
        *,
        now: Any,
    ) -> list[Review]:
        """Reviews spread as they are in life: about one restaurant in six has none, a few
        popular ones have pages of them; --busiest extra ones go to the first restaurant."""
        if not restaurants:
            return []
        quality = [rng.uniform(2.4, 4.8) for _ in restaurants]
        popularity = [0.0 if rng.random() < 0.17 else rng.paretovariate(1.3) for _ in restaurants]
        if not any(popularity):
            popularity[0] = 1.0
        indexes = rng.choices(range(len(restaurants)), weights=popularity, k=options["reviews"])
        indexes += [0] * options["busiest"]
        reviews = []
        for index in indexes:
            rating = review_rating(rng, quality[index])
            restaurant = restaurants[index]
            age = (now - restaurant.created_at).total_seconds()
            reviews.append(
                Review(
                    restaurant=restaurant,
                    user_name=rng.choice(REVIEWERS),
                    rating=rating,
                    review_text=review_text(rng, rating, names[index].cuisine),
                    created_at=now - timedelta(seconds=rng.uniform(0, age)),
                )
            )
        return reviews
