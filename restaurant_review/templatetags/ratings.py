"""{% stars rating count %}: a star rating with its number as text for screen readers.

A tag in Python rather than an include with a loop and floatformat: it is drawn for every
restaurant on the home page, and that was most of the page's rendering time.
"""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from restaurant_review.models import RATING_MAX

register = template.Library()


@register.filter
def rating(value: float) -> str:
    """A rating as people read it: one decimal, halves rounded up, none for whole numbers
    (3.25 reads "3.3", 4.0 reads "4")."""
    rounded = Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return str(rounded).removesuffix(".0")


@register.simple_tag
def stars(value: float | None, count: int | None = None, *, number: bool = True) -> SafeString:
    """Stars for a rating `value`, with the number unless `number` is off (screen readers
    always get it), and `count` reviews if given; with no rating, "No reviews yet" once,
    however many reviews that makes."""
    if value is None:
        return mark_safe('<span class="stars stars-none">No reviews yet</span>')
    text = rating(value)
    # Drawn to the nearest half star: outlines, with as many halves filled in over them
    # (static/css/site.css clips the filled row by the class).
    halves = int((Decimal(text) * 2).to_integral_value(rounding=ROUND_HALF_UP))
    html = format_html(
        '<span class="stars" title="{text} out of {best}">'
        '<span class="stars-drawn stars-{halves}" aria-hidden="true">{outline}</span>'
        '<span class="visually-hidden">Rated {text} out of {best}</span>{shown}</span>',
        text=text,
        best=RATING_MAX,
        halves=halves,
        outline="☆" * RATING_MAX,
        shown=format_html('<span class="stars-number" aria-hidden="true">{}</span>', text)
        if number
        else "",
    )
    if count is not None:
        html += format_html(
            '<span class="review-count">{} review{}</span>', count, "" if count == 1 else "s"
        )
    return html
