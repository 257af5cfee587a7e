"""{% review_photo review alt=... sizes=... %}: a review's photo as a responsive <img>.

The browser picks a rendition from srcset for the space `sizes` says the image takes, and the
width and height of the middle one reserve the space before it loads (no layout shift). Photos
stored before renditions existed fall back to the full photo.
"""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from restaurant_review.models import Review

register = template.Library()


@register.simple_tag
def review_photo(review: Review, *, alt: str, sizes: str, eager: bool = False) -> SafeString:
    loading = "eager" if eager else "lazy"
    renditions = review.photo_renditions()
    if not renditions:
        return format_html(
            '<img src="{}" alt="{}" loading="{}" decoding="async">', review.photo.url, alt, loading
        )
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
        loading=loading,
        priority=mark_safe(' fetchpriority="high"') if eager else "",
    )
