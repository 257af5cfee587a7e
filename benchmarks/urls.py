from django.urls import include, path

from benchmarks.instrument import bare

urlpatterns = [
    path("__bare__/", bare),
    path("", include("azureproject.urls")),
]
