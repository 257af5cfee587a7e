import logging
import uuid
from pathlib import PurePath

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Avg, Count, FloatField, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

logger = logging.getLogger(__name__)

RATING_MIN = 1
RATING_MAX = 5


class RestaurantQuerySet(models.QuerySet):
    def with_rating_stats(self) -> "RestaurantQuerySet":
        """Annotate `avg_rating` (None without reviews) and `review_count` in the same query.

        Correlated subqueries rather than a join and GROUP BY: the database aggregates the
        reviews of the restaurants on the page only, not of every restaurant before the LIMIT,
        and a count for the pager needs no aggregation at all.
        """
        reviews = Review.objects.filter(restaurant=OuterRef("pk")).order_by().values("restaurant")
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

    def search(self, text: str) -> "RestaurantQuerySet":
        text = text.strip()
        return self.filter(name__icontains=text) if text else self


class Restaurant(models.Model):
    name = models.CharField(max_length=100)
    street_address = models.CharField(max_length=200)
    description = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = RestaurantQuerySet.as_manager()

    # Set on the rows of RestaurantQuerySet.with_rating_stats().
    avg_rating: float | None
    review_count: int

    class Meta:
        ordering = ["name", "pk"]
        # The home page's order: an index scan that stops after one page.
        indexes = [models.Index(fields=["name", "id"], name="restaurant_name_id_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("restaurant_review:details", args=[self.pk])


def review_photo_path(instance: "Review", filename: str) -> str:
    """A unique name per photo, keeping the extension the photo was re-encoded to."""
    return f"reviews/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


class Review(models.Model):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="reviews")
    user_name = models.CharField("your name", max_length=50)
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)]
    )
    review_text = models.TextField("review", max_length=2000)
    photo = models.ImageField(upload_to=review_photo_path, max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

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
        ]

    def __str__(self) -> str:
        return f"{self.user_name} on {self.restaurant}: {self.rating}/5"


def delete_stored_photo(name: str, *, why: str) -> None:
    """Remove a review's photo from storage. A failure is logged, not raised: the row, which is
    what people see, is already right, and a stray file costs only storage."""
    try:
        Review.photo.field.storage.delete(name)
    except Exception:
        logger.exception("Could not delete photo %s (%s)", name, why)
