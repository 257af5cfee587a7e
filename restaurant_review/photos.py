"""Photo checks and re-encoding: only real JPEG, PNG or WebP images, stripped of metadata."""

import io
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format name -> (file extension, content type) of the photos we accept and store.
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
CONTENT_TYPES = {extension: content_type for extension, content_type in FORMATS.values()}


class PhotoError(ValueError):
    """The upload is not a photo we can accept; the message is for the user."""


@dataclass(frozen=True)
class Photo:
    content: bytes
    extension: str
    content_type: str
    width: int
    height: int


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


def reencode_photo(
    upload: IO[bytes], *, size: int, max_bytes: int, max_edge: int, max_pixels: int
) -> Photo:
    """Decode `upload` by its content, and return it re-encoded without EXIF (GPS included),
    turned upright, and scaled so neither side exceeds `max_edge`."""
    if size > max_bytes:
        raise PhotoError(
            f"The photo is {_megabytes(size)} MB; "
            f"the largest accepted is {_megabytes(max_bytes)} MB."
        )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload, formats=list(FORMATS)) as original:
                image_format = original.format
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
            "The file is not a JPEG, PNG or WebP image, or it is damaged. "
            "Please choose another photo."
        ) from None

    image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    extension, content_type = FORMATS[image_format]
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
        extension=extension,
        content_type=content_type,
        width=image.width,
        height=image.height,
    )
