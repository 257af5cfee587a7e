"""{{ page|page_numbers }}: the page numbers a pager shows, elided in the middle
("1 … 4 5 6 … 12"), with Paginator.ELLIPSIS where numbers are left out."""

from collections.abc import Iterator

from django import template
from django.core.paginator import Page

register = template.Library()


@register.filter
def page_numbers(page: Page) -> Iterator[str | int]:
    return page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)
