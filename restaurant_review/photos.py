"""Photo checks and re-encoding: only real JPEG, PNG or WebP images, stripped of metadata."""

import io
import math
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError


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


def megabytes(size: int) -> str:
    """`size` in MB for people: one decimal at most, rounded up, so a photo just over a 5 MB
    limit reads 5.1 MB rather than the limit itself."""
    return f"{math.ceil(size * 10 / MEGABYTE) / 10:.1f}".removesuffix(".0")


class PhotoError(ValueError):
    """The upload is not a photo we can accept; the message is for the user."""


@dataclass(frozen=True)
class Photo:
    content: bytes
    format: PhotoFormat
    width: int
    height: int


def reencode_photo(
    upload: IO[bytes], *, size: int, max_bytes: int, max_edge: int, max_pixels: int
) -> Photo:
    """Decode `upload` by its content, and return it re-encoded without EXIF (GPS included),
    turned upright, and scaled so neither side exceeds `max_edge`."""
    if size > max_bytes:
        raise PhotoError(
            f"The photo is {megabytes(size)} MB; the largest accepted is {megabytes(max_bytes)} MB."
        )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload, formats=list(FORMATS)) as original:
                image_format = original.format or ""  # one of FORMATS: Pillow tried no other
                if original.width * original.height > max_pixels:
                    raise PhotoError("The photo has too many pixels; please upload a smaller one.")
                original.load()
                icc_profile = original.info.get("icc_profile")
                image = ImageOps.exif_transpose(original)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("The photo has too many pixels; please upload a smaller one.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise PhotoError(
            f"The file is not a {FORMAT_NAMES} image, or it is damaged. "
            "Please choose another photo."
        ) from None

    image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile  # Keep colours right; it holds no personal data.
    if image_format == "JPEG":
        if image.mode not in {"RGB", "L"}:
            image = image.convert("RGB")
        options.update(quality=85, optimize=True, progressive=True)
    elif image_format == "WEBP":
        if image.mode not in {"RGB", "RGBA"}:
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        options.update(quality=85, method=4)
    else:
        options.update(optimize=True)
    # Only what is passed here is written: no EXIF, XMP or text chunks from the original.
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return Photo(
        content=buffer.getvalue(),
        format=FORMATS[image_format],
        width=image.width,
        height=image.height,
    )
