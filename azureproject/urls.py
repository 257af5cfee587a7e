from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from azureproject.views import serve_media

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("", include("restaurant_review.urls")),
]

if settings.SERVE_MEDIA:
    # Embedded default: the app serves uploaded photos itself (local use and demos).
    media_prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns += [
        re_path(rf"^{media_prefix}(?P<path>.*)$", serve_media),
    ]

handler500 = "azureproject.views.server_error"
