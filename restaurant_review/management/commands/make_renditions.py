"""Make the display renditions of photos stored before renditions existed.

Idempotent and resumable: it works through the reviews whose photo has no recorded size yet
(photo_width), in order, recording each one as soon as its renditions are stored; run it again
after an interruption and it goes on where it stopped.
"""

import io
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from restaurant_review.forms import process_photo
from restaurant_review.models import Review
from restaurant_review.photo_storage import store_renditions
from restaurant_review.photos import RENDITION_WIDTHS, PhotoError, rendition_name
from restaurant_review.versions import content_changed


class Command(BaseCommand):
    help = "Make display renditions for photos stored before they existed (resumable)."

    def handle(self, *args: Any, **options: Any) -> None:
        pending = Review.objects.exclude(photo="").filter(photo_width__isnull=True).order_by("pk")
        total = pending.count()
        if not total:
            self.stdout.write("Every photo has its renditions: nothing to do.")
            return
        made = skipped = 0
        for index, review in enumerate(pending.iterator(), start=1):
            name = review.photo.name
            storage = review.photo.storage
            try:
                with storage.open(name, "rb") as stored:
                    data = stored.read()
                photo = process_photo(io.BytesIO(data), size=len(data)).photo
                for slot in RENDITION_WIDTHS:  # what an interrupted run may have left
                    storage.delete(rendition_name(name, slot))
                store_renditions(storage, name, photo)
            except FileNotFoundError:
                skipped += 1
                self.stderr.write(f"[{index}/{total}] {name}: the photo is missing; skipped")
                continue
            except PhotoError as exc:
                skipped += 1
                self.stderr.write(f"[{index}/{total}] {name}: {exc} Skipped.")
                continue
            except OSError as exc:
                raise CommandError(
                    f"Stopped at {index} of {total} ({made} done): {exc}. "
                    "Run the command again to go on from there."
                ) from None
            Review.objects.filter(pk=review.pk).update(
                photo_width=photo.width, photo_height=photo.height
            )
            content_changed(review.restaurant_id)  # its page now offers the renditions
            made += 1
            self.stdout.write(f"[{index}/{total}] {name}: {len(photo.renditions)} renditions")
        self.stdout.write(
            self.style.SUCCESS(f"Renditions made for {made} photos; {skipped} skipped.")
        )
