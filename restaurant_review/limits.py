"""Per-visitor posting limits, counted in the database every worker and instance shares.

A visitor is the client address (settings.CLIENT_IP_CALLABLE, the one helper that decides it;
an IPv6 address counts by its /64, which one host gets), kept only as a keyed digest. Each
limit is a count per window ("5/10m,20/1d": five per ten minutes and twenty per day), kept in
fixed windows in the PostingCount table and raised with one atomic upsert before anything is
stored: one over is taken back and refused. In the database, not a cache, so that a cache
that is full, evicting or down never turns a limit off (nor refuses an upload): posting needs
the database anyway. POST_LIMITS=off turns every limit off (for load tests and benchmarks).

The rates come from settings as text (settings.POST_LIMIT_RATES, LOGIN_FAILURES_PER_ADDRESS)
and are read here (`rates()`), checked at start by a system check (`check_rates`). A `Quota`
names what is counted and how people are told of it; `WindowCount` is the counter itself, also
used by the admin's sign-in throttle.
"""

import contextlib
import functools
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import connection
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
UNIT_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    def window(self) -> str:
        """For people: "10 minutes", "hour", "day"."""
        for unit in sorted(UNIT_NAMES, reverse=True):
            if self.seconds % unit == 0:
                number = self.seconds // unit
                return UNIT_NAMES[unit] if number == 1 else f"{number} {UNIT_NAMES[unit]}s"
        return f"{self.seconds} seconds"


def parse_rates(text: str) -> tuple[Rate, ...]:
    """ "5/10m,20/1d" -> five per 10 minutes and twenty per day (units s, m, h, d)."""
    rates = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        found = re.fullmatch(r"(\d+)\s*/\s*(\d*)\s*([smhd])", part)
        if not found:
            raise ValueError(f"not a rate (COUNT/PERIOD, e.g. 5/10m): {part!r}")
        count, number, unit = int(found[1]), int(found[2] or 1), found[3]
        rates.append(Rate(count, number * UNITS[unit]))
    return tuple(rates)


@dataclass(frozen=True)
class Quota:
    """What a posting limit counts: `kind`, its rates' name in settings.POST_LIMIT_RATES, and
    `what` it is for people ("reviews", "MB of photos"); `in_megabytes` when counted in bytes
    and set in megabytes."""

    kind: str
    what: str
    in_megabytes: bool = False


REVIEWS = Quota("reviews", "reviews")
# Photos decoded, valid form or not, counted before the decoding: no more than reviews.
PHOTOS_CHECKED = Quota("photo_decodes", "photos checked")
RESTAURANTS = Quota("restaurants", "restaurants added")
REPORTS = Quota("reports", "reports")
PHOTO_BYTES = Quota("photo_bytes", "photos", in_megabytes=True)


@functools.lru_cache(maxsize=64)
def _parsed(text: str, scale: int) -> tuple[Rate, ...]:
    return tuple(Rate(rate.count * scale, rate.seconds) for rate in parse_rates(text))


def rates(quota: Quota) -> tuple[Rate, ...]:
    """The quota's rates as settings.POST_LIMIT_RATES gives them (bytes for one counted in
    megabytes); none when it names none."""
    text = settings.POST_LIMIT_RATES.get(quota.kind, "")
    return _parsed(text, 1024 * 1024 if quota.in_megabytes else 1)


def login_failure_rate() -> Rate:
    """settings.LOGIN_FAILURES_PER_ADDRESS, read."""
    return _parsed(settings.LOGIN_FAILURES_PER_ADDRESS, 1)[0]


