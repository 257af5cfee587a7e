import logging
from http import HTTPStatus

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from restaurant_review.forms import RestaurantForm, ReviewForm, SearchForm
from restaurant_review.models import Restaurant, Review

logger = logging.getLogger(__name__)

# 24 cards fill every row at 1, 2, 3 or 4 columns.
RESTAURANTS_PER_PAGE = 24
REVIEWS_PER_PAGE = 10

PHOTO_NOT_STORED = (
    "Your photo could not be stored just now, so the review was not saved. "
    "Please try again in a moment; you will need to choose the photo again."
)


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    search_form = SearchForm(request.GET)
    query = search_form.cleaned_data["q"] if search_form.is_valid() else ""
    restaurants = Restaurant.objects.with_rating_stats().with_cover_photo().search(query)
    page = Paginator(restaurants, RESTAURANTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "search_form": search_form, "query": query}
    return render(request, "restaurant_review/index.html", context)


def _restaurant_page_queryset() -> QuerySet[Restaurant]:
    return Restaurant.objects.with_rating_stats().with_rating_distribution()


def _render_details(
    request: HttpRequest, restaurant: Restaurant, form: ReviewForm, *, status: int = HTTPStatus.OK
) -> HttpResponse:
    reviews = restaurant.reviews.all()
    page = Paginator(reviews, REVIEWS_PER_PAGE).get_page(request.GET.get("page"))
    page_photos = [review for review in page.object_list if review.photo]
    context = {"restaurant": restaurant, "page": page, "page_photos": page_photos, "form": form}
    return render(request, "restaurant_review/details.html", context, status=status)


@require_safe
def details(request: HttpRequest, pk: int) -> HttpResponse:
    restaurant = get_object_or_404(_restaurant_page_queryset(), pk=pk)
    return _render_details(request, restaurant, ReviewForm(instance=Review(restaurant=restaurant)))


@require_http_methods(["GET", "HEAD", "POST"])
def create_restaurant(request: HttpRequest) -> HttpResponse:
    form = RestaurantForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            restaurant = form.save()
            messages.success(request, f"Restaurant “{restaurant.name}” was added.")
            return redirect(restaurant)
        status = HTTPStatus.BAD_REQUEST
    else:
        status = HTTPStatus.OK
    return render(
        request, "restaurant_review/create_restaurant.html", {"form": form}, status=status
    )


@require_POST
def add_review(request: HttpRequest, pk: int) -> HttpResponse:
    restaurant = get_object_or_404(_restaurant_page_queryset(), pk=pk)
    form = ReviewForm(request.POST, request.FILES, instance=Review(restaurant=restaurant))
    if not form.is_valid():
        if form.has_error("photo", code="busy"):
            # Other uploads hold the photo decoder: the form comes back with what was typed.
            logger.warning("Review for restaurant %s not saved: photo decoder busy", pk)
            response = _render_details(
                request, restaurant, form, status=HTTPStatus.SERVICE_UNAVAILABLE
            )
            response["Retry-After"] = "5"
            return response
        return _render_details(request, restaurant, form, status=HTTPStatus.BAD_REQUEST)
    try:
        form.save()
    except OSError as exc:
        logger.error("Review for restaurant %s not saved: photo storage failed: %s", pk, exc)
        form.add_error("photo", PHOTO_NOT_STORED)
        return _render_details(request, restaurant, form, status=HTTPStatus.SERVICE_UNAVAILABLE)
    messages.success(request, "Thank you! Your review was posted.")
    return redirect(restaurant)
