from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def add_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """SQLite's LIKE and lower() fold ASCII letters only: give it Python's str.casefold(); and
    pg_trgm's word_similarity(), which the forgiving search calls on either database."""
    if connection.vendor == "sqlite":
        from restaurant_review.search import word_similarity

        connection.connection.create_function(
            "casefold", 1, lambda text: text.casefold() if text else text, deterministic=True
        )
        connection.connection.create_function(
            "word_similarity", 2, word_similarity, deterministic=True
        )


class RestaurantReviewConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "restaurant_review"
    verbose_name = "Restaurant reviews"

    def ready(self) -> None:
        from restaurant_review import limits, signals  # noqa: F401  (its check; the signals)

        connection_created.connect(add_sqlite_functions, dispatch_uid="restaurant_review.sqlite")
