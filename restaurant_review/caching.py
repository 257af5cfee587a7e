"""What pages cache, and the keys that keep it from ever being stale.

The parts of a page that are the same for every visitor (a home page's restaurant cards, a
restaurant's header and page of reviews, the unbound review form) are cached with Django's
`{% cache %}` tag under keys made here from:
- versions the database keeps (models.ContentVersion for the site's lists, Restaurant.version
  for a restaurant's page), read before the data: a write anywhere, through any worker or
  instance or the admin, moves them on, so the next request renders afresh; and for a
  restaurant, its opening hours' status now ("Open now · until 22:00"), which the clock
  changes without a write;
- the query string (page number, search), which decides what the page lists;
- what photo links look like now (a storage whose links change over time, such as signed
  ones, says so with `url_version()`), so a cached page never carries expired links;
- the deployed code, in the cache's KEY_PREFIX (settings.CACHES), so a deploy never serves
  parts drawn by the previous templates.
Nothing expires by time: FRAGMENT_SECONDS only lets a cache evict old versions.

For a plain visit (nobody signed in, no message waiting: nearly every visit) the whole page
is cached too, under the same key, with a stand-in where the form's CSRF token goes: the next
plain visit gets that page with its own token and no template drawn at all (`render_page`).

The same keys, with what differs per visitor (CSRF cookie, signed-in user), make the pages'
ETags, so a repeat visit gets 304 Not Modified without rendering (views.py).
"""

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import get_script_prefix

from restaurant_review.versions import restaurant_state, site_version

# Cached parts leave the cache after a day unused; a changed version makes a new key at once.
FRAGMENT_SECONDS = 24 * 3600

_MEMO = "_restaurant_review_cache_keys"


def _memo(request: HttpRequest, name: str, compute: Callable[[], str | None]) -> str | None:
    """Compute a key once per request: the ETag and the view share its database query."""
    memo: dict[str, str | None] = request.__dict__.setdefault(_MEMO, {})
    if name not in memo:
        memo[name] = compute()
    return memo[name]


def photo_links_version() -> str:
    """What the photo links the storage hands out now depend on, besides the photo."""
    url_version = getattr(default_storage, "url_version", None)
    return str(url_version()) if callable(url_version) else ""


