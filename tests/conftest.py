"""Shared fixtures. Real-component fixtures (PostgreSQL, Azurite, Chromium) live in
tests/services.py and are wired up here; each skips on a laptop that lacks the component and
fails in CI (CI=true), where they are required."""

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from restaurant_review.models import Restaurant, Review

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _media_and_static(settings: Any, tmp_path: Path) -> None:
    """Photos go to a temp dir; static files are served without a collected manifest."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(settings.MEDIA_ROOT)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def make_restaurant(db: None) -> Callable[..., Restaurant]:
    def make(**overrides: Any) -> Restaurant:
        fields = {"name": "Café Olé", "street_address": "1 Main St", "description": "Cosy."}
        return Restaurant.objects.create(**{**fields, **overrides})

    return make


@pytest.fixture
def make_review(db: None, make_restaurant: Callable[..., Restaurant]) -> Callable[..., Review]:
    def make(**overrides: Any) -> Review:
        if "restaurant" not in overrides:
            overrides["restaurant"] = make_restaurant()
        fields = {"user_name": "Ana", "rating": 4, "review_text": "Lovely soup."}
        return Review.objects.create(**{**fields, **overrides})

    return make


def image_bytes(
    image_format: str = "JPEG", *, size: tuple[int, int] = (64, 48), gps: bool = False
) -> bytes:
    """A real image; with gps=True it carries EXIF GPS coordinates and a camera model."""
    image = Image.new("RGB", size, (200, 30, 40))
    buffer = io.BytesIO()
    options: dict[str, Any] = {}
    if gps:
        exif = Image.Exif()
        exif[ExifTags.Base.Model] = "Test Camera"
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (47.0, 36.0, 22.0),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (122.0, 19.0, 55.0),
        }
        options["exif"] = exif
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


@pytest.fixture
def jpeg_with_gps() -> bytes:
    data = image_bytes("JPEG", gps=True)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def upload(name: str, content: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def review_data() -> dict[str, Any]:
    return {"user_name": "Ana", "rating": "5", "review_text": "Best dumplings in town."}


@pytest.fixture
def media_files(settings: Any) -> Callable[[], list[Path]]:
    """Lists the photo files stored on local disk."""

    def files() -> list[Path]:
        root = Path(settings.MEDIA_ROOT)
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    return files


@pytest.fixture
def admin_client_logged_in(db: None, client: Any, django_user_model: Any) -> Iterator[Any]:
    django_user_model.objects.create_superuser("admin", "admin@example.com", "a-Str0ng-pass!")
    client.login(username="admin", password="a-Str0ng-pass!")
    yield client
