import logging
from typing import Any
from urllib.parse import urlencode

from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import connections, models
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from restaurant_review import hours
from restaurant_review.photo_storage import (
    PhotoRendition,
    ReviewPhotoField,
    photo_renditions,
    review_photo_path,
)
from restaurant_review.search import SIMILAR, folded, query_words
from restaurant_review.validators import (
    phone_link,
    validate_phone,
    validate_plain_text,
    validate_visible_text,
)

logger = logging.getLogger(__name__)

RATING_MIN = 1
RATING_MAX = 5

# The orders restaurants are listed in (RestaurantQuerySet.sorted_by(); best match: search()).
RELEVANCE = "relevance"
SORTS = [
    (RELEVANCE, "Best match"),
    ("name", "Name"),
    ("rating", "Highest rated"),
    ("reviews", "Most reviewed"),
    ("newest", "Newest"),
]


class Casefold(Func):
    """casefold(text): SQLite only, registered on each connection by restaurant_review.apps."""

    function = "casefold"
    output_field = models.CharField()


def _reviews_of_outer_restaurant() -> models.QuerySet:
    """The reviews of the restaurant row an outer query is on, grouped by it, for correlated
    subqueries that aggregate them (annotate a Count or Avg, take .values("value"))."""
    return (
        Review.objects.visible().filter(restaurant=OuterRef("pk")).order_by().values("restaurant")
    )


