import logging
from http import HTTPStatus
from typing import Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db import DatabaseError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import SimpleLazyObject
from django.utils.log import log_response
from django.views.decorators.cache import cache_control
from django.views.decorators.http import (
    condition,
    require_http_methods,
    require_POST,
    require_safe,
)

from restaurant_review import caching, limits
from restaurant_review.forms import (
    BrowseForm,
    ReportForm,
    RestaurantForm,
    ReviewForm,
    ReviewsForm,
)
from restaurant_review.models import Restaurant, Review
from restaurant_review.templatetags.notices import AT_REVIEWS

logger = logging.getLogger(__name__)

# 24 cards fill every row at 1, 2, 3 or 4 columns.
RESTAURANTS_PER_PAGE = 24
REVIEWS_PER_PAGE = 10
# The restaurant page's strip of its newest photos; the gallery has them all, a page at a time.
STRIP_PHOTOS = 8
GALLERY_PHOTOS_PER_PAGE = 24

ALREADY_POSTED = "You have already posted this review here. Thank you!"

PHOTO_NOT_STORED = (
    "Your photo could not be stored just now, so the review was not saved. "
    "Please try again in a moment; you will need to choose the photo again."
)


# Pages: browsers keep them but ask again each time (a 304 when nothing changed); shared caches
# never keep them, as they carry the visitor's CSRF token.
revalidate = cache_control(private=True, no_cache=True)


@require_safe
@caching.canonical_query("q", "cuisine", "price", "rating", "sort", "page")
@revalidate
@condition(etag_func=caching.home_etag)
def index(request: HttpRequest) -> HttpResponse:
    key = caching.home_key(request)
    # The form (its choices copied for each instance) only when the cached parts are drawn.
    browse: Any = SimpleLazyObject(lambda: BrowseForm(request.GET))

    def restaurants_page() -> Page:
        chosen = browse.cleaned_data
        listed = (
            Restaurant.objects.with_rating_stats()
            .with_cover_photo()
            .filtered(
                cuisine=chosen.get("cuisine", ""),
                price_level=chosen.get("price"),
                min_rating=chosen.get("rating"),
            )
        )
        query = chosen.get("q", "")
        found = listed.search(query).sorted_by(browse.sort_order)
        page = Paginator(found, RESTAURANTS_PER_PAGE).get_page(request.GET.get("page"))
        if query and not page.paginator.count:
            # Nothing has every word: the closest spellings instead ("pizzria"), said so.
            close = Paginator(listed.similar(query), RESTAURANTS_PER_PAGE)
            try:
                page = close.get_page(request.GET.get("page"))
            except DatabaseError as exc:  # PostgreSQL without pg_trgm: no similarity
                logger.warning("Search by similar spelling unavailable: %s", exc)
                return page
            page.closest = True  # type: ignore[attr-defined]
        return page

    context = {
        # Queried only if the cached parts are missing (restaurant_review.caching).
        "page": SimpleLazyObject(restaurants_page),
        "browse": browse,
        # For the title, outside the cached parts: the search as typed, without the form.
        "query": BrowseForm.typed_query(request.GET),
        "title": BrowseForm.title_for(request.GET),
        **caching.fragment_context(key),
    }
    response = caching.render_page(request, key, "restaurant_review/index.html", context)
    return caching.set_etag(response, request, key)


def _restaurant_page_queryset() -> QuerySet[Restaurant]:
    return Restaurant.objects.with_rating_stats().with_rating_distribution().with_photo_count()


def _photos(pk: int) -> QuerySet[Review]:
    """The restaurant's review photos that pages show, newest first."""
    return Review.objects.visible().filter(restaurant=pk).exclude(photo="")


def _render_details(
    request: HttpRequest,
    pk: int,
    *,
    form: ReviewForm | None = None,
    status: int = HTTPStatus.OK,
) -> HttpResponse:
    """The restaurant page. Its parts that are the same for everyone are cached, and what
    they show is queried only when they are missing. `form`: a bound review form, with its
    errors; without one the page draws the empty form, which is cached too."""
    key = caching.details_key(request, pk)
    if key is None:
        raise Http404("No such restaurant.")

    def the_restaurant() -> Restaurant:
        return get_object_or_404(_restaurant_page_queryset(), pk=pk)

    # Only when the cached parts are drawn, as on the home page.
    reviews_form: Any = SimpleLazyObject(lambda: ReviewsForm(request.GET))

    staff_view = bool(request.user.is_authenticated and request.user.is_staff)

    def reviews_page() -> Page:
        # Staff see the hidden ones too, marked, where they would be (their own page).
        shown = Review.objects.all() if staff_view else Review.objects.visible()
        reviews = reviews_form.reviews(shown.filter(restaurant=pk))
        return Paginator(reviews, REVIEWS_PER_PAGE).get_page(request.GET.get("page"))

    context = {
        "restaurant_pk": pk,
        "restaurant": SimpleLazyObject(the_restaurant),
        "page": SimpleLazyObject(reviews_page),
        "reviews_form": reviews_form,
        "strip_photos": SimpleLazyObject(lambda: list(_photos(pk)[:STRIP_PHOTOS])),
        "form": form,
        "empty_form": SimpleLazyObject(ReviewForm),
        # Staff see an "Edit this review" link and the hidden reviews: their own variant of
        # the cached parts.
        "staff_view": staff_view,
        **caching.fragment_context(key),
    }
    if form is not None:  # a post's errors: this visitor's own page
        response = render(request, "restaurant_review/details.html", context, status=status)
    else:
        response = caching.render_page(request, key, "restaurant_review/details.html", context)
    return caching.set_etag(response, request, key)


