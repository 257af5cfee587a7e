"""Text that people see as it is: visible characters, and no invisible formatting.

A name made only of zero-width spaces shows as an invisible, unclickable entry, and bidi
controls make "evil\\u202egnp.exe" display as "evilexe.png". Unicode's format characters
(category Cf: zero-width spaces, bidi controls, ...) and control characters (Cc) are refused,
except the zero-width joiner that emoji sequences need; and there must be something to see.
"""

import unicodedata

from django.core.exceptions import ValidationError

ZERO_WIDTH_JOINER = "\u200d"
VISIBLE_CATEGORIES = ("L", "N", "P", "S")  # letters, numbers, punctuation, symbols


def validate_visible_text(value: str) -> None:
    hidden = sorted(
        {
            char
            for char in value
            if unicodedata.category(char) in {"Cf", "Cc"} and char != ZERO_WIDTH_JOINER
        }
    )
    if hidden:
        codes = ", ".join(f"U+{ord(char):04X}" for char in hidden)
        raise ValidationError(
            f"Remove the invisible formatting characters ({codes}): they change how the text "
            "is shown.",
            code="invisible_characters",
        )
    if not any(unicodedata.category(char).startswith(VISIBLE_CATEGORIES) for char in value):
        raise ValidationError("Enter visible letters or numbers.", code="nothing_visible")
