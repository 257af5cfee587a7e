"""A minimal Django site for benchmarks/servers.py: one view drawing a tiny template behind
Django's four usual middlewares, served by gunicorn's stock threaded worker. What any Django
page costs on this machine before the app adds anything: the reference the app's own bare view
(same template, the app's middleware and worker) is measured against.

    gunicorn --workers 2 --threads 4 --worker-class gthread benchmarks.minimal:application
"""

from pathlib import Path

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path


def bare(request: HttpRequest) -> HttpResponse:
    """The app's bare view, on a site of nothing else."""
    return render(request, "bare.html", {"name": "benchmark"})


urlpatterns = [path("__bare__/", bare)]

settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmark-only-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(Path(__file__).resolve().parent / "templates")],
        }
    ],
)
application = get_wsgi_application()
