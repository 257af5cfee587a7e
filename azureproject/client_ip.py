"""Who the visitor is: the one address that login throttling, posting limits and logs use."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _without_port(entry: str) -> str:
    """`203.0.113.7:51234` -> `203.0.113.7`, `[2001:db8::1]:443` and `2001:db8::1:51234` ->
    `2001:db8::1`; a bare IPv4 or IPv6 address as it is."""
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    if entry.count(":") == 1:
        return entry.split(":", 1)[0]
    if not _is_address(entry) and _is_address(entry.rsplit(":", 1)[0]):
        return entry.rsplit(":", 1)[0]  # IPv6 with a port and no brackets
    return entry


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def visitor(address: str) -> str:
    """An IPv6 visitor is their /64, the block one home or phone gets (as the address within
    it, any port an unbracketed address carried in its last group included, changes at will);
    an IPv4 visitor is their address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return str(parsed)


def client_ip(request: HttpRequest) -> str | None:
    """Behind App Service's front end (Azure mode), the last entry of X-Forwarded-For: the
    front end appends the address the connection came from (as `ip:port`) to whatever the
    client sent, so every entry before the last is the client's own choice and the last one
    is the only one it cannot forge. Elsewhere REMOTE_ADDR, since nothing in front of the app
    adds the header and any client can send it."""
    if settings.AZURE_MODE:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return visitor(_without_port(forwarded))
    remote = request.META.get("REMOTE_ADDR")
    return visitor(remote) if remote else remote
