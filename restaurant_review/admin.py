from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from restaurant_review.forms import OpeningHoursFields, ReviewAdminForm
from restaurant_review.models import (
    Report,
    ReportedReview,
    Restaurant,
    RestaurantQuerySet,
    Review,
    ReviewQuerySet,
)


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
    """A restaurant's reviews as compact read-only rows, each linking to its own page (where
    it is edited): a restaurant with 58 reviews was 58 editable boxes, 5,300 px of them."""

    model = Review
    fields = ["user_name", "rating", "excerpt", "hidden", "created_at"]
    readonly_fields = ["user_name", "rating", "excerpt", "hidden", "created_at"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Review")
    def excerpt(self, review: Review) -> str:
        return truncatechars(review.review_text, 90)


class RestaurantAdminForm(OpeningHoursFields, forms.ModelForm):
    """The admin's restaurant form, with the public form's seven day fields."""

    class Meta:
        model = Restaurant
        # The admin's fieldsets name the model's fields (given formfield_overrides there).
        fields: list[str] = []


@admin.register(Restaurant)
class RestaurantAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "cuisine",
        "neighbourhood",
        "price_level",
        "review_count",
        "average_rating",
        "created_at",
    ]
    search_fields = ["name", "street_address", "neighbourhood"]
    list_filter = ["cuisine", "price_level", "created_at"]
    form = RestaurantAdminForm
    fieldsets = [
        (None, {"fields": ["name", "street_address", "description"]}),
        ("Details", {"fields": ["cuisine", "neighbourhood", "price_level", "phone", "website"]}),
        (
            "Opening hours",
            {
                "fields": list(OpeningHoursFields.HOURS_FIELDS),
                "description": OpeningHoursFields.HOURS_HINT,
            },
        ),
    ]
    # A website typed without a scheme is https (Django 6's default; no warning meanwhile).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [ReviewInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Restaurant]:
        return cast(RestaurantQuerySet, super().get_queryset(request)).with_rating_stats()

    @admin.display(description="Reviews", ordering="review_count")
    def review_count(self, restaurant: Restaurant) -> int:
        return restaurant.review_count

    @admin.display(description="Average rating", ordering="avg_rating")
    def average_rating(self, restaurant: Restaurant) -> str:
        return "—" if restaurant.avg_rating is None else f"{restaurant.avg_rating:.1f}"


class ReportInline(admin.TabularInline):
    model = Report
    fields = ["reason", "created_at"]
    readonly_fields = ["reason", "created_at"]
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReportedFilter(admin.SimpleListFilter):
    title = "reports"
    parameter_name = "reported"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Reported"), ("no", "Not reported")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() == "yes":
            return queryset.filter(report_count__gt=0)
        if self.value() == "no":
            return queryset.filter(report_count=0)
        return None


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    form = ReviewAdminForm
    # Narrow columns, so the list with its photos fits beside the filters at 1280 px.
    list_display = [
        "excerpt",
        "photo_thumbnail",
        "rating",
        "report_count",
        "visibility",
        "posted",
    ]
    list_display_links = ["excerpt"]
    list_filter = ["hidden", ReportedFilter, "rating", "created_at"]
    search_fields = ["user_name", "review_text", "restaurant__name"]
    list_select_related = ["restaurant"]
    autocomplete_fields = ["restaurant"]
    readonly_fields = ["created_at", "photo_preview"]
    inlines = [ReportInline]
    actions = ["hide", "unhide", "remove_photos", "dismiss_reports"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Review]:
        # Annotated before the admin's ordering is applied: it may sort by the report count.
        reviews = self.model._default_manager.annotate(report_count=Count("reports"))
        ordering = self.get_ordering(request)
        return reviews.order_by(*ordering) if ordering else reviews

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(description="Review", ordering="review_text")
    def excerpt(self, review: Review) -> str:
        return format_html(
            "<strong>{}</strong> on {}: {}",
            review.user_name,
            review.restaurant.name,
            truncatechars(review.review_text, 120),
        )

    @admin.display(description="On the site", ordering="hidden")
    def visibility(self, review: Review) -> str:
        # Words, not the admin's ✓ and ✗: a green ✓ for "hidden" read as "fine".
        return "Hidden" if review.hidden else "Shown"

    @admin.display(description="Posted", ordering="created_at")
    def posted(self, review: Review) -> str:
        return date_format(review.created_at, "j M Y")

    @admin.display(description="Reports", ordering="report_count")
    def report_count(self, review: Review) -> int:
        return review.report_count  # type: ignore[attr-defined]

    @admin.display(description="Photo")
    def photo_thumbnail(self, review: Review) -> str:
        return _photo_preview(review, height=40)

    @admin.display(description="Photo preview")
    def photo_preview(self, review: Review) -> str:
        return _photo_preview(review, height=240)

    @admin.action(description="Hide the selected reviews from the site", permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        changed = cast(ReviewQuerySet, queryset).hide()
        self.message_user(request, f"{changed} review{'s' * (changed != 1)} hidden.")

    @admin.action(description="Show the selected reviews on the site again", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        changed = cast(ReviewQuerySet, queryset).hide(False)
        self.message_user(request, f"{changed} review{'s' * (changed != 1)} shown again.")

    @admin.action(
        description="Remove the photos of the selected reviews (keep the reviews)",
        permissions=["change"],
    )
    def remove_photos(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        removed = 0
        # As Review, not the queue's proxy model: the signals that delete the files and move
        # the content versions on are the Review's. Saved one by one: the photo's files leave
        # storage once its row no longer names them, and the pages change at once.
        for review in Review.objects.filter(pk__in=queryset.values("pk")).exclude(photo=""):
            review.photo = None
            review.save()
            removed += 1
        self.message_user(
            request, f"{removed} photo{'s' * (removed != 1)} removed.", messages.SUCCESS
        )

    @admin.action(
        description="Dismiss the reports of the selected reviews (keep them as they are)",
        permissions=["change"],
    )
    def dismiss_reports(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        pks = list(queryset.values_list("pk", flat=True))
        deleted, _ = Report.objects.filter(review__in=pks).delete()
        self.message_user(
            request, f"{deleted} report{'s' * (deleted != 1)} dismissed.", messages.SUCCESS
        )


class QueueFilter(admin.SimpleListFilter):
    """The queue opens on what still needs a moderator: reported reviews still on the site.
    "Handled" lists the ones hidden since (their reports kept, until dismissed)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("handled", "Handled (hidden)"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            if choice["query_string"] == changelist.get_query_string(remove=[self.parameter_name]):
                choice["display"] = "Open (on the site)"
            yield choice

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() == "all":
            return queryset
        return queryset.filter(hidden=self.value() == "handled")


@admin.register(ReportedReview)
class ReportedReviewAdmin(ReviewAdmin):
    """The queue: reviews with reports, the most reported first, with what the reports say."""

    # No date: the reasons want the room beside the status filter at 1280 px.
    list_display = ["excerpt", "photo_thumbnail", "report_count", "reasons", "visibility"]

    def get_list_filter(self, request: HttpRequest) -> list:
        return [QueueFilter]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Review]:
        reviews = super().get_queryset(request)  # annotated with report_count
        return reviews.filter(report_count__gt=0).prefetch_related("reports")  # type: ignore[misc]

    @admin.display(description="Reasons")
    def reasons(self, review: Review) -> str:
        items = format_html_join(
            "",
            "<li>{}</li>",
            ((truncatechars(report.reason, 80),) for report in review.reports.all()),
        )
        return format_html("<ul>{}</ul>", items)

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["-report_count", "-created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