class RestaurantQuerySet(models.QuerySet):
    def with_rating_stats(self) -> "RestaurantQuerySet":
        """Annotate `avg_rating` (None without reviews) and `review_count` in the same query.

        Correlated subqueries rather than a join and GROUP BY: the database aggregates the
        reviews of the restaurants on the page only, not of every restaurant before the LIMIT,
        and a count for the pager needs no aggregation at all.
        """
        reviews = _reviews_of_outer_restaurant()
        return self.annotate(
            avg_rating=Subquery(
                reviews.annotate(value=Avg("rating")).values("value"), output_field=FloatField()
            ),
            review_count=Coalesce(
                Subquery(
                    reviews.annotate(value=Count("pk")).values("value"), output_field=IntegerField()
                ),
                0,
            ),
        )

    def with_cover_photo(self) -> "RestaurantQuerySet":
        """Annotate `cover_photo`, `cover_width` and `cover_height`: the newest review photo
        that has renditions (None if there is none), in the same query."""
        newest = (
            Review.objects.visible()
            .filter(restaurant=OuterRef("pk"), photo_width__isnull=False)
            .order_by("-created_at", "-pk")
        )
        return self.annotate(
            cover_photo=Subquery(newest.values("photo")[:1]),
            cover_width=Subquery(newest.values("photo_width")[:1]),
            cover_height=Subquery(newest.values("photo_height")[:1]),
        )

    def with_rating_distribution(self) -> "RestaurantQuerySet":
        """Annotate `stars_1` ... `stars_5`: how many reviews gave each rating, in the same
        query."""
        reviews = _reviews_of_outer_restaurant()
        return self.annotate(
            **{
                f"stars_{rating}": Coalesce(
                    Subquery(
                        reviews.filter(rating=rating).annotate(value=Count("pk")).values("value"),
                        output_field=IntegerField(),
                    ),
                    0,
                )
                for rating in range(RATING_MIN, RATING_MAX + 1)
            }
        )

    def with_photo_count(self) -> "RestaurantQuerySet":
        """Annotate `photo_count`: how many of its reviews have a photo, in the same query."""
        photos = _reviews_of_outer_restaurant().exclude(photo="")
        return self.annotate(
            photo_count=Coalesce(
                Subquery(
                    photos.annotate(value=Count("pk")).values("value"), output_field=IntegerField()
                ),
                0,
            )
        )

    def named(self, name: str) -> "RestaurantQuerySet":
        """Restaurants called `name`, ignoring case for every letter (as search does)."""
        if connections[self.db].vendor == "sqlite":
            return self.alias(name_folded=Casefold("name")).filter(name_folded=name.casefold())
        return self.filter(name__iexact=name)

    def search(self, text: str) -> "RestaurantQuerySet":
        """Restaurants where every word of `text` starts a word of the name, cuisine,
        neighbourhood or description, ignoring case and accents, in any order ("napoli pizz"
        finds "Pizzeria Napoli", "noodles" the ramen bars that describe theirs), best matches
        first: more words in the name, then in the name, cuisine or neighbourhood (a word found
        only in a description counts least), then a name that starts with the first word
        typed; then by name (restaurant_review.search). Each word is one LIKE on
        Restaurant.search_text or search_description, each served by its own trigram index on
        PostgreSQL."""
        typed = query_words(text)
        if not typed:
            return self
        found = self.filter(
            *(
                Q(search_text__contains=f" {word}") | Q(search_description__contains=f" {word}")
                for word in typed
            )
        )
        in_name_or_kind = [
            Case(When(**{f"{column}__contains": f" {word}"}, then=Value(1)), default=Value(0))
            for word in typed
            for column in ("search_name", "search_text")
        ]
        first = Case(When(search_name__startswith=f" {typed[0]}", then=Value(1)), default=Value(0))
        relevance = sum(in_name_or_kind, start=first)
        return found.annotate(relevance=relevance).order_by("-relevance", "name", "pk")

    def similar(self, text: str) -> "RestaurantQuerySet":
        """The forgiving search, for when search() finds nothing: restaurants where every word
        typed is close to a word of the name, cuisine or neighbourhood (word_similarity at
        least search.SIMILAR: "pizzria" finds "Pizzeria Napoli"), closest first. pg_trgm's
        function on PostgreSQL, the same one in Python on SQLite (restaurant_review.apps)."""
        typed = query_words(text)
        if not typed:
            return self.none()
        similarity = {
            f"similarity_{index}": Func(
                Value(word), F("search_text"), function="word_similarity", output_field=FloatField()
            )
            for index, word in enumerate(typed)
        }
        found = self.annotate(**similarity).filter(
            **{f"{name}__gte": SIMILAR for name in similarity}
        )
        closest = sum((F(name) for name in similarity), start=Value(0.0))
        return found.annotate(relevance=closest).order_by("-relevance", "name", "pk")

    def sorted_by(self, sort: str) -> "RestaurantQuerySet":
        """In the order of one of SORTS (with_rating_stats() for rating and reviews); ties,
        and the default, by name. RELEVANCE keeps search()'s order."""
        if sort == RELEVANCE:
            return self
        orders: dict[str, list[Any]] = {
            "rating": [F("avg_rating").desc(nulls_last=True), "-review_count"],
            "reviews": ["-review_count", F("avg_rating").desc(nulls_last=True)],
            "newest": ["-created_at"],
        }
        return self.order_by(*orders.get(sort, []), "name", "pk")

    def filtered(
        self, *, cuisine: str = "", price_level: int | None = None, min_rating: int | None = None
    ) -> "RestaurantQuerySet":
        """Those of a cuisine, a price level and at least an average rating (with_rating_stats()),
        each when given."""
        found = self
        if cuisine:
            found = found.filter(cuisine=cuisine)
        if price_level:
            found = found.filter(price_level=price_level)
        if min_rating:
            found = found.filter(avg_rating__gte=min_rating)
        return found


class Cuisine(models.TextChoices):
    AMERICAN = "american", "American"
    BAKERY = "bakery", "Bakery"
    BARBECUE = "barbecue", "Barbecue"
    CAFE = "cafe", "Café"
    CHINESE = "chinese", "Chinese"
    ETHIOPIAN = "ethiopian", "Ethiopian"
    FRENCH = "french", "French"
    GREEK = "greek", "Greek"
    INDIAN = "indian", "Indian"
    ITALIAN = "italian", "Italian"
    JAPANESE = "japanese", "Japanese"
    KOREAN = "korean", "Korean"
    MEDITERRANEAN = "mediterranean", "Mediterranean"
    MEXICAN = "mexican", "Mexican"
    MIDDLE_EASTERN = "middle-eastern", "Middle Eastern"
    PIZZA = "pizza", "Pizza"
    SEAFOOD = "seafood", "Seafood"
    SPANISH = "spanish", "Spanish"
    THAI = "thai", "Thai"
    VEGETARIAN = "vegetarian", "Vegetarian"
    VIETNAMESE = "vietnamese", "Vietnamese"


class PriceLevel(models.IntegerChoices):
    INEXPENSIVE = 1, "$ · inexpensive"
    MODERATE = 2, "$$ · moderate"
    EXPENSIVE = 3, "$$$ · expensive"
    VERY_EXPENSIVE = 4, "$$$$ · very expensive"


