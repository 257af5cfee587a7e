import logging

from django import forms
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from restaurant_review.models import RATING_MAX, RATING_MIN, Restaurant, Review
from restaurant_review.photos import PhotoError, reencode_photo

logger = logging.getLogger(__name__)

ACCEPTED_PHOTO_TYPES = "image/jpeg,image/png,image/webp"


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search restaurants by name",
        max_length=100,
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "Search by name"}),
    )


class RestaurantForm(forms.ModelForm):
    class Meta:
        model = Restaurant
        fields = ["name", "street_address", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}


class PhotoFormMixin:
    """Accept a photo only if Pillow decodes it as JPEG, PNG or WebP; store it re-encoded."""

    def clean_photo(self) -> ContentFile | None:
        upload = self.cleaned_data.get("photo")
        if not upload:
            return None
        if not hasattr(upload, "size"):  # The photo already stored (admin change form).
            return upload
        try:
            photo = reencode_photo(
                upload,
                size=upload.size,
                max_bytes=settings.PHOTO_MAX_BYTES,
                max_edge=settings.PHOTO_MAX_EDGE,
                max_pixels=settings.PHOTO_MAX_PIXELS,
            )
        except PhotoError as exc:
            raise forms.ValidationError(str(exc), code="invalid_photo") from None
        return ContentFile(photo.content, name=f"photo.{photo.extension}")


def save_review(review: Review, *, photo: ContentFile | None) -> Review:
    """Store the photo, then the row; if the row cannot be written, remove the photo again.

    A storage failure raises OSError before anything is written to the database.
    """
    with transaction.atomic():
        if photo is not None:
            review.photo.save(photo.name, photo, save=False)
        try:
            review.save()
        except BaseException:
            if photo is not None:
                _delete_orphan(review.photo.name)
            raise
    return review


def _delete_orphan(name: str) -> None:
    try:
        Review.photo.field.storage.delete(name)
    except Exception:
        logger.exception("Could not delete photo %s after the review was not saved", name)


class ReviewForm(PhotoFormMixin, forms.ModelForm):
    rating = forms.TypedChoiceField(
        choices=[("", "Choose a rating")]
        + [
            (value, f"{value} star{'s' if value > 1 else ''}")
            for value in range(RATING_MIN, RATING_MAX + 1)
        ],
        coerce=int,
    )
    photo = forms.FileField(
        label="Photo (optional)",
        required=False,
        help_text="JPEG, PNG or WebP.",
        widget=forms.FileInput(attrs={"accept": ACCEPTED_PHOTO_TYPES}),
    )

    class Meta:
        model = Review
        fields = ["user_name", "rating", "review_text", "photo"]
        widgets = {"review_text": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, restaurant: Restaurant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.restaurant = restaurant
        self.fields[
            "photo"
        ].help_text = f"JPEG, PNG or WebP, up to {settings.PHOTO_MAX_BYTES // (1024 * 1024)} MB."

    def save(self, commit: bool = True) -> Review:
        review = super().save(commit=False)
        review.restaurant = self.restaurant
        if commit:
            photo = self.cleaned_data.get("photo")
            review.photo = None
            save_review(review, photo=photo)
        return review


class ReviewAdminForm(PhotoFormMixin, forms.ModelForm):
    """Admin uploads go through the same checks and re-encoding as the public form."""

    class Meta:
        model = Review
        fields = ["restaurant", "user_name", "rating", "review_text", "photo"]
