import logging
import time
import uuid
from pathlib import PurePath
from typing import Any, NamedTuple

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models
from django.db.models import Avg, Count, FloatField, Func, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from restaurant_review.photos import (
    RENDITION_WIDTHS,
    Photo,
    PhotoFile,
    rendition_name,
    rendition_size,
    stored_names,
)
from restaurant_review.validators import validate_plain_text, validate_visible_text

logger = logging.getLogger(__name__)

RATING_MIN = 1
RATING_MAX = 5


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

    def named(self, name: str) -> "RestaurantQuerySet":
        """Restaurants called `name`, ignoring case for every letter (as search does)."""
        if connections[self.db].vendor == "sqlite":
            return self.alias(name_folded=Casefold("name")).filter(name_folded=name.casefold())
        return self.filter(name__iexact=name)

    def search(self, text: str) -> "RestaurantQuerySet":
        """Restaurants whose name contains `text`, ignoring case for every letter ("éclair"
        finds "Café Éclair"). PostgreSQL's ILIKE does that itself, and the home page's order
        still walks its name index; SQLite's LIKE folds ASCII letters only, so there both
        sides are case-folded (the casefold() function restaurant_review.apps registers)."""
        text = text.strip()
        if not text:
            return self
        if connections[self.db].vendor == "sqlite":
            return self.alias(name_folded=Casefold("name")).filter(
                name_folded__contains=text.casefold()
            )
        return self.filter(name__icontains=text)


