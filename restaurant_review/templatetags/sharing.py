"""What a page says of itself to search engines and to apps a link is shared in: its absolute
address (`{% absolute %}`), and a restaurant as schema.org's Restaurant in JSON-LD
(`{% restaurant_json_ld %}`), with the same rating the page shows."""

import json
from typing import Any

from django import template
from django.core.exceptions import DisallowedHost
from django.core.paginator import Page
from django.utils.html import format_html
from django.utils.safestring import SafeString

from restaurant_review.hours import opening_hours_specification
from restaurant_review.models import RATING_MAX, RATING_MIN, Restaurant
from restaurant_review.templatetags.ratings import rating

register = template.Library()


@register.simple_tag(takes_context=True)
def absolute(context: Any, url: str = "") -> str:
    """`url` as an absolute address on this site (as it is, if it is one already); the page's
    own address without an argument. A page drawn without a request (an error page drawn
    before one was read) keeps `url` as given."""
    request = context.get("request")
    try:
        return request.build_absolute_uri(url or request.get_full_path()) if request else url
    except DisallowedHost:  # the error page for a Host the site does not answer to
        return url


def _rating(value: Any) -> dict[str, Any]:
    return {
        "@type": "Rating",
        "ratingValue": value,
        "bestRating": RATING_MAX,
        "worstRating": RATING_MIN,
    }


@register.simple_tag(takes_context=True)
def restaurant_json_ld(
    context: Any, restaurant: Restaurant, page: Page, image: str = ""
) -> SafeString:
    """A <script type="application/ld+json"> describing `restaurant` and the visible reviews
    on this `page` of them (Google's rich results for a restaurant: name and address; for its
    rating, ratingValue and reviewCount; for each review, its author and rating), with its
    cuisine, price range, telephone, image and opening hours where known."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Restaurant",
        "name": restaurant.name,
        "url": absolute(context, restaurant.get_absolute_url()),
        "address": {"@type": "PostalAddress", "streetAddress": restaurant.street_address},
    }
    if restaurant.cuisine:
        data["servesCuisine"] = restaurant.get_cuisine_display()
    if restaurant.price_level:
        data["priceRange"] = restaurant.price_symbols()
    if restaurant.phone:
        data["telephone"] = restaurant.phone
    if image:
        data["image"] = absolute(context, image)
    opening = opening_hours_specification(restaurant.opening_hours)
    if opening:
        data["openingHoursSpecification"] = opening
    average = getattr(restaurant, "avg_rating", None)
    count = getattr(restaurant, "review_count", 0)
    if average is not None and count:
        data["aggregateRating"] = {
            **_rating(rating(average)),
            "@type": "AggregateRating",
            "reviewCount": count,
        }
    reviews = [review for review in page.object_list if not review.hidden]
    if reviews:
        data["review"] = [
            {
                "@type": "Review",
                "author": {"@type": "Person", "name": review.user_name},
                "datePublished": review.created_at.date().isoformat(),
                "reviewBody": review.review_text,
                "reviewRating": _rating(review.rating),
            }
            for review in reviews
        ]
    # "<" escaped, so no text in the data can close the script element.
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return format_html('<script type="application/ld+json">{}</script>', SafeString(text))
