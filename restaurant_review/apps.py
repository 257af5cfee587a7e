from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def add_sqlite_casefold(sender: Any, connection: Any, **kwargs: Any) -> None:
    """SQLite's LIKE and lower() fold ASCII letters only: give it Python's str.casefold()."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "casefold", 1, lambda text: text.casefold() if text else text, deterministic=True
        )


class RestaurantReviewConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "restaurant_review"
    verbose_name = "Restaurant reviews"

    def ready(self) -> None:
        from restaurant_review import signals  # noqa: F401  (connects the photo clean-up)

        connection_created.connect(add_sqlite_casefold, dispatch_uid="restaurant_review.casefold")