@require_safe
@caching.canonical_query("order", "stars", "page")
@revalidate
@condition(etag_func=caching.details_etag)
def details(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_details(request, pk)


@require_safe
@caching.canonical_query("page")
@revalidate
@condition(etag_func=caching.details_etag)
def photos(request: HttpRequest, pk: int) -> HttpResponse:
    """All of a restaurant's review photos, a page at a time (cached as its page is)."""
    key = caching.details_key(request, pk)
    if key is None:
        raise Http404("No such restaurant.")

    def photos_page() -> Page:
        return Paginator(_photos(pk), GALLERY_PHOTOS_PER_PAGE).get_page(request.GET.get("page"))

    context = {
        "restaurant": SimpleLazyObject(lambda: get_object_or_404(Restaurant, pk=pk)),
        "page": SimpleLazyObject(photos_page),
        **caching.fragment_context(key),
    }
    response = caching.render_page(request, key, "restaurant_review/photos.html", context)
    return caching.set_etag(response, request, key)


@require_safe
@caching.canonical_query()
@revalidate
@condition(etag_func=caching.details_etag)
def photo(request: HttpRequest, pk: int, review_pk: int) -> HttpResponse:
    """One review's photo on a page of the site: at a size that fits, whose review it is, the
    previous and next photo of the restaurant (newest first, as in its gallery), and the way
    back. Cached as the restaurant's other pages are."""
    key = caching.details_key(request, pk)
    if key is None:
        raise Http404("No such restaurant.")

    def the_photo() -> Review:
        review = get_object_or_404(_photos(pk).select_related("restaurant"), pk=review_pk)
        newer = _photos(pk).filter(
            Q(created_at__gt=review.created_at) | Q(created_at=review.created_at, pk__gt=review.pk)
        )
        older = _photos(pk).filter(
            Q(created_at__lt=review.created_at) | Q(created_at=review.created_at, pk__lt=review.pk)
        )
        review.newer = newer.order_by("created_at", "pk").first()  # type: ignore[attr-defined]
        review.older = older.first()  # type: ignore[attr-defined]
        return review

    photo_key = f"{key}.{review_pk}"  # as details_etag makes it for this page
    context = {"review": SimpleLazyObject(the_photo), **caching.fragment_context(photo_key)}
    response = caching.render_page(request, photo_key, "restaurant_review/photo.html", context)
    return caching.set_etag(response, request, photo_key)


def _too_many_posts(request: HttpRequest, exceeded: limits.LimitExceeded) -> HttpResponse:
    """429 in the site's layout: what the limit is and when posting works again."""
    minutes = max(1, round(exceeded.retry_after / 60))
    context = {
        "exceeded": exceeded,
        "wait": f"{minutes} minute{'s' if minutes != 1 else ''}"
        if minutes < 120
        else f"{round(minutes / 60)} hours",
    }
    response = render(request, "429_posting.html", context, status=HTTPStatus.TOO_MANY_REQUESTS)
    response["Retry-After"] = str(exceeded.retry_after)
    log_response(
        "Posting limit reached: %s on %s",
        str(exceeded),
        request.path,
        response=response,
        request=request,
        logger=logger,
        level="warning",
    )
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def create_restaurant(request: HttpRequest) -> HttpResponse:
    form = RestaurantForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            existing = form.existing_restaurant()
            if existing is not None:
                # Listed already: the visitor goes to it (and can review it there).
                messages.info(request, f"“{existing.name}” is already listed: here it is.")
                return redirect(existing)
            try:
                limits.take(request, (limits.RESTAURANTS, 1))
            except limits.LimitExceeded as exceeded:
                return _too_many_posts(request, exceeded)
            restaurant = form.save()
            messages.success(request, f"Restaurant “{restaurant.name}” was added.")
            return redirect(restaurant)
        status = HTTPStatus.BAD_REQUEST
    else:
        status = HTTPStatus.OK
    return render(
        request, "restaurant_review/create_restaurant.html", {"form": form}, status=status
    )


UPLOAD_IN_PROGRESS = (
    "Your previous photo is still being processed, so this review was not saved yet. "
    "Please send it again in a moment; you will need to choose the photo again."
)


@require_POST
def add_review(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.FILES.get("photo"):
        return _add_review(request, pk)
    with limits.one_upload_at_a_time(request) as allowed:
        if allowed:
            return _add_review(request, pk)
    # Another upload of this visitor's is being decoded: theirs waits, not everyone's.
    restaurant = get_object_or_404(Restaurant, pk=pk)
    form = ReviewForm(request.POST, instance=Review(restaurant=restaurant))
    form.is_valid()
    form.add_error(None, UPLOAD_IN_PROGRESS)
    why = "the visitor's previous upload is in progress"
    return _send_again_soon(request, pk, form, HTTPStatus.TOO_MANY_REQUESTS, why=why)


def _send_again_soon(
    request: HttpRequest, pk: int, form: ReviewForm, status: int, *, why: str
) -> HttpResponse:
    """The form back, with what was typed, and Retry-After: a moment's load, not a fault, so
    one WARNING line (which Django's request logger then leaves alone; it would log any 5xx
    at ERROR)."""
    response = _render_details(request, pk, form=form, status=status)
    response["Retry-After"] = "5"
    log_response(
        "Review for restaurant %s not saved: %s",
        pk,
        why,
        response=response,
        request=request,
        logger=logger,
        level="warning",
    )
    return response


def _add_review(request: HttpRequest, pk: int) -> HttpResponse:
    # The restaurant alone: its rating stats are drawn (from the cache, or queried then) only
    # if the form comes back with errors.
    restaurant = get_object_or_404(Restaurant, pk=pk)
    try:
        # Before the photo is decoded: a post over the limit costs no CPU; and the decoding
        # itself counts, valid form or not (one visitor's invalid uploads had kept a decoder
        # busy without end).
        limits.check(request, limits.REVIEWS)
        if request.FILES.get("photo"):
            limits.take(request, (limits.PHOTOS_CHECKED, 1))
    except limits.LimitExceeded as exceeded:
        return _too_many_posts(request, exceeded)
    form = ReviewForm(request.POST, request.FILES, instance=Review(restaurant=restaurant))
    if not form.is_valid():
        if form.has_error("photo", code="busy"):
            # Other uploads hold the photo decoder.
            return _send_again_soon(
                request, pk, form, HTTPStatus.SERVICE_UNAVAILABLE, why="photo decoder busy"
            )
        return _render_details(request, pk, form=form, status=HTTPStatus.BAD_REQUEST)
    text = form.cleaned_data["review_text"]
    if limits.already_posted(request, pk, text):
        form.add_error("review_text", ALREADY_POSTED)
        return _render_details(request, pk, form=form, status=HTTPStatus.BAD_REQUEST)
    try:
        limits.take(request, (limits.REVIEWS, 1), (limits.PHOTO_BYTES, form.stored_photo_bytes()))
    except limits.LimitExceeded as exceeded:
        return _too_many_posts(request, exceeded)
    try:
        form.save()
    except OSError as exc:
        logger.error("Review for restaurant %s not saved: photo storage failed: %s", pk, exc)
        form.add_error("photo", PHOTO_NOT_STORED)
        return _render_details(request, pk, form=form, status=HTTPStatus.SERVICE_UNAVAILABLE)
    limits.remember_posted(request, pk, text)
    logger.info("Review %s posted for restaurant %s", form.instance.pk, pk)
    # Straight to the new review, with the thanks right above it (not at the top of the page,
    # out of sight). Location's own fragment: a browser would otherwise keep the form's.
    messages.success(request, "Thank you! Your review was posted.", extra_tags=AT_REVIEWS)
    return redirect(f"{restaurant.get_absolute_url()}#review-{form.instance.pk}")


ALREADY_REPORTED = "You have reported this review already. Thank you: a moderator will look at it."


@require_http_methods(["GET", "HEAD", "POST"])
def report_review(request: HttpRequest, pk: int) -> HttpResponse:
    """A visitor reports a review (a short reason) for the moderators' queue in the admin."""
    review = get_object_or_404(Review.objects.visible().select_related("restaurant"), pk=pk)
    form = ReportForm(request.POST or None)
    status = HTTPStatus.OK
    if request.method == "POST":
        if form.is_valid():
            if limits.already_reported(request, review.pk):
                messages.info(request, ALREADY_REPORTED)
                return redirect(review.restaurant)
            try:
                limits.take(request, (limits.REPORTS, 1))
            except limits.LimitExceeded as exceeded:
                return _too_many_posts(request, exceeded)
            report = form.save(commit=False)
            report.review = review
            report.save()
            limits.remember_reported(request, review.pk)
            logger.info("Review %s reported: %s", review.pk, report.reason)
            messages.success(request, "Thank you: a moderator will look at this review.")
            return redirect(review.restaurant)
        status = HTTPStatus.BAD_REQUEST
    context = {"form": form, "review": review}
    return render(request, "restaurant_review/report_review.html", context, status=status)
