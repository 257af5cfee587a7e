"""Photos: renditions at upload, bounded decoding, one decode at a time."""

import io
import itertools
import logging
import os
import re
import struct
import time
import zlib
from http import HTTPStatus
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from PIL import Image, ImageCms
from pytest_django.asserts import assertContains

from restaurant_review.models import Review
from restaurant_review.photos import (
    DECODING,
    MAX_JPEG_SCANS,
    TOO_MANY_SCANS,
    PhotoError,
    jpeg_scan_count,
    reencode_photo,
    stored_names,
)
from tests.helpers import image_bytes, upload

pytestmark = pytest.mark.django_db


def reencode(data: bytes, **overrides: Any) -> Any:
    limits = {
        "size": len(data),
        "max_bytes": 20 * 1024 * 1024,
        "max_edge": 2048,
        "max_pixels": 50_000_000,
        "wait_seconds": 1,
        **overrides,
    }
    return reencode_photo(io.BytesIO(data), **limits)


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares width x height RGBA: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    row = b"\0" + b"\0" * (4 * width)
    data = zlib.compress(row * 8, 9)  # the first rows only: refused before they would matter
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_renditions_are_webp_at_320_640_and_1280_wide() -> None:
    photo = reencode(image_bytes("JPEG", size=(4032, 3024)))
    assert (photo.width, photo.height) == (2048, 1536)
    sizes = []
    for rendition in photo.renditions:
        with Image.open(io.BytesIO(rendition.content)) as image:
            assert image.format == "WEBP"
            assert image.size == (rendition.width, rendition.height)
            sizes.append(image.size)
    assert sizes == [(320, 240), (640, 480), (1280, 960)]
    assert sum(len(r.content) for r in photo.renditions) < len(photo.content)


def test_a_photo_narrower_than_a_rendition_is_never_enlarged() -> None:
    photo = reencode(image_bytes("PNG", size=(500, 250)))
    assert [(r.width, r.height) for r in photo.renditions] == [(320, 160), (500, 250), (500, 250)]


def test_large_jpeg_is_decoded_at_reduced_scale() -> None:
    """A 50-MP phone JPEG (8160 x 6120) decodes at half scale, under the decoded-pixel cap."""
    photo = reencode(image_bytes("JPEG", size=(8160, 6120)))
    assert (photo.width, photo.height) == (2048, 1536)


def test_png_declaring_too_many_pixels_is_refused_before_decoding() -> None:
    """7000 x 7000 RGBA would take 196 MB decoded: refused from its header."""
    bomb = png_declaring(7000, 7000)
    assert len(bomb) < 100_000
    with pytest.raises(PhotoError, match="too many pixels"):
        reencode(bomb)


def progressive_jpeg_with_extra_scans(extra: int, *, side: int = 2048) -> bytes:
    """A `side` x `side` progressive JPEG with `extra` copies of its smallest scan added before
    the end: each costs a decoding pass; tens of thousands took a worker's CPU for seconds."""
    noise = Image.effect_noise((side, side), 64).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=80, progressive=True)
    data = buffer.getvalue()
    starts = [found.start() for found in re.finditer(b"\xff\xda", data)]
    smallest = min((data[a:b] for a, b in itertools.pairwise(starts)), key=len)
    return data[:-2] + smallest * extra + b"\xff\xd9"


def test_a_jpeg_with_thousands_of_scans_is_refused_before_decoding() -> None:
    bomb = progressive_jpeg_with_extra_scans(55_000)
    assert len(bomb) < 5 * 1024 * 1024
    with pytest.raises(PhotoError, match="too many scans") as refused:
        reencode(bomb)
    assert str(refused.value) == TOO_MANY_SCANS
    # What cameras and encoders make passes: baseline, and progressive with its ten scans.
    progressive = progressive_jpeg_with_extra_scans(0)
    assert 1 < jpeg_scan_count(io.BytesIO(progressive)) <= MAX_JPEG_SCANS
    assert reencode(progressive).width == 2048
    assert jpeg_scan_count(io.BytesIO(image_bytes("JPEG"))) == 1


