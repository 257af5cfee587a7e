"""Photos leave storage with their review (deleted, or replaced in the admin), and every
write to a restaurant or review moves the content versions on."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from restaurant_review.models import ReportedReview, Restaurant, Review
from restaurant_review.photo_storage import delete_stored_photo
from restaurant_review.versions import content_changed

# Django sends a proxy model's signals with the proxy as sender: every receiver of Review's is
# also ReportedReview's, the moderators' queue, which saves and deletes the same rows.


def _delete_photo_after_commit(name: str, *, why: str) -> None:
    # Only once the row is gone for good: a rolled-back delete keeps its photo.
    transaction.on_commit(lambda: delete_stored_photo(name, why=why))


@receiver(post_delete, sender=Review)
@receiver(post_delete, sender=ReportedReview)
def delete_review_photo(sender: type[Review], instance: Review, **kwargs: Any) -> None:
    if instance.photo:
        _delete_photo_after_commit(instance.photo.name, why="its review was deleted")


@receiver(pre_save, sender=Review)
@receiver(pre_save, sender=ReportedReview)
def delete_replaced_photo(sender: type[Review], instance: Review, **kwargs: Any) -> None:
    if instance.pk is None or kwargs.get("raw"):
        return
    old_name, old_restaurant = Review.objects.filter(pk=instance.pk).values_list(
        "photo", "restaurant_id"
    ).first() or (None, None)
    if old_restaurant != instance.restaurant_id:
        instance._previous_restaurant_id = old_restaurant  # type: ignore[attr-defined]
    if old_name and old_name != instance.photo.name:
        _delete_photo_after_commit(old_name, why="it was replaced")


# Cached page parts are keyed on versions the database keeps (restaurant_review.caching): every
# write to a restaurant or review moves them on.


@receiver(post_save, sender=Restaurant)
@receiver(post_delete, sender=Restaurant)
def restaurant_changed(sender: type[Restaurant], instance: Restaurant, **kwargs: Any) -> None:
    # Restaurant.save() moved its own version on, in its UPDATE; the site's lists change too.
    content_changed()


@receiver(post_save, sender=Review)
@receiver(post_delete, sender=Review)
@receiver(post_save, sender=ReportedReview)
@receiver(post_delete, sender=ReportedReview)
def review_changed(sender: type[Review], instance: Review, **kwargs: Any) -> None:
    # A review moved to another restaurant (in the admin) changes both pages.
    content_changed(instance.restaurant_id, getattr(instance, "_previous_restaurant_id", None))
