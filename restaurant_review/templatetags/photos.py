"""Photos as responsive <img> elements.

{% review_photo review alt=... sizes=... %} and {% cover_photo restaurant alt=... sizes=... %}:
the browser picks a rendition from srcset for the space `sizes` says the image takes, and the
width and height of the middle one reserve the space before it loads (no layout shift). Photos
stored before renditions existed fall back to the full photo; a restaurant without a photo
gets a drawn placeholder.
"""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from restaurant_review.models import Restaurant, Review
from restaurant_review.photo_storage import PhotoRendition

register = template.Library()


def responsive_img(
    renditions: list[PhotoRendition], *, alt: str, sizes: str, eager: bool
) -> SafeString:
    middle = renditions[len(renditions) // 2]
    return format_html(
        '<img src="{src}" srcset="{srcset}" sizes="{sizes}" width="{width}" height="{height}" '
        'alt="{alt}" loading="{loading}" decoding="async"{priority}>',
        src=middle.url,
        srcset=format_html_join(", ", "{} {}w", ((r.url, r.width) for r in renditions)),
        sizes=sizes,
        width=middle.width,
        height=middle.height,
        alt=alt,
        loading="eager" if eager else "lazy",
        priority=mark_safe(' fetchpriority="high"') if eager else "",
    )


@register.simple_tag
def review_photo(review: Review, *, alt: str, sizes: str, eager: bool = False) -> SafeString:
    renditions = review.photo_renditions()
    if not renditions:
        return format_html(
            '<img src="{}" alt="{}" loading="{}" decoding="async">',
            review.photo.url,
            alt,
            "eager" if eager else "lazy",
        )
    return responsive_img(renditions, alt=alt, sizes=sizes, eager=eager)


@register.simple_tag
def cover_photo(restaurant: Restaurant, *, sizes: str, eager: bool = False) -> SafeString:
    renditions = restaurant.cover_renditions()
    if not renditions:
        return mark_safe('<span class="cover-placeholder" aria-hidden="true"></span>')
    # Decorative: the card's heading names the restaurant.
    return responsive_img(renditions, alt="", sizes=sizes, eager=eager)