@checks.register()
def check_rates(**kwargs: Any) -> list[checks.CheckMessage]:
    """Each rate setting readable (and the login throttle's one rate): the app refuses to start
    with a message naming the setting, rather than failing on the first post."""
    errors: list[checks.CheckMessage] = []
    texts = {
        **{f"POST_LIMIT_RATES[{kind!r}]": text for kind, text in settings.POST_LIMIT_RATES.items()},
        "LOGIN_FAILURES_PER_ADDRESS": settings.LOGIN_FAILURES_PER_ADDRESS,
    }
    for name, text in texts.items():
        try:
            parsed = parse_rates(text)
        except ValueError as exc:
            errors.append(checks.Error(f"{name}: {exc}", id="restaurant_review.E001"))
            continue
        if name == "LOGIN_FAILURES_PER_ADDRESS" and len(parsed) != 1:
            errors.append(
                checks.Error(f"{name} must be one rate, not {text!r}", id="restaurant_review.E001")
            )
    return errors


class LimitExceeded(Exception):
    """Over a posting limit: `retry_after` seconds until the window that is full ends;
    `limit` says it for people ("5 reviews per 10 minutes", "60 MB of photos per day")."""

    def __init__(self, *, quota: Quota, rate: Rate, retry_after: int) -> None:
        count = f"{rate.count // (1024 * 1024)} MB of" if quota.in_megabytes else rate.count
        self.limit = f"{count} {quota.what} per {rate.window()}"
        super().__init__(self.limit)
        self.rate, self.retry_after = rate, retry_after


def visitor(request: HttpRequest) -> str:
    """A keyed digest of who the visitor is, as settings.CLIENT_IP_CALLABLE says (an IPv6
    visitor is their /64 there): no address is stored."""
    address = import_string(settings.CLIENT_IP_CALLABLE)(request) or "unknown"
    return salted_hmac("restaurant_review.limits", address).hexdigest()[:32]


@dataclass(frozen=True)
class WindowCount:
    """The count of `kind` for visitor `who` in the fixed window of `rate` that holds `now`
    (a row of PostingCount, kept a minute past the window's end)."""

    kind: str
    who: str
    rate: Rate
    now: float

    @property
    def name(self) -> str:
        return f"limit:{self.kind}:{self.who}:{self.rate.seconds}:{self._index}"

    @property
    def _index(self) -> int:
        return int(self.now // self.rate.seconds)

    @property
    def retry_after(self) -> int:
        """Seconds until this window ends (Retry-After)."""
        return max(1, int((self._index + 1) * self.rate.seconds - self.now))

    def add(self, amount: int) -> int:
        """Add `amount`; the count now."""
        return count(self.name, amount, self.rate.seconds + 60)

    def current(self) -> int:
        return current(self.name)


def _table() -> str:
    from restaurant_review.models import PostingCount  # the models import this module's Rate

    return connection.ops.quote_name(PostingCount._meta.db_table)


def _run(sql: str, params: list[Any]) -> tuple | None:
    """One statement on the counts' table ({table} in `sql`); the row it returns, if any."""
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=_table()), params)
        return cursor.fetchone() if cursor.description else None


def count(name: str, amount: int, seconds: int) -> int:
    """Add `amount` to the count `name` (a new one, or one whose time ran out, starts from
    zero and lasts `seconds`); the count now. One statement: atomic in PostgreSQL and SQLite."""
    now = int(time.time())
    row = _run(
        "INSERT INTO {table} AS c (name, count, expires) VALUES (%s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET count = CASE WHEN c.expires <= %s "
        "THEN excluded.count ELSE c.count + excluded.count END, expires = CASE "
        "WHEN c.expires <= %s THEN excluded.expires ELSE c.expires END RETURNING count",
        [name, amount, now + seconds, now, now],
    )
    assert row is not None  # an upsert always returns its row
    return int(row[0])


def current(name: str) -> int:
    """The count `name` now (0 if there is none, or its time ran out)."""
    row = _run(
        "SELECT count FROM {table} WHERE name = %s AND expires > %s", [name, int(time.time())]
    )
    return int(row[0]) if row else 0


