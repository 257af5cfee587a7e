from typing import IO, Any, Literal

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile

from restaurant_review import hours
from restaurant_review.models import (
    RATING_MAX,
    RATING_MIN,
    RELEVANCE,
    SORTS,
    WEBSITE_INVALID,
    Cuisine,
    PriceLevel,
    Report,
    Restaurant,
    Review,
)
from restaurant_review.photo_storage import cleaned_up_unless_storage_failed, delete_stored_photo
from restaurant_review.photos import (
    ACCEPT,
    FORMAT_NAMES,
    PhotoBusy,
    PhotoError,
    PhotoFile,
    megabytes_text,
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


class BrowseForm(forms.Form):
    """The home page's search, filters and order (a GET form: it works without JavaScript).
    A value that is not one of the choices is left out rather than refused: the rest of the
    list still shows, with a note (`left_out`)."""

    q = forms.CharField(
        label="Search restaurants",
        max_length=100,
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "Name, cuisine or neighbourhood"}),
    )
    cuisine = forms.ChoiceField(
        label="Cuisine", required=False, choices=[("", "Any cuisine"), *Cuisine.choices]
    )
    price = forms.TypedChoiceField(
        label="Price",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any price"), *PriceLevel.choices],
    )
    rating = forms.TypedChoiceField(
        label="Rating",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any rating"), *((n, f"{n} stars and up") for n in (4, 3, 2))],
    )
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORTS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_valid()
        # "Best match" only orders a search.
        if not self.cleaned_data.get("q"):
            self.fields["sort"].choices = [c for c in SORTS if c[0] != RELEVANCE]  # type: ignore[attr-defined]
        # static/js/site.js leaves the default order out of the address.
        self.fields["sort"].widget.attrs["data-default"] = self.default_sort
        # The order in use shows as chosen, also when the address names none.
        if self.data.get("sort") != self.sort_order:
            self.data = {
                **{name: self.data.get(name) for name in self.data},
                "sort": self.sort_order,
            }

    @classmethod
    def typed_query(cls, data: Any) -> str:
        """The search in `data` as the form would clean it ("" if the form would refuse it),
        without building the form."""
        field = cls.base_fields["q"]
        try:
            return str(field.clean(data.get("q", "")))
        except forms.ValidationError:
            return ""

    @classmethod
    def title_for(cls, data: Any) -> str:
        """What the list shows, in words, for the page's title: "French restaurants matching
        “bistro”, $$, rated 4 and up"; "Restaurants" with nothing chosen. Filters not
        understood are left out, as the list leaves them out."""
        cuisine = dict(Cuisine.choices).get(data.get("cuisine", ""))
        words = [f"{cuisine} restaurants" if cuisine else "Restaurants"]
        if query := cls.typed_query(data):
            words[0] += f" matching “{query}”"
        price = dict((str(value), label) for value, label in PriceLevel.choices)
        if symbols := price.get(data.get("price", ""), "").split(" ")[0]:
            words.append(symbols)
        if data.get("rating", "") in {"2", "3", "4"}:
            words.append(f"rated {data['rating']} and up")
        return ", ".join(words)

    @property
    def left_out(self) -> bool:
        """Whether a filter or order in the address was not understood (and so not used)."""
        return any(name != "q" for name in self.errors)

    @property
    def default_sort(self) -> str:
        """The order when none is chosen: best match for a search, else name."""
        return RELEVANCE if self.cleaned_data.get("q") else "name"

    @property
    def sort_order(self) -> str:
        """The order to list in: the one chosen, else the default (best match only orders a
        search)."""
        chosen = self.cleaned_data.get("sort") or self.default_sort
        return "name" if chosen == RELEVANCE and not self.cleaned_data.get("q") else chosen

    @property
    def filters_chosen(self) -> int:
        """How many filters narrow the list (the search aside), for the phone's "Filters (2)"."""
        return sum(1 for name in ("cuisine", "price", "rating") if self.cleaned_data.get(name))

    @property
    def filtering(self) -> bool:
        """Whether anything narrows the list (a search or a filter)."""
        return any(self.cleaned_data.get(name) for name in ("q", "cuisine", "price", "rating"))


class ReviewsForm(forms.Form):
    """A restaurant page's order of reviews and its filter by star rating (links set them)."""

    ORDERS = {
        "newest": ("Newest", ("-created_at", "-pk")),
        "highest": ("Highest rated", ("-rating", "-created_at", "-pk")),
        "lowest": ("Lowest rated", ("rating", "-created_at", "-pk")),
    }
    order = forms.ChoiceField(
        required=False, choices=[(name, label) for name, (label, _) in ORDERS.items()]
    )
    stars = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(n, n) for n in range(RATING_MIN, RATING_MAX + 1)],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_valid()  # values not understood are left out

    @property
    def order_name(self) -> str:
        return self.cleaned_data.get("order") or "newest"

    @property
    def star_filter(self) -> int | None:
        return self.cleaned_data.get("stars")

    def order_links(self) -> list[tuple[str, str]]:
        """(order, label) for each order, to link to."""
        return [(name, label) for name, (label, _) in self.ORDERS.items()]

    def reviews(self, reviews: "QuerySet[Review]") -> "QuerySet[Review]":
        if self.star_filter:
            reviews = reviews.filter(rating=self.star_filter)
        return reviews.order_by(*self.ORDERS[self.order_name][1])


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
    BOT_TRAP = "homepage"
    # Fields drawn together as a group of day fields (OpeningHoursFields); none by default.
    HOURS_FIELDS: tuple[str, ...] = ()

    # What the error summary says for an empty required field, by field name: it names the
    # field ("Enter your name"), as the summary's links stand on their own.
    required_messages: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            label = str(field.label or name).strip()
            field.error_messages["required"] = self.required_messages.get(
                name, f"Enter {label[:1].lower()}{label[1:]}"
            )
            if getattr(field, "max_length", None):
                field.error_messages["max_length"] = (
                    f"{label} must be %(limit_value)d characters or fewer (it has %(show_value)d)."
                )
            field.error_messages["invalid_choice"] = (
                f"Choose {label[:1].lower()}{label[1:]} from the list"
            )

    def notices(self) -> list[tuple[str, str]]:
        """(field name, a note shown at that field), for what the user should know."""
        return []

    def get_context(self) -> dict[str, Any]:
        return {**super().get_context(), "notices": self.notices()}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if cleaned.get(self.BOT_TRAP):
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


