"""{% link "app:name" %}: Django's {% url %} for the site's fixed links (no arguments),
worked out once per process rather than on every page (the header and footer have five)."""

from functools import lru_cache

from django import template
from django.urls import get_script_prefix, reverse

register = template.Library()


# A few names under the one script prefix a deployment has; bounded all the same.
@lru_cache(maxsize=64)
def _link(name: str, script_prefix: str) -> str:
    return reverse(name)


@register.simple_tag
def link(name: str) -> str:
    return _link(name, get_script_prefix())
