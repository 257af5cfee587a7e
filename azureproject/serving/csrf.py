"""CSRF secrets and masks drawn with one read of the system's random source.

Django draws each of the 32 characters of a CSRF secret, and of the mask every page's token is
made with, by its own `secrets.choice()`: an `os.urandom()` call apiece, 73 µs a string. A new
visitor's token takes two strings and a returning visitor's one, so a restaurant page served
from the cache spent a tenth of its time there. `random_string` draws the same characters from
one read, as unpredictable and as evenly spread: bytes that would favour some characters are
dropped, not folded in. Only Django's CSRF module is given it (`install`, from the app's
`ready()`); the token's format, masking and checks stay Django's own.
"""

import secrets

from django.middleware import csrf
from django.utils.crypto import RANDOM_STRING_CHARS, get_random_string


def random_string(length: int, allowed_chars: str = RANDOM_STRING_CHARS) -> str:
    """What `django.utils.crypto.get_random_string` returns, drawn in one read."""
    count = len(allowed_chars)
    if not 0 < count <= 256:
        return get_random_string(length, allowed_chars)
    # A byte at or above the largest multiple of `count` would make the first characters
    # likelier than the rest: such bytes are drawn again instead.
    limit = 256 - 256 % count
    drawn: list[str] = []
    while len(drawn) < length:
        batch = secrets.token_bytes(length - len(drawn) + 8)
        drawn += [allowed_chars[byte % count] for byte in batch if byte < limit]
    return "".join(drawn[:length])


def install() -> None:
    """Django's CSRF module draws its secrets and masks with `random_string`."""
    # The module's own import of get_random_string, which django-stubs does not declare.
    csrf.get_random_string = random_string  # type: ignore[attr-defined]
