from typing import IO, Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models.fields.files import FieldFile

from restaurant_review.models import (
    RATING_MAX,
    RATING_MIN,
    Report,
    Restaurant,
    Review,
    delete_stored_photo,
)
from restaurant_review.photos import (
    ACCEPT,
    FORMAT_NAMES,
    PhotoBusy,
    PhotoError,
    PhotoFile,
    megabytes,
    reencode_photo,
)

PHOTO_BUSY = (
    "We are processing other photos right now, so your review was not saved yet. "
    "Please send it again in a moment; you will need to choose the photo again."
)


TRAPPED = (
    "Your post could not be accepted: a field meant to stay empty was filled in. "
    "If you are a person, please reload the page and try again."
)


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search restaurants by name",
        max_length=100,
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "Search by name"}),
    )


class SiteForm(forms.ModelForm):
    """A public form, rendered by `{{ form }}` with forms/site_form.html: an error summary,
    labels without colons, optional fields marked, and inputs tied to their hint and error
    messages for screen readers."""

    template_name = "forms/site_form.html"
    label_suffix = ""
    # A bot trap: a field people never see (off-screen, hidden from screen readers, out of the
    # tab order) that form-filling bots fill in. A post with it filled is refused.
    homepage = forms.CharField(
        label="Leave this empty",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )
    TRAP = "homepage"

    def notices(self) -> list[tuple[str, str]]:
        """(field name, a note shown at that field), for what the user should know."""
        return []

    def get_context(self) -> dict[str, Any]:
        return {**super().get_context(), "notices": self.notices()}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if cleaned.get(self.TRAP):
            raise forms.ValidationError(TRAPPED, code="trap")
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        notices = dict(self.notices())
        for name, field in self.fields.items():
            described = [
                f"{self[name].auto_id}_{part}"
                for part, present in (
                    ("helptext", bool(field.help_text)),
                    ("notice", name in notices),
                    ("error", name in self.errors),
                )
                if present
            ]
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)
            if name in self.errors:
                field.widget.attrs["aria-invalid"] = "true"


class RestaurantForm(SiteForm):
    class Meta:
        model = Restaurant
        fields = ["name", "street_address", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def existing_restaurant(self) -> Restaurant | None:
        """A listed restaurant with this name and address, ignoring case and spacing."""

        def plain(text: str) -> str:
            return " ".join(text.casefold().split())

        name, address = self.cleaned_data["name"], self.cleaned_data["street_address"]
        for listed in Restaurant.objects.named(" ".join(name.split())):
            if plain(listed.street_address) == plain(address):
                return listed
        return None


class ReportForm(SiteForm):
    """A visitor's report of a review, for the moderators."""

    class Meta:
        model = Report
        fields = ["reason"]
        labels = {"reason": "What is wrong with this review?"}
        help_texts = {
            "reason": "For example: spam, offensive, or not about this restaurant. "
            "Up to 200 characters."
        }


class PhotoFormMixin:
    """Accept a photo only if Pillow decodes it as JPEG, PNG or WebP; store it re-encoded."""

    cleaned_data: dict

    def clean_photo(self) -> PhotoFile | FieldFile | None:
        upload = self.cleaned_data.get("photo")
        if not upload:
            return None
        if not isinstance(upload, UploadedFile):
            # The photo already stored (admin change form): kept as it is, with no download,
            # no re-encoding and no new name.
            return upload
        try:
            return process_photo(upload, size=upload.size or 0)
        except PhotoError as exc:
            raise forms.ValidationError(str(exc), code="invalid_photo") from None
        except PhotoBusy:
            raise forms.ValidationError(PHOTO_BUSY, code="busy") from None


def process_photo(upload: IO[bytes], *, size: int) -> PhotoFile:
    """A photo as the site stores it, within the limits in settings (PhotoError if not)."""
    photo = reencode_photo(
        upload,
        size=size,
        max_bytes=settings.PHOTO_MAX_BYTES,
        max_edge=settings.PHOTO_MAX_EDGE,
        max_pixels=settings.PHOTO_MAX_PIXELS,
        wait_seconds=settings.PHOTO_DECODE_WAIT_SECONDS,
    )
    return PhotoFile(photo)


def save_review(review: Review) -> Review:
    """Store the review's new photo (and its renditions), then the row; if the row cannot be
    written, remove the photo again.

    A storage failure raises OSError before anything is written to the database. Storage is
    not asked again to delete what it did store (it would only be waited on again): such a
    photo is left to purge_orphan_photos.
    """
    with transaction.atomic():
        try:
            review.save()
        except OSError:
            raise  # Storage failed: see above
        except BaseException:
            if review.photo and review.photo._committed:
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
        label="Photo",
        required=False,
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )

    class Meta:
        model = Review
        fields = ["user_name", "rating", "review_text", "photo"]
        labels = {"user_name": "Your name", "review_text": "Your review"}
        widgets = {
            "user_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "review_text": forms.Textarea(attrs={"rows": 5}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "photo"
        ].help_text = f"{FORMAT_NAMES}, up to {megabytes(settings.PHOTO_MAX_BYTES)} MB."

    def notices(self) -> list[tuple[str, str]]:
        # A browser never sends a file back: when the form comes back for another field's
        # sake, the chosen photo is gone and the user must choose it again.
        if self.is_bound and self.errors and self.files.get("photo") and "photo" not in self.errors:
            return [("photo", "Your photo was not kept: please choose it again.")]
        return []

    def stored_photo_bytes(self) -> int:
        """What the photo (with its renditions) will take in storage; 0 without one."""
        photo = self.cleaned_data.get("photo")
        if not isinstance(photo, PhotoFile):
            return 0
        return len(photo.photo.content) + sum(len(r.content) for r in photo.photo.renditions)

    def save(self, commit: bool = True) -> Review:
        review = super().save(commit=False)
        if commit:
            save_review(review)
        return review


class ReviewAdminForm(PhotoFormMixin, forms.ModelForm):
    """Admin uploads go through the same checks and re-encoding as the public form."""

    class Meta:
        model = Review
        fields = ["restaurant", "user_name", "rating", "review_text", "photo"]
