"""The address a request comes from, for throttling logins (django-axes)."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """Behind App Service's front end (Azure mode), the first address in X-Forwarded-For,
    which the front end sets and which arrives there as `ip:port` (`[ipv6]:port`); elsewhere
    REMOTE_ADDR, since any client can send X-Forwarded-For itself."""
    if settings.AZURE_MODE:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
        if forwarded:
            if forwarded.startswith("["):  # [2001:db8::1]:443
                return forwarded[1:].split("]", 1)[0]
            if forwarded.count(":") == 1:  # 203.0.113.7:51234
                return forwarded.split(":", 1)[0]
            return forwarded  # a bare IPv4 or IPv6 address
    return request.META.get("REMOTE_ADDR")