WEBSITE_INVALID = "Enter a web address starting with https:// or http://."


class Restaurant(models.Model):
    name = models.CharField(max_length=100, validators=[validate_visible_text])
    street_address = models.CharField(max_length=200, validators=[validate_visible_text])
    description = models.TextField(max_length=2000, blank=True, validators=[validate_plain_text])
    cuisine = models.CharField(max_length=20, choices=Cuisine.choices, blank=True)
    neighbourhood = models.CharField(max_length=60, blank=True, validators=[validate_visible_text])
    price_level = models.PositiveSmallIntegerField(
        "price", choices=PriceLevel.choices, null=True, blank=True
    )
    phone = models.CharField(max_length=30, blank=True, validators=[validate_phone])
    website = models.URLField(
        max_length=200,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"], message=WEBSITE_INVALID)],
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Per weekday, as restaurant_review.hours keeps them ("" when not known); entered through
    # the forms' seven day fields (forms.OpeningHoursFields).
    opening_hours = models.TextField(default="", blank=True, editable=False)
    # What search matches, folded (restaurant_review.search): the name; the name, cuisine and
    # neighbourhood; the description (dish words), in a column and index of its own so that
    # the short text's index stays selective. Kept by save() (and by bulk writers, with
    # refresh_search()).
    search_name = models.TextField(default="", editable=False)
    search_text = models.TextField(default="", editable=False)
    search_description = models.TextField(default="", editable=False)
    # What the restaurant's page shows changed this many times: every save of the restaurant
    # and every change to its reviews adds one, in the database (never a stale value read back
    # and saved again), so cached parts of its page are keyed on it and never served stale.
    version = models.PositiveBigIntegerField(default=1, editable=False)

    objects = RestaurantQuerySet.as_manager()

    # Set on the rows of RestaurantQuerySet.with_rating_stats(), with_cover_photo(),
    # with_rating_distribution() and with_photo_count().
    avg_rating: float | None
    review_count: int
    photo_count: int
    cover_photo: str | None
    cover_width: int | None
    cover_height: int | None

    class Meta:
        ordering = ["name", "pk"]
        # The home page's order: an index scan that stops after one page.
        indexes = [models.Index(fields=["name", "id"], name="restaurant_name_id_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_level__gte=1) & Q(price_level__lte=4),
                name="restaurant_price_level_1_to_4",
            ),
        ]

    # What search reads (refresh_search()).
    SEARCHED_FIELDS = frozenset({"name", "cuisine", "neighbourhood", "description"})
    SEARCH_COLUMNS = ("search_name", "search_text", "search_description")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.refresh_search()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and self.SEARCHED_FIELDS.intersection(update_fields):
            kwargs["update_fields"] = {*update_fields, *self.SEARCH_COLUMNS}
        if not self._state.adding:
            self.version = models.F("version") + 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
        super().save(*args, **kwargs)
        if not isinstance(self.version, int):
            # The new value is the database's: deferred, so it is read when next asked for.
            del self.__dict__["version"]

    def get_absolute_url(self) -> str:
        return reverse("restaurant_review:details", args=[self.pk])

    def refresh_search(self) -> None:
        """Set the search columns from the name, cuisine, neighbourhood and description."""
        self.search_name = folded(self.name)
        self.search_text = folded(self.name, self.get_cuisine_display(), self.neighbourhood)
        self.search_description = folded(self.description)

    def hours_status(self) -> "hours.Status | None":
        """Open or closed now, in the site's time zone; None when the hours are not known."""
        return hours.status(self.opening_hours, hours.local_now())

    def hours_by_day(self) -> list[tuple[str, str, bool]]:
        """(day, its hours as shown, whether it is today), Monday first; [] when not known."""
        if not self.opening_hours:
            return []
        today = hours.local_now().weekday()
        return [
            (day, hours.shown(ranges), index == today)
            for index, (day, ranges) in enumerate(
                zip(hours.DAYS, hours.week(self.opening_hours), strict=True)
            )
        ]

    def phone_link(self) -> str:
        return phone_link(self.phone)

    def directions_url(self) -> str:
        """A maps search for the restaurant at its address: Google Maps' cross-platform link,
        which opens the maps app on a phone and the site elsewhere."""
        query = urlencode({"api": "1", "query": f"{self.name}, {self.street_address}"})
        return f"https://www.google.com/maps/search/?{query}"

    def price_symbols(self) -> str:
        """The price level as "$" to "$$$$"; "" when it is not known."""
        return "$" * (self.price_level or 0)

    def price_words(self) -> str:
        """The price level in words ("moderate"); "" when it is not known."""
        if not self.price_level:
            return ""
        return str(PriceLevel(self.price_level).label).split(" · ", 1)[-1]

    def cover_renditions(self) -> list["PhotoRendition"]:
        """The renditions of the cover photo (with_cover_photo()), narrowest first."""
        return photo_renditions(self.cover_photo, self.cover_width, self.cover_height)

    def rating_distribution(self) -> list[tuple[int, int]]:
        """(rating, how many reviews gave it), best first (with_rating_distribution())."""
        return [
            (rating, getattr(self, f"stars_{rating}"))
            for rating in range(RATING_MAX, RATING_MIN - 1, -1)
        ]


class ReviewQuerySet(models.QuerySet):
    def visible(self) -> "ReviewQuerySet":
        """What the public pages show, count and average: reviews no moderator has hidden."""
        return self.filter(hidden=False)

    def hide(self, hidden: bool = True) -> int:
        """Hide (or show again) these reviews; their pages, counts and averages change at
        once (the content versions move on, as for any write)."""
        # By primary key: these may be filtered on an annotation (the admin's report count),
        # which an UPDATE cannot carry.
        rows = dict(self.values_list("pk", "restaurant_id"))
        changed = Review.objects.filter(pk__in=rows).exclude(hidden=hidden).update(hidden=hidden)
        restaurant_ids = set(rows.values())
        if changed:
            from restaurant_review.versions import content_changed  # it imports the models

            content_changed(*restaurant_ids)
        return changed


class Review(models.Model):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="reviews")
    user_name = models.CharField("reviewer", max_length=50, validators=[validate_visible_text])
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)]
    )
    review_text = models.TextField("review", max_length=2000, validators=[validate_plain_text])
    photo = ReviewPhotoField(upload_to=review_photo_path, max_length=200, blank=True)
    # The stored photo's size; None for a photo stored before renditions existed (until
    # `manage.py make_renditions` has made them), and for no photo.
    photo_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    photo_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Hidden by a moderator: kept (it can be shown again), but on no public page, count or
    # average.
    hidden = models.BooleanField(default=False)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=RATING_MIN) & Q(rating__lte=RATING_MAX),
                name="review_rating_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["restaurant", "-created_at"], name="review_restaurant_recent_idx"),
            # Cover photos: the newest review with a photo (with renditions) of a restaurant.
            models.Index(
                fields=["restaurant", "-created_at"],
                condition=Q(photo_width__isnull=False),
                name="review_photo_recent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} on {self.restaurant}: {self.rating}/5"

    def photo_renditions(self) -> list[PhotoRendition]:
        """The stored renditions of the photo, narrowest first; none for no photo, or one
        stored before renditions existed."""
        return photo_renditions(self.photo.name or None, self.photo_width, self.photo_height)


class Report(models.Model):
    """A visitor's report of a review, for the moderators' queue in the admin."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=200, validators=[validate_visible_text])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Report on review {self.review_id}: {self.reason}"


class ReportedReview(Review):
    """The moderators' queue in the admin: reviews visitors reported (same table)."""

    class Meta:
        proxy = True
        verbose_name = "reported review"


class PostingCount(models.Model):
    """A count the posting limits keep (restaurant_review.limits), in the database: every
    worker and instance shares it, and no cache eviction, full cache or cache outage loses it.
    A row is a count in one window, a remembered review text, or an upload in progress."""

    name = models.CharField(max_length=200, primary_key=True)
    count = models.BigIntegerField(default=0)
    # When the row stops counting, in seconds since the epoch; expired rows are deleted.
    expires = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.count}"


class ContentVersion(models.Model):
    """One row counting changes to any restaurant or review, for what lists many restaurants
    (the home page): its cached parts are keyed on it. Incremented in the database after each
    write, so a page that read the count before reading the data never caches old data under
    a new count, whichever worker or instance served it."""

    SITE = 1
    value = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"content version {self.value}"
