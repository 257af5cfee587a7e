"""Errors for outages of what the app depends on (database, storage, identity).

They carry a one-line message meant for operators: what failed, where, and as whom.
`manage.py` prints that line instead of a traceback; the middleware turns it into a 503 page.
"""

from django.db import InterfaceError, OperationalError


class DependencyUnavailable(Exception):
    """A service the app needs cannot be reached or refused our identity."""


class DatabaseUnavailable(DependencyUnavailable, OperationalError):
    """No connection to the database: no token could be had, or the server refused us."""


class StorageUnavailable(DependencyUnavailable, OSError):
    """Photo storage refused or failed a request.

    An OSError, like a disk failure in Django's FileSystemStorage, so app code can handle
    both without knowing which storage is configured.
    """


# What a view may raise when a dependency is down: answered with the 503 page, never a 500.
OUTAGES = (DependencyUnavailable, OperationalError, InterfaceError)