class DayHoursField(forms.CharField):
    """One day's opening hours as typed (restaurant_review.hours.parse_day): cleans to its
    ranges, [] for a day left empty or "closed"."""

    def __init__(self, day: str) -> None:
        super().__init__(label=day, required=False, max_length=80)
        self.widget.attrs["autocomplete"] = "off"

    def clean(self, value: Any) -> list[hours.Range]:
        return hours.parse_day(super().clean(value))


class OpeningHoursFields(forms.Form):
    """Seven fields, one a day, for Restaurant.opening_hours; for the public form and the
    admin's alike (mixed in before the ModelForm)."""

    HOURS_FIELDS = tuple(f"hours_{day.lower()}" for day in hours.DAYS)
    HOURS_HINT = (
        'Each day as "11:30-22:00" or "9am-5pm"; several ranges separated by commas. Leave a '
        "day empty if it is closed, and every day empty if you do not know."
    )
    hours_monday = DayHoursField("Monday")
    hours_tuesday = DayHoursField("Tuesday")
    hours_wednesday = DayHoursField("Wednesday")
    hours_thursday = DayHoursField("Thursday")
    hours_friday = DayHoursField("Friday")
    hours_saturday = DayHoursField("Saturday")
    hours_sunday = DayHoursField("Sunday")

    instance: Restaurant

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.opening_hours:
            days = hours.week(self.instance.opening_hours)
            for name, ranges in zip(self.HOURS_FIELDS, days, strict=True):
                self.initial.setdefault(name, hours.editable(ranges))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if not any(name in self.errors for name in self.HOURS_FIELDS):
            days = [cleaned.get(name) or [] for name in self.HOURS_FIELDS]
            self.instance.opening_hours = hours.week_text(days)
        return cleaned


class RestaurantForm(OpeningHoursFields, SiteForm):
    required_messages = {
        "name": "Enter the restaurant's name",
        "street_address": "Enter the street address",
    }

    website = forms.URLField(
        label="Website",
        required=False,
        max_length=200,
        assume_scheme="https",
        error_messages={"invalid": WEBSITE_INVALID},
        widget=forms.URLInput(attrs={"autocomplete": "url", "placeholder": "https://"}),
    )

    class Meta:
        model = Restaurant
        fields = [
            "name",
            "street_address",
            "neighbourhood",
            "cuisine",
            "price_level",
            "phone",
            "website",
            "description",
        ]
        labels = {"price_level": "Price"}
        help_texts = {"phone": "For example: (206) 555-0143 or +1 206 555 0143."}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields([*self.Meta.fields, *self.HOURS_FIELDS])  # the bot trap last
        for name, blank in (("cuisine", "Choose a cuisine"), ("price_level", "Choose a price")):
            field = self.fields[name]
            field.choices = [("", blank), *list(field.choices)[1:]]  # type: ignore[attr-defined]

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

    required_messages = {"reason": "Say what is wrong with this review"}

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

    def clean_photo(self) -> PhotoFile | FieldFile | Literal[False] | None:
        upload = self.cleaned_data.get("photo")
        if not upload:
            # None: no change; False: the admin's "Clear" box, which removes the photo (and,
            # once saved, its files: restaurant_review.signals).
            return upload
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
    written, the photo is cleaned up by photo_storage's one rule (not when Storage itself
    failed: OSError, raised before anything is written to the database)."""

    def delete_photo() -> None:
        if review.photo and review.photo._committed:
            delete_stored_photo(review.photo.name, why="its review was not saved")

    with transaction.atomic(), cleaned_up_unless_storage_failed(delete_photo):
        review.save()
    return review


class StarRatingInput(forms.RadioSelect):
    """Tappable stars: a radio group drawn as stars (forms/star_rating.html)."""

    template_name = "forms/star_rating.html"


class ReviewForm(PhotoFormMixin, SiteForm):
    """A new review of `instance.restaurant`: ReviewForm(instance=Review(restaurant=...))."""

    required_messages = {"rating": "Choose a rating"}

    rating = forms.TypedChoiceField(
        choices=[
            (value, f"{value} star{'s' if value > 1 else ''}")
            for value in range(RATING_MIN, RATING_MAX + 1)
        ],
        coerce=int,
        widget=StarRatingInput,
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
        ].help_text = f"{FORMAT_NAMES}, up to {megabytes_text(settings.PHOTO_MAX_BYTES)} MB."

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
