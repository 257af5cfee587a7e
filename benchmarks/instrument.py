"""Benchmark-only views and middleware (never part of the app's own settings)."""

from collections.abc import Callable
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from restaurant_review import caching, views


class QueryCountMiddleware:
    """Adds X-Query-Count: the SQL queries this request ran, on every database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        count = 0

        def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        wrappers = [connection.execute_wrapper(counter) for connection in connections.all()]
        for wrapper in wrappers:
            wrapper.__enter__()
        try:
            response = self.get_response(request)
        finally:
            for wrapper in reversed(wrappers):
                wrapper.__exit__(None, None, None)
        response["X-Query-Count"] = str(count)
        return response


def bare(request: HttpRequest) -> HttpResponse:
    """The ceiling: Django's full middleware stack rendering a tiny template, no database."""
    return render(request, "bare.html", {"name": "benchmark"})


# Per worker process: restaurant id -> the key of its cached parts, as of its first request.
_keys_read_once: dict[int, str | None] = {}


def restaurant_page_unchecked(request: HttpRequest, pk: int) -> HttpResponse:
    """The restaurant page as the app serves it, but for its version, read on this worker's
    first request for it rather than on every request: what the never-stale check costs.
    Benchmark only (a write after that first request would never show). The key goes where
    restaurant_review.caching keeps a request's keys, so the view, its ETag and its cached
    page take it from there without a query."""
    if pk not in _keys_read_once:
        _keys_read_once[pk] = caching.details_key(request, pk)
    else:
        request.__dict__[caching._MEMO] = {f"details.{pk}": _keys_read_once[pk]}
    return views.details(request, pk)
