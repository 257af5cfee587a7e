from typing import cast

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from restaurant_review.forms import ReviewAdminForm
from restaurant_review.models import Restaurant, RestaurantQuerySet, Review


def _photo_preview(review: Review, *, height: int) -> str:
    """A thumbnail (the smallest rendition, or the photo itself before renditions existed)
    linking to the full photo."""
    if not review.photo:
        return "—"
    renditions = review.photo_renditions()
    return format_html(
        '<a href="{url}"><img src="{src}" alt="Photo by {author}" height="{h}" loading="lazy"></a>',
        url=review.photo.url,
        src=renditions[0].url if renditions else review.photo.url,
        author=review.user_name,
        h=height,
    )


class ReviewInline(admin.TabularInline):
    model = Review
    form = ReviewAdminForm
    extra = 0
    # Narrow inputs, so a restaurant with many reviews fits the page without sideways scrolling.
    formfield_overrides = {
        models.CharField: {"widget": forms.TextInput(attrs={"size": 14})},
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 34})},
    }
    # The photo is changed on the review's own page (show_change_link): a file input per row
    # would make the table too wide.
    fields = ["user_name", "rating", "review_text", "photo_thumbnail", "created_at"]
    readonly_fields = ["created_at", "photo_thumbnail"]
    show_change_link = True

    @admin.display(description="Photo")
    def photo_thumbnail(self, review: Review) -> str:
        return _photo_preview(review, height=48)


@admin.register(Restaurant)
class RestaurantAdmin(admin.ModelAdmin):
    list_display = ["name", "street_address", "review_count", "average_rating", "created_at"]
    search_fields = ["name", "street_address"]
    list_filter = ["created_at"]
    inlines = [ReviewInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Restaurant]:
        return cast(RestaurantQuerySet, super().get_queryset(request)).with_rating_stats()

    @admin.display(description="Reviews", ordering="review_count")
    def review_count(self, restaurant: Restaurant) -> int:
        return restaurant.review_count

    @admin.display(description="Average rating", ordering="avg_rating")
    def average_rating(self, restaurant: Restaurant) -> str:
        return "—" if restaurant.avg_rating is None else f"{restaurant.avg_rating:.1f}"


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    form = ReviewAdminForm
    list_display = ["restaurant", "user_name", "rating", "created_at", "photo_thumbnail"]
    list_filter = ["rating", "created_at"]
    search_fields = ["user_name", "review_text", "restaurant__name"]
    list_select_related = ["restaurant"]
    autocomplete_fields = ["restaurant"]
    readonly_fields = ["created_at", "photo_preview"]

    @admin.display(description="Photo")
    def photo_thumbnail(self, review: Review) -> str:
        return _photo_preview(review, height=48)

    @admin.display(description="Photo preview")
    def photo_preview(self, review: Review) -> str:
        return _photo_preview(review, height=240)
