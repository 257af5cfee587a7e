from django.apps import AppConfig


class RestaurantReviewConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "restaurant_review"
    verbose_name = "Restaurant reviews"

    def ready(self) -> None:
        from restaurant_review import signals  # noqa: F401  (connects the photo clean-up)
