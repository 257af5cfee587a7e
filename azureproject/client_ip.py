"""Who the visitor is: the one address that login throttling, posting limits and logs use."""

from django.conf import settings
from django.http import HttpRequest


def _without_port(entry: str) -> str:
    """`203.0.113.7:51234` -> `203.0.113.7`, `[2001:db8::1]:443` -> `2001:db8::1`; a bare
    IPv4 or IPv6 address as it is."""
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    if entry.count(":") == 1:
        return entry.split(":", 1)[0]
    return entry


def client_ip(request: HttpRequest) -> str | None:
    """Behind App Service's front end (Azure mode), the last entry of X-Forwarded-For: the
    front end appends the address the connection came from (as `ip:port`) to whatever the
    client sent, so every entry before the last is the client's own choice and the last one
    is the only one it cannot forge. Elsewhere REMOTE_ADDR, since nothing in front of the app
    adds the header and any client can send it."""
    if settings.AZURE_MODE:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return _without_port(forwarded)
    return request.META.get("REMOTE_ADDR")
