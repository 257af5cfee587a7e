"""Photo checks and re-encoding: only real JPEG, PNG or WebP images, stripped of metadata."""

import io
import math
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from django.core.files.base import ContentFile
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError


@dataclass(frozen=True)
class PhotoFormat:
    name: str  # as people know it
    extension: str  # of the stored file, which decides its Content-Type (mimetypes)
    content_type: str


# The photo formats we accept and store, by Pillow's format name: the one list of them.
FORMATS = {
    "JPEG": PhotoFormat("JPEG", "jpg", "image/jpeg"),
    "PNG": PhotoFormat("PNG", "png", "image/png"),
    "WEBP": PhotoFormat("WebP", "webp", "image/webp"),
}
# For people ("JPEG, PNG or WebP") and for the file input's `accept` attribute.
_names = [photo_format.name for photo_format in FORMATS.values()]
FORMAT_NAMES = f"{', '.join(_names[:-1])} or {_names[-1]}"
ACCEPT = ",".join(photo_format.content_type for photo_format in FORMATS.values())

MEGABYTE = 1024 * 1024


def megabytes_text(size: int) -> str:
    """`size` in MB for people: one decimal at most, rounded up, so a photo just over a 5 MB
    limit reads 5.1 MB rather than the limit itself."""
    return f"{math.ceil(size * 10 / MEGABYTE) / 10:.1f}".removesuffix(".0")


# Display sizes stored beside each photo, by the width slot in their names: pages pick one with
# srcset; a photo narrower than a slot gets a rendition at its own width there.
RENDITION_WIDTHS = (320, 640, 1280)
RENDITION_FORMAT = FORMATS["WEBP"]
# Decoding holds the whole image in memory: one decode at a time per process (DECODING), and at
# most what a phone's photo decodes to, in pixels x bands: 40 M, counted after a JPEG is decoded
# at a reduced scale (a 50-MP phone JPEG decodes at half scale: 12.5 MP x 3 bands). A 12-MP RGB
# PNG passes; a 12-MP RGBA one (49 M) does not.
MAX_DECODED_SAMPLES = 40_000_000

TOO_MANY_PIXELS = "The photo has too many pixels; please upload a smaller one."

# A progressive JPEG is decoded scan by scan, and each scan costs a pass over the whole image:
# cameras and encoders write 1 (baseline) to about 12; a crafted file can hold tens of thousands
# of tiny ones and take a worker's CPU for minutes. Counted before decoding (an SOS marker,
# FF DA, cannot occur inside entropy-coded data, where every FF byte is followed by 00).
MAX_JPEG_SCANS = 100
TOO_MANY_SCANS = (
    "The photo is a JPEG built in a way no camera makes (too many scans); "
    "please save it again or choose another photo."
)
_SCAN_MARKER = b"\xff\xda"


class PhotoError(ValueError):
    """The upload is not a photo we can accept; the message is for the user."""


class PhotoBusy(RuntimeError):
    """Other photos are being decoded: try again in a moment."""


class DecodeSlot:
    """One photo decoded at a time in this process: concurrent uploads cannot add up their
    decoding memory. A caller waits `wait_seconds` for its turn, then gets PhotoBusy."""

    def __init__(self) -> None:
        self._semaphore = threading.BoundedSemaphore(1)

    @contextmanager
    def taken(self, *, wait_seconds: float) -> Iterator[None]:
        if not self._semaphore.acquire(timeout=wait_seconds):
            raise PhotoBusy("other photos are being processed")
        try:
            yield
        finally:
            self._semaphore.release()


DECODING = DecodeSlot()


@dataclass(frozen=True)
class Rendition:
    slot: int
    width: int
    height: int
    content: bytes


@dataclass(frozen=True)
class Photo:
    content: bytes
    format: PhotoFormat
    width: int
    height: int
    renditions: tuple[Rendition, ...]


class PhotoFile(ContentFile):
    """A re-encoded photo ready to be stored; the review's photo field stores its renditions
    beside it (restaurant_review.models.ReviewPhotoField)."""

    def __init__(self, photo: Photo) -> None:
        super().__init__(photo.content, name=f"photo.{photo.format.extension}")
        self.photo = photo


def rendition_name(name: str, slot: int) -> str:
    """Where the `slot` rendition of the photo stored as `name` is stored: the same unique stem."""
    stem = name.rsplit(".", 1)[0] if "." in name.rsplit("/", 1)[-1] else name
    return f"{stem}-{slot}w.{RENDITION_FORMAT.extension}"


def rendition_size(width: int, height: int, slot: int) -> tuple[int, int]:
    """The size of the `slot` rendition of a `width` x `height` photo (never enlarged)."""
    scaled = min(slot, width)
    return scaled, max(1, round(height * scaled / width))


def stored_names(name: str) -> list[str]:
    """Every name a photo occupies in storage: itself and its renditions."""
    return [name, *(rendition_name(name, slot) for slot in RENDITION_WIDTHS)]


def _renditions(image: Image.Image) -> tuple[Rendition, ...]:
    if image.mode not in {"RGB", "RGBA"}:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    renditions = []
    for slot in RENDITION_WIDTHS:
        size = rendition_size(image.width, image.height, slot)
        buffer = io.BytesIO()
        image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0).save(
            buffer, format="WEBP", quality=72, method=4
        )
        renditions.append(Rendition(slot, *size, content=buffer.getvalue()))
    return tuple(renditions)


