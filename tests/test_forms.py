import io
from typing import Any

import pytest
from PIL import ExifTags, Image

from restaurant_review.forms import RestaurantForm, ReviewForm
from restaurant_review.models import Review
from tests.helpers import image_bytes, upload

pytestmark = pytest.mark.django_db


def review_form(restaurant: Any, data: dict[str, Any], photo: Any = None) -> ReviewForm:
    files = {"photo": photo} if photo is not None else {}
    return ReviewForm(data, files, instance=Review(restaurant=restaurant))


@pytest.mark.parametrize("missing", ["name", "street_address"])
def test_restaurant_form_requires_name_and_address(missing: str) -> None:
    data = {"name": "Fig", "street_address": "1 Main St", "description": ""}
    data[missing] = ""
    form = RestaurantForm(data)
    assert not form.is_valid()
    assert missing in form.errors


def test_restaurant_form_rejects_over_long_name() -> None:
    form = RestaurantForm({"name": "x" * 101, "street_address": "1 Main St"})
    assert not form.is_valid()
    assert form.errors["name"] == ["Name must be 100 characters or fewer (it has 101)."]


@pytest.mark.parametrize("rating", ["0", "6", "abc", ""])
def test_review_rating_must_be_1_to_5(make_restaurant: Any, review_data: Any, rating: str) -> None:
    form = review_form(make_restaurant(), {**review_data, "rating": rating})
    assert not form.is_valid()
    assert "rating" in form.errors


@pytest.mark.parametrize("missing", ["user_name", "review_text"])
def test_review_requires_name_and_text(
    make_restaurant: Any, review_data: Any, missing: str
) -> None:
    form = review_form(make_restaurant(), {**review_data, missing: ""})
    assert not form.is_valid()
    assert missing in form.errors


def test_review_rejects_over_long_name_and_text(make_restaurant: Any, review_data: Any) -> None:
    data = {**review_data, "user_name": "n" * 51, "review_text": "t" * 2001}
    form = review_form(make_restaurant(), data)
    assert not form.is_valid()
    assert set(form.errors) == {"user_name", "review_text"}


def test_text_named_png_is_not_a_photo(make_restaurant: Any, review_data: Any) -> None:
    fake = upload("photo.png", b"this is not an image at all", "image/png")
    form = review_form(make_restaurant(), review_data, fake)
    assert not form.is_valid()
    assert "not a JPEG, PNG or WebP image" in form.errors["photo"][0]