def _digest(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()


def _query(request: HttpRequest) -> str:
    """The query string, in a stable order: it decides the page and the pager's links. Each
    name and value is encoded, so `page=3%26q%3DSpam` (one parameter) and `q=Spam&page=3`
    (two) never share a key."""
    pairs = sorted((k, v) for k, values in request.GET.lists() for v in values)
    return urlencode(pairs)


def canonical_query(
    *names: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """For a view whose page depends on these query parameters alone: a request with any other
    parameter, one given twice, or one left empty is redirected (301) to the page's own URL,
    each named parameter once (its last value), so the cache keeps one copy of each page
    however many ways a client writes its address (`/?a&a&u=1`, `?q=x&q=y`, `?q=&cuisine=`)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            given = [(name, value) for name, values in request.GET.lists() for value in values]
            kept = [
                (name, request.GET.getlist(name)[-1])
                for name in names
                if request.GET.getlist(name) and request.GET.getlist(name)[-1] != ""
            ]
            if len(given) != len(kept) or set(given) != set(kept):
                query = urlencode(kept)
                return HttpResponsePermanentRedirect(request.path + (f"?{query}" if query else ""))
            return view(request, *args, **kwargs)

        return checked

    return decorator


def _page_digest(request: HttpRequest) -> str:
    """What a page's links depend on besides the data: its query, the photo links' window,
    the script prefix (the path the site is mounted at, which every link starts with) and the
    site's address (its canonical link and sharing tags are absolute; the host is one that
    ALLOWED_HOSTS accepts)."""
    origin = f"{request.scheme}://{request.get_host()}"
    return _digest(_query(request), photo_links_version(), get_script_prefix(), origin)


def home_key(request: HttpRequest) -> str:
    """The key of the home page's cached parts for this request."""

    def compute() -> str:
        return f"home.{site_version()}.{_page_digest(request)}"

    key = _memo(request, "home", compute)
    assert key is not None
    return key


def details_key(request: HttpRequest, pk: int) -> str | None:
    """The key of restaurant `pk`'s cached parts for this request; None if there is no such
    restaurant."""

    def compute() -> str | None:
        state = restaurant_state(pk)
        if state is None:
            return None
        return f"restaurant.{pk}.{state.version}.{_digest(state.hours)}.{_page_digest(request)}"

    return _memo(request, f"details.{pk}", compute)


def _per_visitor(request: HttpRequest) -> str:
    """What a page shows differently per visitor: the CSRF token is masked from the CSRF
    cookie's secret, and a signed-in member of staff sees the admin link."""
    # The secret CsrfViewMiddleware read from the cookie, or get_token() made while rendering.
    csrf = request.META.get("CSRF_COOKIE", "")
    user = getattr(request, "user", None)
    staff = user.pk if user is not None and user.is_authenticated and user.is_staff else ""
    return f"{csrf}.{staff}"


def _message_waiting(request: HttpRequest) -> bool:
    """Whether a message (in its cookie) waits to be shown on this visitor's next page."""
    return bool(request.COOKIES.get(CookieStorage.cookie_name))


def etag(request: HttpRequest, key: str | None) -> str | None:
    """A weak ETag for a page whose cached parts are `key`: none when a message waits to be
    shown (the page is new each time then), nor for a page that does not exist."""
    if key is None or _message_waiting(request):
        return None
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f'W/"{_digest(prefix, key, _per_visitor(request))}"'


def set_etag(response: HttpResponse, request: HttpRequest, key: str | None) -> HttpResponse:
    """Give a page just rendered its ETag as of now: a first visit's CSRF secret is made while
    rendering, after `condition` computed the ETag it checks, so the next visit can match."""
    if request.method in {"GET", "HEAD"} and response.status_code == HTTPStatus.OK:
        value = etag(request, key)
        if value is not None:
            response["ETag"] = value
    return response


def home_etag(request: HttpRequest) -> str | None:
    return etag(request, home_key(request))


def details_etag(request: HttpRequest, pk: int, **photo: int) -> str | None:
    """The restaurant's pages (its page, gallery and each photo's page: `review_pk`)."""
    key = details_key(request, pk)
    return etag(request, f"{key}.{photo['review_pk']}" if key and photo else key)


def fragment_context(key: str) -> dict[str, Any]:
    """What templates need for `{% cache fragment_seconds NAME cache_key using=fragment_cache %}`
    (the alias: the page parts' own, but the read-only one while the whole page is cached)."""
    return {"cache_key": key, "fragment_seconds": FRAGMENT_SECONDS, "fragment_cache": PARTS}


# The page parts' cache, and the one that reads it without storing (azureproject.config).
PARTS, PARTS_READ_ONLY = "template_fragments", "whole_page_parts"


def _plain_visit(request: HttpRequest) -> bool:
    """Whether this visitor's page is everyone's page but for the CSRF token: nobody signed
    in (who could be staff, with links of their own) and no message waiting to be shown."""
    return not _message_waiting(request) and not request.user.is_authenticated


def render_page(
    request: HttpRequest, key: str, template_name: str, context: dict[str, Any]
) -> HttpResponse:
    """The page `template_name` draws with `context`, whose cached parts are `key`. On a plain
    visit, the whole page comes from the cache when another plain visit drew it under the same
    key, with this visitor's CSRF token put in the stand-in's place; otherwise the page is
    drawn (from its cached parts) and, for a plain visit, cached for the next."""
    if not _plain_visit(request):
        return render(request, template_name, context)
    pages = caches["template_fragments"]
    page_key = f"page.{template_name}.{key}"  # a restaurant's page and gallery share `key`
    cached = pages.get(page_key)
    if cached is None:
        # A stand-in no one can guess, so no review's text can contain it.
        stand_in = f"csrf{secrets.token_hex(16)}"
        # Its parts are read if cached, not stored again: the whole page holds them.
        drawn = {**context, "csrf_token": stand_in, "fragment_cache": PARTS_READ_ONLY}
        html = render_to_string(template_name, drawn, request)
        cached = (stand_in, html)
        pages.set(page_key, cached, FRAGMENT_SECONDS)
    stand_in, html = cached
    if stand_in in html:  # a page with a form: the token this visitor's cookie goes with
        html = html.replace(stand_in, get_token(request))
    return HttpResponse(html)