def reencode_photo(
    upload: IO[bytes],
    *,
    size: int,
    max_bytes: int,
    max_edge: int,
    max_pixels: int,
    wait_seconds: float,
) -> Photo:
    """Decode `upload` by its content, and return it re-encoded without EXIF (GPS included),
    turned upright, scaled so neither side exceeds `max_edge`, with its renditions.

    Memory stays bounded: a JPEG is decoded at the smallest scale that still gives `max_edge`
    (its "draft" mode), anything that would still be larger than MAX_DECODED_SAMPLES is refused
    before it is decoded, and one photo is decoded at a time (PhotoBusy after `wait_seconds`
    of waiting for the DECODING slot)."""
    if size > max_bytes:
        raise PhotoError(
            f"The photo is {megabytes_text(size)} MB; the largest accepted is "
            f"{megabytes_text(max_bytes)} MB."
        )
    with DECODING.taken(wait_seconds=wait_seconds):
        return _reencode(upload, size=size, max_edge=max_edge, max_pixels=max_pixels)


def jpeg_scan_count(upload: IO[bytes], *, chunk_size: int = MEGABYTE) -> int:
    """How many scans (SOS markers) a JPEG holds, read a chunk at a time; 0 if it is no JPEG."""
    upload.seek(0)
    if upload.read(2) != b"\xff\xd8":
        return 0
    count, carry = 0, b""
    while chunk := upload.read(chunk_size):
        # A marker split between two chunks is counted once: the carried byte joins the next.
        count += (carry + chunk).count(_SCAN_MARKER)
        carry = chunk[-1:]
    return count


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _in_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """The image's colours converted from its embedded ICC profile to sRGB, what browsers
    assume for an image without one: the stored photo keeps its colours and carries no
    foreign profile (which can hold anything). A profile that cannot be read is ignored."""
    if not icc_profile:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if image.mode not in {"RGB", "RGBA", "CMYK", "L"}:
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    return converted if converted is not None else image


def _webp_is_lossless(upload: IO[bytes]) -> bool:
    position = upload.tell()
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(position)
    return b"VP8L" in head[12:] and b"VP8 " not in head[12:]


def largest_stored(size: int) -> int:
    """The most a photo uploaded as `size` bytes may take once re-encoded: never much larger
    than its upload (twice it, or 256 KB more for a small one)."""
    return max(2 * size, size + 256 * 1024)


NOT_COMPACT = (
    "The photo could not be stored at a size close to its upload; please send it as a "
    "JPEG straight from your camera or phone."
)


def _encoded(image: Image.Image, image_format: str, options: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _encodings(image_format: str, *, lossless_source: bool) -> list[dict[str, object]]:
    """The save() options to try for a photo, the usual first: a lossless WebP upload is kept
    lossless (fast settings), then lossy; a JPEG at 85, then at lower qualities."""
    if image_format == "JPEG":
        return [
            {"quality": 85, "optimize": True, "progressive": True},
            {"quality": 70, "optimize": True, "progressive": True},
            {"quality": 50, "optimize": True, "progressive": True},
        ]
    if image_format == "WEBP":
        lossy: dict[str, object] = {"quality": 85, "method": 4}
        lossless: dict[str, object] = {"lossless": True, "quality": 10, "method": 0}
        return [lossless, lossy] if lossless_source else [lossy, lossless]
    return [{"optimize": True}]


def _reencode(upload: IO[bytes], *, size: int, max_edge: int, max_pixels: int) -> Photo:
    if jpeg_scan_count(upload) > MAX_JPEG_SCANS:
        raise PhotoError(TOO_MANY_SCANS)
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload, formats=list(FORMATS)) as original:
                image_format = original.format or ""  # one of FORMATS: Pillow tried no other
                # A WebP's lossless bitstream is VP8L (lossy: VP8, or VP8X with either).
                lossless_source = image_format == "WEBP" and _webp_is_lossless(upload)
                if original.width * original.height > max_pixels:
                    raise PhotoError(TOO_MANY_PIXELS)
                if image_format == "JPEG":
                    scale = max_edge / max(original.size)
                    target = (round(original.width * scale), round(original.height * scale))
                    original.draft(original.mode, target)
                bands = Image.getmodebands(original.mode)
                if original.width * original.height * bands > MAX_DECODED_SAMPLES:
                    raise PhotoError(TOO_MANY_PIXELS)
                icc_profile = original.info.get("icc_profile")
                original.load()
                # Scaled down before it is turned upright: the copy that turning makes is small.
                original.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
                image = ImageOps.exif_transpose(original)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise PhotoError(
            f"The file is not a {FORMAT_NAMES} image, or it is damaged. "
            "Please choose another photo."
        ) from None

    image = _in_srgb(image, icc_profile)
    # Nothing of the original's metadata is written: Pillow would copy a JPEG comment (a
    # script, a name, anything) and a PNG's transparency from `info`; only the latter is kept.
    transparency = image.info.get("transparency")
    image.info = {} if transparency is None else {"transparency": transparency}
    if image_format == "JPEG" and image.mode not in {"RGB", "L"}:
        image = image.convert("RGB")
    elif image_format == "WEBP" and image.mode not in {"RGB", "RGBA"}:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    # Only what is passed to save() is written: no EXIF, XMP or text chunks from the original.
    # The first encoding within largest_stored(size) is kept: a file that compresses far
    # better than a photo (a lossless WebP of a fine pattern grew 7,000 times as lossy WebP)
    # gets another; if none is, the photo is refused.
    for options in _encodings(image_format, lossless_source=lossless_source):
        content = _encoded(image, image_format, options)
        if len(content) <= largest_stored(size):
            break
    else:
        raise PhotoError(NOT_COMPACT)
    return Photo(
        content=content,
        format=FORMATS[image_format],
        width=image.width,
        height=image.height,
        renditions=_renditions(image),
    )
