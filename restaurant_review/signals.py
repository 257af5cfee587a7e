"""Photos leave storage with their review: deleted, or replaced in the admin."""

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, pre_save
from django.dispatch import receiver

from restaurant_review.models import Review

logger = logging.getLogger(__name__)


def _delete_photo_after_commit(name: str) -> None:
    def delete() -> None:
        try:
            Review.photo.field.storage.delete(name)
        except Exception:
            logger.exception("Could not delete photo %s of a deleted review", name)

    # Only once the row is gone for good: a rolled-back delete keeps its photo.
    transaction.on_commit(delete)


@receiver(post_delete, sender=Review)
def delete_review_photo(sender: type[Review], instance: Review, **kwargs: Any) -> None:
    if instance.photo:
        _delete_photo_after_commit(instance.photo.name)


@receiver(pre_save, sender=Review)
def delete_replaced_photo(sender: type[Review], instance: Review, **kwargs: Any) -> None:
    if instance.pk is None or kwargs.get("raw"):
        return
    old_name = Review.objects.filter(pk=instance.pk).values_list("photo", flat=True).first()
    if old_name and old_name != instance.photo.name:
        _delete_photo_after_commit(old_name)
