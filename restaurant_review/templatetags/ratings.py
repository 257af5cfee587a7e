"""{% stars rating count %}: a star rating with its number as text for screen readers.

A tag in Python rather than an include with a loop and floatformat: it is drawn for every
restaurant on the home page, and that was most of the page's rendering time.
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from restaurant_review.models import RATING_MAX

register = template.Library()


@register.simple_tag
def stars(rating: float | None, count: int | None = None) -> SafeString:
    if rating is None:
        html = mark_safe('<span class="stars stars-none">No reviews yet</span>')
    else:
        value = f"{float(rating):.1f}"
        full = int(float(rating) + 0.5)
        html = format_html(
            '<span class="stars" title="{value} out of {best}">'
            '<span aria-hidden="true">{drawn}</span>'
            '<span class="visually-hidden">Rated {value} out of {best}</span>'
            '<span class="stars-number" aria-hidden="true">{value}</span></span>',
            value=value,
            best=RATING_MAX,
            drawn="★" * full + "☆" * (RATING_MAX - full),
        )
    if count is not None:
        html += format_html(
            '<span class="review-count">{} review{}</span>', count, "" if count == 1 else "s"
        )
    return html
