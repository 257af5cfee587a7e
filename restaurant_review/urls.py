from django.urls import path, register_converter
from django.urls.converters import IntConverter

from restaurant_review import views


class IdConverter(IntConverter):
    """A row id: digits that fit a 64-bit integer column. A longer number is no id (404), not
    an overflow in the database driver (SQLite raises one for 2**63 and up)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number >= 2**63:
            raise ValueError(value)  # the URL does not match: 404
        return number


register_converter(IdConverter, "id")

app_name = "restaurant_review"

urlpatterns = [
    path("", views.index, name="index"),
    path("restaurant/new/", views.create_restaurant, name="create_restaurant"),
    path("restaurant/<id:pk>/", views.details, name="details"),
    path("restaurant/<id:pk>/photos/", views.photos, name="photos"),
    path("restaurant/<id:pk>/photos/<id:review_pk>/", views.photo, name="photo"),
    path("restaurant/<id:pk>/review/", views.add_review, name="add_review"),
    path("review/<id:pk>/report/", views.report_review, name="report_review"),
]
