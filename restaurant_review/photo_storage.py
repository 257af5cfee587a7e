"""Review photos in storage: where a photo is stored, its renditions written beside it when a
review is saved (ReviewPhotoField), their addresses, and their deletion.

One rule for what a failed save leaves in storage (`cleaned_up_unless_storage_failed`): when
Storage itself failed (OSError), nothing more is asked of it, since deleting would only wait on
it again, and what it did store is left to `manage.py purge_orphan_photos`; on any other
failure, what was stored is deleted at once.
"""

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any, NamedTuple

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.db import models

from restaurant_review.photos import (
    RENDITION_WIDTHS,
    Photo,
    PhotoFile,
    rendition_name,
    rendition_size,
    stored_names,
)

logger = logging.getLogger(__name__)


@contextmanager
def cleaned_up_unless_storage_failed(clean_up: Callable[[], None]) -> Iterator[None]:
    """Run the block; if it fails, call `clean_up` unless the failure is Storage's own
    (OSError), then let the failure go on."""
    try:
        yield
    except OSError:
        raise
    except BaseException:
        clean_up()
        raise


def review_photo_path(instance: Any, filename: str) -> str:
    """A unique name per photo, keeping the extension the photo was re-encoded to."""
    return f"reviews/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


class PhotoRendition(NamedTuple):
    url: str
    width: int
    height: int


def photo_renditions(
    name: str | None, width: int | None, height: int | None
) -> list[PhotoRendition]:
    """The renditions of the photo stored as `name`, `width` x `height`, narrowest first, one
    per distinct width; none without a photo or its size (stored before renditions existed)."""
    if not name or not width or not height:
        return []
    renditions: dict[int, PhotoRendition] = {}
    for slot in RENDITION_WIDTHS:
        size = rendition_size(width, height, slot)
        renditions.setdefault(
            size[0], PhotoRendition(default_storage.url(rendition_name(name, slot)), *size)
        )
    return list(renditions.values())


def store_renditions(storage: Storage, name: str, photo: Photo) -> None:
    """Store `photo`'s renditions beside the photo stored as `name`; if one cannot be stored,
    those stored are cleaned up (the module's rule) and the error goes on."""
    stored: list[str] = []

    def delete_stored() -> None:
        for leftover in stored:
            _delete_quietly(storage, leftover, why="the other renditions could not be stored")

    with cleaned_up_unless_storage_failed(delete_stored):
        for rendition in photo.renditions:
            target = rendition_name(name, rendition.slot)
            stored.append(storage.save(target, ContentFile(rendition.content, name=target)))


class ReviewPhotoField(models.ImageField):
    """An ImageField that, when a new PhotoFile is saved, stores its renditions too and sets
    the review's photo_width and photo_height (fields declared after this one, so the INSERT or
    UPDATE being prepared still reads their new values)."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        file = getattr(model_instance, self.attname)
        new = file.file if file and not file._committed else None
        stored = super().pre_save(model_instance, add)
        if isinstance(new, PhotoFile):
            with cleaned_up_unless_storage_failed(
                lambda: _delete_quietly(stored.storage, stored.name, why="its renditions failed")
            ):
                store_renditions(stored.storage, stored.name, new.photo)
            model_instance.photo_width, model_instance.photo_height = (  # type: ignore[attr-defined]
                new.photo.width,
                new.photo.height,
            )
        elif not stored:
            model_instance.photo_width = model_instance.photo_height = None  # type: ignore[attr-defined]
        return stored


def delete_stored_photo(name: str, *, why: str) -> None:
    """Remove a review's photo and its renditions from storage. A failure is logged, not
    raised: the row, which is what people see, is already right, and a stray file costs only
    storage."""
    for stored in stored_names(name):
        _delete_quietly(default_storage, stored, why=why)


def _delete_quietly(storage: Storage, name: str, *, why: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("Could not delete photo %s (%s)", name, why)
