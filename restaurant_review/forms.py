from django import forms
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from restaurant_review.models import RATING_MAX, RATING_MIN, Restaurant, Review, delete_stored_photo
from restaurant_review.photos import ACCEPT, FORMAT_NAMES, PhotoError, megabytes, reencode_photo


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search restaurants by name",
        max_length=100,
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "Search by name"}),
    )


class SiteForm(forms.ModelForm):
    """The classes the site's stylesheet gives a field's wrapper in `{{ form }}`."""

    error_css_class = "field-invalid"
    required_css_class = "field-required"


class RestaurantForm(SiteForm):
    class Meta:
        model = Restaurant
        fields = ["name", "street_address", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}


class PhotoFormMixin:
    """Accept a photo only if Pillow decodes it as JPEG, PNG or WebP; store it re-encoded."""

    cleaned_data: dict

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
        return ContentFile(photo.content, name=f"photo.{photo.format.extension}")


def save_review(review: Review, *, photo: ContentFile | None) -> Review:
    """Store the photo, then the row; if the row cannot be written, remove the photo again.

    A storage failure raises OSError before anything is written to the database.
    """
    with transaction.atomic():
        if photo is not None:
            review.photo.save(photo.name or "photo", photo, save=False)
        try:
            review.save()
        except BaseException:
            if photo is not None:
                delete_stored_photo(review.photo.name, why="its review was not saved")
            raise
    return review


class ReviewForm(PhotoFormMixin, SiteForm):
    """A new review of `instance.restaurant`: ReviewForm(instance=Review(restaurant=...))."""

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
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )

    class Meta:
        model = Review
        fields = ["user_name", "rating", "review_text", "photo"]
        widgets = {"review_text": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "photo"
        ].help_text = f"{FORMAT_NAMES}, up to {megabytes(settings.PHOTO_MAX_BYTES)} MB."

    def save(self, commit: bool = True) -> Review:
        review = super().save(commit=False)
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