class Restaurant(models.Model):
    name = models.CharField(max_length=100, validators=[validate_visible_text])
    street_address = models.CharField(max_length=200, validators=[validate_visible_text])
    description = models.TextField(max_length=2000, blank=True, validators=[validate_plain_text])
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # What the restaurant's page shows changed this many times: every save of the restaurant
    # and every change to its reviews adds one, in the database (never a stale value read back
    # and saved again), so cached parts of its page are keyed on it and never served stale.
    version = models.PositiveBigIntegerField(default=1, editable=False)

    objects = RestaurantQuerySet.as_manager()

    # Set on the rows of RestaurantQuerySet.with_rating_stats(), with_cover_photo() and
    # with_rating_distribution().
    avg_rating: float | None
    review_count: int
    cover_photo: str | None
    cover_width: int | None
    cover_height: int | None

    class Meta:
        ordering = ["name", "pk"]
        # The home page's order: an index scan that stops after one page.
        indexes = [models.Index(fields=["name", "id"], name="restaurant_name_id_idx")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
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

    def cover_renditions(self) -> list["PhotoRendition"]:
        """The renditions of the cover photo (with_cover_photo()), narrowest first."""
        return photo_renditions(self.cover_photo, self.cover_width, self.cover_height)

    def rating_distribution(self) -> list[tuple[int, int]]:
        """(rating, how many reviews gave it), best first (with_rating_distribution())."""
        return [
            (rating, getattr(self, f"stars_{rating}"))
            for rating in range(RATING_MAX, RATING_MIN - 1, -1)
        ]


def review_photo_path(instance: "Review", filename: str) -> str:
    """A unique name per photo, keeping the extension the photo was re-encoded to."""
    return f"reviews/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


class PhotoRendition(NamedTuple):
    url: str
    width: int
    height: int


def photo_renditions(
    name: str | None, width: int | None, height: int | None
) -> list[PhotoRendition]:
    """The renditions of the photo stored as `name`, `width` x `height`, narrowest first, one
    per distinct width; none without a photo or its size (stored before renditions existed)."""
    if not name or not width or not height:
        return []
    storage = Review.photo.field.storage
    renditions: dict[int, PhotoRendition] = {}
    for slot in RENDITION_WIDTHS:
        size = rendition_size(width, height, slot)
        renditions.setdefault(
            size[0], PhotoRendition(storage.url(rendition_name(name, slot)), *size)
        )
    return list(renditions.values())


def store_renditions(storage: Storage, name: str, photo: Photo) -> None:
    """Store `photo`'s renditions beside the photo stored as `name`. If one cannot be stored,
    the error goes on, and those stored are deleted again unless Storage itself is failing
    (OSError): then they are left to purge_orphan_photos rather than waited on again."""
    stored: list[str] = []
    try:
        for rendition in photo.renditions:
            target = rendition_name(name, rendition.slot)
            stored.append(storage.save(target, ContentFile(rendition.content, name=target)))
    except OSError:
        raise
    except BaseException:
        for leftover in stored:
            _delete_quietly(storage, leftover, why="the other renditions could not be stored")
        raise


class ReviewPhotoField(models.ImageField):
    """An ImageField that, when a new PhotoFile is saved, stores its renditions too and sets
    the review's photo_width and photo_height (fields declared after this one, so the INSERT or
    UPDATE being prepared still reads their new values)."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        file = getattr(model_instance, self.attname)
        new = file.file if file and not file._committed else None
        stored = super().pre_save(model_instance, add)
        if isinstance(new, PhotoFile):
            try:
                store_renditions(stored.storage, stored.name, new.photo)
            except OSError:
                # Storage is failing: deleting would only wait on it again. The photo is an
                # orphan that purge_orphan_photos removes; the save fails as a whole.
                raise
            except BaseException:
                _delete_quietly(stored.storage, stored.name, why="its renditions failed")
                raise
            model_instance.photo_width, model_instance.photo_height = (  # type: ignore[attr-defined]
                new.photo.width,
                new.photo.height,
            )
        elif not stored:
            model_instance.photo_width = model_instance.photo_height = None  # type: ignore[attr-defined]
        return stored


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


class ContentVersion(models.Model):
    """One row counting changes to any restaurant or review, for what lists many restaurants
    (the home page): its cached parts are keyed on it. Incremented in the database after each
    write, so a page that read the count before reading the data never caches old data under
    a new count, whichever worker or instance served it."""

    SITE = 1
    value = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"content version {self.value}"


def content_changed(*restaurant_ids: int | None) -> None:
    """Record a change to what these restaurants' pages show, and so to the site's lists:
    call it after writing (the signals in restaurant_review.signals do, for saves and deletes
    of restaurants and reviews; bulk writes call it themselves)."""
    ids = {pk for pk in restaurant_ids if pk is not None}
    if ids:
        Restaurant.objects.filter(pk__in=ids).update(version=models.F("version") + 1)
    updated = ContentVersion.objects.filter(pk=ContentVersion.SITE).update(
        value=models.F("value") + 1
    )
    if not updated:
        _recreate_site_version()


def _recreate_site_version() -> int:
    """The row was deleted: start again from the clock in nanoseconds, beyond any count it
    had reached, so no key used before comes back."""
    row, _ = ContentVersion.objects.get_or_create(
        pk=ContentVersion.SITE, defaults={"value": time.time_ns()}
    )
    return row.value


def _one_value(sql: str, pk: int) -> Any:
    """The one column of the row `pk` that `sql` selects, or None. Plain SQL: every page reads
    a version, and building the query with the ORM would cost more than running it."""
    with connections["default"].cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    return row[0] if row else None


def site_version() -> int:
    """The site's content version (ContentVersion)."""
    table = ContentVersion._meta.db_table
    value = _one_value(f"SELECT value FROM {table} WHERE id = %s", ContentVersion.SITE)
    return value if value is not None else _recreate_site_version()


def restaurant_version(pk: int) -> int | None:
    """The restaurant's version, None if there is no such restaurant."""
    return _one_value(f"SELECT version FROM {Restaurant._meta.db_table} WHERE id = %s", pk)


def delete_stored_photo(name: str, *, why: str) -> None:
    """Remove a review's photo and its renditions from storage. A failure is logged, not
    raised: the row, which is what people see, is already right, and a stray file costs only
    storage."""
    storage = Review.photo.field.storage
    for stored in stored_names(name):
        _delete_quietly(storage, stored, why=why)


def _delete_quietly(storage: Storage, name: str, *, why: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("Could not delete photo %s (%s)", name, why)
