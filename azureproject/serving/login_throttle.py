"""Password spraying: wrong passwords from one address across many usernames.

django-axes locks a username from an address after AXES_FAILURE_LIMIT wrong passwords, so the
real admin is never locked out from elsewhere; an attacker trying a few passwords on each of
many usernames never reaches it. Here every failed sign-in from an address is counted too, with
the posting limits' counts (in the database every worker and instance shares), and past
LOGIN_FAILURES_PER_ADDRESS in its window that address may not sign in at all until the window
ends (axes' 429 page). Unlike the posting limits, this one stays on with POST_LIMITS=off: it
guards the admin.
"""

import time
from typing import Any

from axes.exceptions import AxesBackendPermissionDenied
from django.http import HttpRequest

from restaurant_review.limits import WindowCount, login_failure_rate, visitor


def _failures(request: HttpRequest) -> WindowCount:
    return WindowCount("login-failures", visitor(request), login_failure_rate(), time.time())


def record_failure(request: HttpRequest) -> None:
    _failures(request).add(1)


def address_locked(request: HttpRequest) -> bool:
    return _failures(request).current() >= login_failure_rate().count


class AddressThrottleBackend:
    """First in AUTHENTICATION_BACKENDS: refuses every sign-in from an address that has used
    up its failed sign-ins, before any password is checked; axes' middleware then answers
    with its lockout page. It authenticates no one and has no get_user(): sessions are the
    other backends' (Django picks the first backend with get_user for them)."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        if request is not None and address_locked(request):
            request.axes_locked_out = True  # type: ignore[attr-defined]
            raise AxesBackendPermissionDenied("too many failed sign-ins from this address")
        return None
