"""Delete stored photos, and their renditions, that no review references.

Such files are left when an upload finished after its request had given up (Blob Storage was
slow, the app answered 503), or when a worker died between the upload and the commit. A file
younger than --older-than seconds is never deleted: its review may still be committing.

Safe to run on several instances at once (deleting a missing file is not an error), and meant
to run on a schedule as well as at start (start.sh runs it in Azure mode).
"""

import logging
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from restaurant_review.models import Review
from restaurant_review.photos import stored_names

logger = logging.getLogger(__name__)

PHOTO_DIR = "reviews"


class Command(BaseCommand):
    help = "Delete photos and renditions no review references, older than --older-than seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=3600,
            metavar="SECONDS",
            help="only files at least this old (default 3600: no review still commits then)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        storage = Review.photo.field.storage
        cutoff = timezone.now() - timedelta(seconds=options["older_than"])
        try:
            _dirs, files = storage.listdir(PHOTO_DIR)
        except FileNotFoundError:
            files = []
        except OSError as exc:
            raise CommandError(f"Could not list the stored photos: {exc}") from None
        # Read after listing: a review committed meanwhile is seen, and its files are kept.
        referenced: set[str] = set()
        for name in Review.objects.exclude(photo="").values_list("photo", flat=True).iterator():
            referenced.update(stored_names(name))
        deleted = too_young = 0
        for filename in files:
            name = f"{PHOTO_DIR}/{filename}"
            if name in referenced:
                continue
            try:
                if storage.get_modified_time(name) > cutoff:
                    too_young += 1
                    continue
                storage.delete(name)
            except FileNotFoundError:
                continue  # deleted meanwhile (another instance)
            except OSError as exc:
                raise CommandError(f"Stopped after {deleted} deletions: {exc}") from None
            deleted += 1
            logger.info("Deleted orphan photo file %s", name)
        summary = (
            f"Orphan photo files: {deleted} deleted, {too_young} younger than "
            f"{options['older_than']} s kept; {len(files)} files, {len(referenced)} referenced."
        )
        logger.info("%s", summary)
        self.stdout.write(summary)
