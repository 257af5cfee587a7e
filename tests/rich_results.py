"""What schema.org and Google's rich results expect of a restaurant's JSON-LD, as a checker the
tests run on the page's own data: each problem as a sentence, none when the data would show
as a rich result (a local business with its rating, reviews and opening hours).

From schema.org's vocabulary: the types used and which properties each may carry (Restaurant
inherits FoodEstablishment's, LocalBusiness's, Organization's, Place's and Thing's). From
Google's structured-data guidelines for local businesses and review snippets: name and address
required; a rating's value within its best and worst; a count with an aggregate rating; each
review's author as a Person with a name, and its rating; hours as OpeningHoursSpecification
with a schema.org day and times as hh:mm; absolute URLs for url and image.
"""

import re
from typing import Any
from urllib.parse import urlsplit

DAYS = {
    f"https://schema.org/{day}"
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
}
# schema.org properties each type may carry (those a restaurant page has any use for).
PROPERTIES = {
    "Restaurant": {
        "@context", "@type", "name", "url", "image", "address", "telephone", "servesCuisine",
        "priceRange", "aggregateRating", "review", "openingHoursSpecification", "description",
        "menu", "acceptsReservations", "geo",
    },
    "PostalAddress": {
        "@type", "streetAddress", "addressLocality", "addressRegion", "postalCode",
        "addressCountry",
    },
    "AggregateRating": {"@type", "ratingValue", "bestRating", "worstRating", "reviewCount",
                        "ratingCount"},
    "Rating": {"@type", "ratingValue", "bestRating", "worstRating"},
    "Review": {"@type", "author", "datePublished", "reviewBody", "reviewRating", "name"},
    "Person": {"@type", "name"},
    "OpeningHoursSpecification": {"@type", "dayOfWeek", "opens", "closes", "validFrom",
                                  "validThrough"},
}  # fmt: skip
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _absolute(url: Any) -> bool:
    parts = urlsplit(str(url))
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _typed(value: Any, expected: str, where: str, problems: list[str]) -> bool:
    if not isinstance(value, dict) or value.get("@type") != expected:
        problems.append(f"{where}: not a {expected}")
        return False
    unknown = set(value) - PROPERTIES[expected]
    if unknown:
        problems.append(f"{where}: {expected} has no properties {sorted(unknown)}")
    return True


def _rating(value: Any, expected: str, where: str, problems: list[str]) -> None:
    if not _typed(value, expected, where, problems):
        return
    best, worst = float(value.get("bestRating", 5)), float(value.get("worstRating", 1))
    try:
        rating = float(value["ratingValue"])
    except (KeyError, TypeError, ValueError):
        problems.append(f"{where}: ratingValue missing or not a number")
        return
    if not worst <= rating <= best:
        problems.append(f"{where}: ratingValue {rating} outside {worst}..{best}")


def problems(data: dict[str, Any]) -> list[str]:
    """What keeps `data` (a page's JSON-LD) from being a valid restaurant rich result."""
    found: list[str] = []
    if data.get("@context") not in {"https://schema.org", "http://schema.org"}:
        found.append("@context is not schema.org")
    if not _typed(data, "Restaurant", "top", found):
        return found
    if not str(data.get("name", "")).strip():
        found.append("name missing")
    if _typed(data.get("address"), "PostalAddress", "address", found):
        if not str(data["address"].get("streetAddress", "")).strip():
            found.append("address: streetAddress missing")
    for key in ("url", "image"):
        if key in data and not _absolute(data[key]):
            found.append(f"{key} is not an absolute URL: {data[key]!r}")
    if "aggregateRating" in data:
        aggregate = data["aggregateRating"]
        _rating(aggregate, "AggregateRating", "aggregateRating", found)
        counts = [aggregate.get(key) for key in ("reviewCount", "ratingCount")]
        if not any(isinstance(count, int) and count > 0 for count in counts):
            found.append("aggregateRating: no positive reviewCount or ratingCount")
    for index, review in enumerate(data.get("review", [])):
        where = f"review[{index}]"
        if not _typed(review, "Review", where, found):
            continue
        author = review.get("author")
        if _typed(author, "Person", f"{where}.author", found) and not author.get("name"):
            found.append(f"{where}.author: name missing")
        _rating(review.get("reviewRating"), "Rating", f"{where}.reviewRating", found)
        if "datePublished" in review and not _DATE.match(str(review["datePublished"])):
            found.append(f"{where}.datePublished is not a date: {review['datePublished']!r}")
    for index, spec in enumerate(data.get("openingHoursSpecification", [])):
        where = f"openingHoursSpecification[{index}]"
        if not _typed(spec, "OpeningHoursSpecification", where, found):
            continue
        if spec.get("dayOfWeek") not in DAYS:
            found.append(f"{where}.dayOfWeek is not a schema.org day: {spec.get('dayOfWeek')!r}")
        for key in ("opens", "closes"):
            if not _TIME.match(str(spec.get(key, ""))):
                found.append(f"{where}.{key} is not hh:mm: {spec.get(key)!r}")
    return found