def _claim(name: str, seconds: int) -> bool:
    """Whether this call made `name` exist (or took it over once its time ran out)."""
    now = int(time.time())
    row = _run(
        "INSERT INTO {table} AS c (name, count, expires) VALUES (%s, 1, %s) "
        "ON CONFLICT (name) DO UPDATE SET count = 1, expires = excluded.expires "
        "WHERE c.expires <= %s RETURNING name",
        [name, now + seconds, now],
    )
    return row is not None


def _forget(name: str) -> None:
    _run("DELETE FROM {table} WHERE name = %s", [name])


def _purge_expired() -> None:
    _run("DELETE FROM {table} WHERE expires <= %s", [int(time.time())])


def check(request: HttpRequest, quota: Quota) -> None:
    """LimitExceeded if this visitor has used up a window of `quota` already: asked before the
    costly work (decoding a photo) for a post that could not be accepted anyway."""
    if not settings.POST_LIMITS_ENABLED:
        return
    now, who = time.time(), visitor(request)
    for rate in rates(quota):
        window = WindowCount(quota.kind, who, rate, now)
        if window.current() >= rate.count:
            raise LimitExceeded(quota=quota, rate=rate, retry_after=window.retry_after)


def take(request: HttpRequest, *wanted: tuple[Quota, int]) -> None:
    """Count each (quota, amount) for this visitor in every window of its rates; if any would
    go over, take back all of them and raise LimitExceeded for that one."""
    if not settings.POST_LIMITS_ENABLED:
        return
    now, who, counted = time.time(), visitor(request), []
    _purge_expired()  # windows that have ended: a post is rare, the delete cheap
    for quota, amount in wanted:
        for rate in rates(quota) if amount > 0 else ():
            window = WindowCount(quota.kind, who, rate, now)
            total = window.add(amount)
            counted.append((window, amount))
            if total > rate.count:
                for done, done_amount in counted:
                    done.add(-done_amount)
                raise LimitExceeded(quota=quota, rate=rate, retry_after=window.retry_after)


def _text_digest(text: str) -> str:
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()[:32]


def _seen_key(request: HttpRequest, what: str, about: int, text: str) -> str:
    return f"seen:{what}:{about}:{visitor(request)}:{_text_digest(text)}"


# How long a visitor's review text (or report) is remembered, to refuse the same one again.
SEEN_SECONDS = 7 * 86400


def _seen(request: HttpRequest, what: str, about: int, text: str) -> bool:
    if not settings.POST_LIMITS_ENABLED:
        return False
    return current(_seen_key(request, what, about, text)) > 0


def _remember(request: HttpRequest, what: str, about: int, text: str) -> None:
    if settings.POST_LIMITS_ENABLED:
        count(_seen_key(request, what, about, text), 1, SEEN_SECONDS)


def already_posted(request: HttpRequest, restaurant_id: int, text: str) -> bool:
    """Whether this visitor posted the same text (ignoring case and spacing) here lately."""
    return _seen(request, "review", restaurant_id, text)


def remember_posted(request: HttpRequest, restaurant_id: int, text: str) -> None:
    _remember(request, "review", restaurant_id, text)


def already_reported(request: HttpRequest, review_id: int) -> bool:
    """Whether this visitor reported this review lately."""
    return _seen(request, "report", review_id, "")


def remember_reported(request: HttpRequest, review_id: int) -> None:
    _remember(request, "report", review_id, "")


# How long a visitor's upload in progress blocks their next one at most (if a worker died
# while holding it, the next upload goes through after this).
UPLOAD_SECONDS = 60


@contextlib.contextmanager
def one_upload_at_a_time(request: HttpRequest) -> Iterator[bool]:
    """Yields whether this visitor may upload now: False while another of their uploads is
    being processed, by any worker or instance. One visitor's many uploads at once would
    take the photo decoders (one per process) from everyone else."""
    if not settings.POST_LIMITS_ENABLED:
        yield True
        return
    key = f"uploading:{visitor(request)}"
    if not _claim(key, UPLOAD_SECONDS):
        yield False
        return
    try:
        yield True
    finally:
        _forget(key)
