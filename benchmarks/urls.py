from django.urls import include, path

from benchmarks.instrument import bare, restaurant_page_unchecked

urlpatterns = [
    path("__bare__/", bare),
    path("__unchecked__/restaurant/<int:pk>/", restaurant_page_unchecked),
    path("", include("azureproject.urls")),
]
