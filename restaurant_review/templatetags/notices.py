"""{{ messages|placed:"reviews" }}: the messages a page shows at one place.

A message added with `extra_tags=AT_REVIEWS` belongs beside the reviews (the confirmation of a
review just posted, shown right above it); every other message is shown at the top of the page
(`placed:""`)."""

from collections.abc import Iterable

from django import template
from django.contrib.messages.storage.base import Message

register = template.Library()

AT_REVIEWS = "at-reviews"
PLACES = {"reviews": AT_REVIEWS}


@register.filter
def placed(messages: Iterable[Message], place: str) -> list[Message]:
    """The messages shown at `place` ("" for the top of the page)."""

    def place_of(message: Message) -> str:
        tags = set(message.extra_tags.split())
        return next((name for name, tag in PLACES.items() if tag in tags), "")

    return [message for message in messages if place_of(message) == place]