def test_scans_are_counted_across_chunk_boundaries() -> None:
    # Small, as counting a byte at a time reads it in as many chunks as it has bytes.
    data = progressive_jpeg_with_extra_scans(3, side=64)
    whole = jpeg_scan_count(io.BytesIO(data))
    assert jpeg_scan_count(io.BytesIO(data), chunk_size=7) == whole
    assert jpeg_scan_count(io.BytesIO(data), chunk_size=1) == whole
    assert jpeg_scan_count(io.BytesIO(image_bytes("PNG"))) == 0


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_stored_photos_keep_no_comment_and_no_foreign_colour_profile(image_format: str) -> None:
    """A comment (here a script) is not copied; colours are converted to sRGB from the
    embedded profile, and no profile is stored."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.new("RGB", (64, 48), (200, 30, 40))
    buffer = io.BytesIO()
    extra = {"comment": b"<script>alert(1)</script>"} if image_format == "JPEG" else {}
    image.save(buffer, image_format, icc_profile=profile, **extra)
    photo = reencode(buffer.getvalue())
    assert b"<script>" not in photo.content
    with Image.open(io.BytesIO(photo.content)) as stored:
        assert "icc_profile" not in stored.info and "comment" not in stored.info
        red, green, blue = stored.convert("RGB").getpixel((32, 24))
    assert abs(red - 200) < 8 and green < 40 and blue < 50  # the same colour, in sRGB


def test_an_unreadable_colour_profile_is_ignored() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 40)).save(buffer, "JPEG", icc_profile=b"not a profile")
    photo = reencode(buffer.getvalue())
    with Image.open(io.BytesIO(photo.content)) as stored:
        assert "icc_profile" not in stored.info


def test_review_page_shows_renditions_and_links_the_full_photo(
    client: Client, make_restaurant: Any, review_data: Any
) -> None:
    restaurant = make_restaurant()
    data = {**review_data, "photo": upload("big.jpg", image_bytes("JPEG", size=(4032, 3024)))}
    client.post(reverse("restaurant_review:add_review", args=[restaurant.pk]), data)
    review = Review.objects.get()
    assert (review.photo_width, review.photo_height) == (2048, 1536)
    stem = review.photo.url.removesuffix(".jpg")
    page = client.get(reverse("restaurant_review:details", args=[restaurant.pk]))
    photo_page = reverse("restaurant_review:photo", args=[restaurant.pk, review.pk])
    assertContains(page, f'href="{photo_page}"')
    assertContains(client.get(photo_page), f'href="{review.photo.url}"')
    assertContains(
        page,
        f'srcset="{stem}-320w.webp 320w, {stem}-640w.webp 640w, {stem}-1280w.webp 1280w"',
    )
    assertContains(page, 'width="640" height="480"')


def test_photo_stored_before_renditions_shows_the_full_photo(
    client: Client, make_review: Any, settings: Any
) -> None:
    review = make_review(photo="reviews/old.jpg")
    page = client.get(reverse("restaurant_review:details", args=[review.restaurant.pk]))
    assertContains(page, '<img src="/media/reviews/old.jpg"')
    assert "srcset" not in page.content.decode()


def test_upload_while_another_is_decoded_gets_503_with_its_input_kept(
    client: Client,
    make_restaurant: Any,
    review_data: Any,
    settings: Any,
    media_files: Any,
    caplog: Any,
) -> None:
    settings.PHOTO_DECODE_WAIT_SECONDS = 0.2
    restaurant = make_restaurant()
    data = {**review_data, "photo": upload("a.jpg", image_bytes())}
    url = reverse("restaurant_review:add_review", args=[restaurant.pk])
    with DECODING.taken(wait_seconds=0):  # another request is decoding its photo
        response = client.post(url, data)
    assertContains(
        response, "We are processing other photos", status_code=HTTPStatus.SERVICE_UNAVAILABLE
    )
    assert response["Retry-After"] == "5"
    # Load, not a fault: one WARNING line, no ERROR from Django's request logger.
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= 30] == [
        ("WARNING", f"Review for restaurant {restaurant.pk} not saved: photo decoder busy")
    ]
    assertContains(response, "Best dumplings in town.", status_code=HTTPStatus.SERVICE_UNAVAILABLE)
    assert Review.objects.count() == 0 and media_files() == []
    # Its turn comes: the same post goes through.
    data["photo"] = upload("a.jpg", image_bytes())
    assert client.post(url, data).status_code == HTTPStatus.FOUND
    assert sorted(p.name for p in media_files()) == sorted(
        name.split("/")[-1] for name in stored_names(Review.objects.get().photo.name)
    )


class FlakyStorage(FileSystemStorage):
    """Local disk that refuses to store renditions of the photos named in `refuse`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refuse: set[str] = set()

    def _save(self, name: str, content: Any) -> str:
        if any(name.startswith(stem) for stem in self.refuse):
            raise OSError("storage is unavailable")
        return super()._save(name, content)