def test_truncated_jpeg_is_rejected(make_restaurant: Any, review_data: Any) -> None:
    data = image_bytes("JPEG", size=(400, 300))
    form = review_form(make_restaurant(), review_data, upload("cut.jpg", data[: len(data) // 2]))
    assert not form.is_valid()
    assert "damaged" in form.errors["photo"][0]


def test_gif_is_rejected_even_with_image_content_type(
    make_restaurant: Any, review_data: Any
) -> None:
    form = review_form(make_restaurant(), review_data, upload("a.jpg", image_bytes("GIF")))
    assert not form.is_valid()
    assert "photo" in form.errors


def test_oversized_photo_is_rejected_with_the_limit(
    make_restaurant: Any, review_data: Any, settings: Any
) -> None:
    settings.PHOTO_MAX_BYTES = 1024 * 1024
    data = image_bytes("PNG", size=(8, 8)) + b"\0" * (1024 * 1024)
    form = review_form(make_restaurant(), review_data, upload("big.png", data, "image/png"))
    assert not form.is_valid()
    assert "the largest accepted is 1 MB" in form.errors["photo"][0]


def test_photo_just_over_the_limit_says_a_larger_size_than_the_limit(
    make_restaurant: Any, review_data: Any, settings: Any
) -> None:
    settings.PHOTO_MAX_BYTES = 5 * 1024 * 1024
    data = image_bytes("PNG", size=(8, 8))
    data += b"\0" * (settings.PHOTO_MAX_BYTES + 1 - len(data))
    form = review_form(make_restaurant(), review_data, upload("big.png", data, "image/png"))
    assert not form.is_valid()
    assert form.errors["photo"] == ["The photo is 5.1 MB; the largest accepted is 5 MB."]
    assert form.fields["photo"].help_text == "JPEG, PNG or WebP, up to 5 MB."


def test_image_with_too_many_pixels_is_rejected(
    make_restaurant: Any, review_data: Any, settings: Any
) -> None:
    settings.PHOTO_MAX_PIXELS = 100 * 100
    form = review_form(
        make_restaurant(), review_data, upload("wide.png", image_bytes("PNG", size=(101, 100)))
    )
    assert not form.is_valid()
    assert "too many pixels" in form.errors["photo"][0]


@pytest.mark.parametrize(
    ("image_format", "extension"), [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp")]
)
def test_photo_extension_comes_from_content_not_file_name(
    make_restaurant: Any, review_data: Any, image_format: str, extension: str
) -> None:
    photo = upload("misleading.gif", image_bytes(image_format), "application/octet-stream")
    form = review_form(make_restaurant(), review_data, photo)
    assert form.is_valid(), form.errors
    review = form.save()
    assert review.photo.name.endswith(extension)
    with review.photo.open("rb") as stored:
        assert Image.open(stored).format == image_format


def test_saved_photo_is_reencoded_without_exif_gps(
    make_restaurant: Any, review_data: Any, jpeg_with_gps: bytes
) -> None:
    form = review_form(make_restaurant(), review_data, upload("gps.jpg", jpeg_with_gps))
    assert form.is_valid(), form.errors
    review = form.save()
    with review.photo.open("rb") as stored:
        data = stored.read()
    assert data != jpeg_with_gps
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    exif = image.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert ExifTags.Base.Model not in exif


def test_large_photo_is_scaled_to_max_edge(
    make_restaurant: Any, review_data: Any, settings: Any
) -> None:
    settings.PHOTO_MAX_EDGE = 300
    photo = upload("big.jpg", image_bytes("JPEG", size=(1200, 600)))
    form = review_form(make_restaurant(), review_data, photo)
    assert form.is_valid(), form.errors
    with form.save().photo.open("rb") as stored:
        assert Image.open(stored).size == (300, 150)


def test_invalid_review_stores_nothing(
    make_restaurant: Any, review_data: Any, media_files: Any
) -> None:
    photo = upload("ok.jpg", image_bytes("JPEG"))
    form = review_form(make_restaurant(), {**review_data, "rating": "9"}, photo)
    assert not form.is_valid()
    assert Review.objects.count() == 0
    assert media_files() == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("\u200b\u200b", "invisible formatting characters (U+200B)"),
        ("   ", "Enter the "),
        ("evil\u202egnp.exe", "invisible formatting characters (U+202E)"),
        ("Caf\u00e9\u2066x\u2069", "U+2066, U+2069"),
        ("Tab\there", "U+0009"),
        # Letters and symbols that draw nothing.
        ("\u3164\u3164", "Enter visible letters or numbers"),
        ("\u2800", "Enter visible letters or numbers"),
        ("\uffa0 \uffa0", "Enter visible letters or numbers"),
        # One letter under a tower of accents.
        ("Z" + "\u0301\u0302\u0303\u0308" * 23, "at most 4 accents on one letter"),
    ],
)
def test_names_without_visible_characters_or_with_hidden_formatting_are_refused(
    name: str, message: str
) -> None:
    form = RestaurantForm({"name": name, "street_address": name, "description": ""})
    assert not form.is_valid()
    assert message in form.errors["name"][0] and message in form.errors["street_address"][0]


def test_names_people_use_are_accepted(make_restaurant: Any, review_data: Any) -> None:
    names = ["Café Olé", "Ресторан", "寿司 Sushi", "Chef 👨\u200d🍳 Kitchen", "A&W", "Nº 5"]
    names += ["Phở Hà Nội", "Quán Ăn Ngọc Bích", "한국 식당", "नमस्ते दिल्ली"]
    for name in names:
        form = RestaurantForm({"name": name, "street_address": "1 Main St"})
        assert form.is_valid(), (name, form.errors)
    review = review_form(make_restaurant(), {**review_data, "user_name": "\u200b"})
    assert not review.is_valid() and "user_name" in review.errors


@pytest.mark.parametrize("hidden", ["\u202e", "\u200b", "\u2066", "\x07", "\ufeff"])
def test_reviews_and_descriptions_refuse_invisible_formatting(
    make_restaurant: Any, review_data: Any, hidden: str
) -> None:
    text = f"Great food{hidden} and service."
    review = review_form(make_restaurant(), {**review_data, "review_text": text})
    assert not review.is_valid() and "invisible formatting" in review.errors["review_text"][0]
    form = RestaurantForm({"name": "Ok", "street_address": "1 Main St", "description": text})
    assert not form.is_valid() and "invisible formatting" in form.errors["description"][0]


def test_reviews_keep_their_line_breaks_and_emoji(make_restaurant: Any, review_data: Any) -> None:
    text = "Great food.\r\n\r\nService: slow\tbut kind 👨\u200d🍳 Phở!"
    assert review_form(make_restaurant(), {**review_data, "review_text": text}).is_valid()
