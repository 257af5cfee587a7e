"""Photos leave storage with their review: deleted, or replaced in the admin."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, pre_save
from django.dispatch import receiver

from restaurant_review.models import Review, delete_stored_photo


def _delete_photo_after_commit(name: str, *, why: str) -> None:
    # Only once the row is gone for good: a rolled-back delete keeps its photo.
    transaction.on_commit(lambda: delete_stored_photo(name, why=why))


@receiver(post_delete, sender=Review)
def delete_review_photo(sender: type[Review], instance: Review, **kwargs: Any) -> None:
    if instance.photo:
        _delete_photo_after_commit(instance.photo.name, why="its review was deleted")


@receiver(pre_save, sender=Review)
def delete_replaced_photo(sender: type[Review], instance: Review, **kwargs: Any) -> None:
    if instance.pk is None or kwargs.get("raw"):
        return
    old_name = Review.objects.filter(pk=instance.pk).values_list("photo", flat=True).first()
    if old_name and old_name != instance.photo.name:
        _delete_photo_after_commit(old_name, why="it was replaced")