def test_make_renditions_for_older_photos_is_resumable_and_idempotent(
    settings: Any, make_restaurant: Any, media_files: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.test_photos.FlakyStorage",
            "OPTIONS": {"location": str(settings.MEDIA_ROOT)},
        },
    }
    storage = storages["default"]
    restaurant = make_restaurant()
    names = []
    for index in range(3):  # photos as the first version stored them: no renditions
        name = storage.save(
            f"reviews/old{index}.jpg", ContentFile(image_bytes("JPEG", size=(900, 600)))
        )
        Review.objects.create(
            restaurant=restaurant, user_name="Old", rating=4, review_text="ok", photo=name
        )
        names.append(name)
    storage.refuse = {"reviews/old1-"}  # Storage fails on the second photo
    out = io.StringIO()
    with pytest.raises(CommandError, match="Stopped at 2 of 3 .1 done."):
        call_command("make_renditions", stdout=out)
    assert "[1/3] reviews/old0.jpg: 3 renditions" in out.getvalue()
    assert len(media_files()) == 3 + 3  # old0's renditions, nothing left of old1's

    storage.refuse = set()
    out = io.StringIO()
    call_command("make_renditions", stdout=out)
    assert "[1/2] reviews/old1.jpg: 3 renditions" in out.getvalue()
    assert "Renditions made for 2 photos; 0 skipped." in out.getvalue()
    assert sorted(p.name for p in media_files()) == sorted(
        stored.split("/")[-1] for name in names for stored in stored_names(name)
    )
    assert set(Review.objects.values_list("photo_width", "photo_height")) == {(900, 600)}
    out = io.StringIO()
    call_command("make_renditions", stdout=out)
    assert "nothing to do" in out.getvalue()


def test_purge_deletes_old_orphans_with_renditions_and_keeps_the_rest(
    client: Client,
    make_restaurant: Any,
    review_data: Any,
    media_files: Any,
    settings: Any,
    caplog: Any,
) -> None:
    restaurant = make_restaurant()
    url = reverse("restaurant_review:add_review", args=[restaurant.pk])
    client.post(url, {**review_data, "photo": upload("kept.jpg", image_bytes())})
    kept = Review.objects.get().photo.name
    storage = storages["default"]
    orphan, young = "reviews/orphan.jpg", "reviews/young.jpg"
    for name in [orphan, young, "reviews/orphan-320w.webp", "reviews/orphan-640w.webp"]:
        storage.save(name, ContentFile(b"x"))
    hour_ago = time.time() - 3700
    for name in [
        orphan,
        "reviews/orphan-320w.webp",
        "reviews/orphan-640w.webp",
        *stored_names(kept),
    ]:
        os.utime(storage.path(name), (hour_ago, hour_ago))
    caplog.set_level(logging.INFO)
    out = io.StringIO()
    call_command("purge_orphan_photos", stdout=out)
    assert "3 deleted, 1 younger than 3600 s kept" in out.getvalue()
    assert sorted(p.name for p in media_files()) == sorted(
        [name.split("/")[-1] for name in stored_names(kept)] + ["young.jpg"]
    )
    assert "Deleted orphan photo file reviews/orphan-320w.webp" in caplog.text
    # Run again, or on another instance at the same time: nothing more to do, no error.
    call_command("purge_orphan_photos", "--older-than", "0", stdout=io.StringIO())
    assert [p.name for p in media_files() if p.name == "young.jpg"] == []
    assert Review.objects.get().photo.name == kept and storage.exists(kept)


def test_a_photo_that_would_grow_is_stored_another_way_or_refused() -> None:
    """A lossless WebP of a fine pattern is a few hundred bytes; as lossy WebP it grew to
    megabytes. Stored losslessly instead: never much larger than the upload."""
    cells = 2048 * 2048
    pattern = Image.frombytes("L", (2048, 2048), (b"\0\xff\xff\0\xff" * cells)[:cells])
    buffer = io.BytesIO()
    pattern.convert("RGB").save(buffer, "WEBP", lossless=True, method=0)
    upload_size = len(buffer.getvalue())
    photo = reencode(buffer.getvalue())
    assert len(photo.content) <= max(2 * upload_size, upload_size + 256 * 1024)
    with Image.open(io.BytesIO(photo.content)) as stored:
        assert stored.format == "WEBP" and stored.size == (2048, 2048)
    # An ordinary photo keeps the usual encoding.
    camera = reencode(image_bytes("JPEG", size=(1600, 1200)))
    assert camera.format.name == "JPEG"
