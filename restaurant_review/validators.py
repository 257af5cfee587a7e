"""Text that people see as it is: visible characters, and no invisible formatting.

A name made only of zero-width spaces shows as an invisible, unclickable entry, and bidi
controls make "evil\\u202egnp.exe" display as "evilexe.png". Unicode's format characters
(category Cf: zero-width spaces, bidi controls, ...) and control characters (Cc) are refused,
except the zero-width joiner that emoji sequences need; and there must be something to see:
fillers that count as letters but draw nothing (the Hangul fillers, the blank braille
pattern) are not, and a letter may carry a few combining marks (Vietnamese stacks two), not
the dozens that make it spill over the lines around it. Longer text (descriptions, reviews)
may hold line breaks and tabs, but no format or control characters either.
"""

import unicodedata

from django.core.exceptions import ValidationError

ZERO_WIDTH_JOINER = "\u200d"
VISIBLE_CATEGORIES = ("L", "N", "P", "S")  # letters, numbers, punctuation, symbols
# Letters and symbols by category that nothing is drawn for.
BLANKS = frozenset("\u115f\u1160\u2800\u3164\uffa0")
MAX_COMBINING_MARKS = 4  # on one character, after NFC composition
LINE_BREAKS = frozenset("\n\r\t")


def _refuse_hidden(value: str, *, allowed: frozenset[str] = frozenset()) -> None:
    hidden = sorted(
        {
            char
            for char in value
            if unicodedata.category(char) in {"Cf", "Cc"}
            and char != ZERO_WIDTH_JOINER
            and char not in allowed
        }
    )
    if hidden:
        codes = ", ".join(f"U+{ord(char):04X}" for char in hidden)
        raise ValidationError(
            f"Remove the invisible formatting characters ({codes}): they change how the text "
            "is shown.",
            code="invisible_characters",
        )


def _longest_mark_run(value: str) -> int:
    longest = run = 0
    for char in unicodedata.normalize("NFC", value):
        run = run + 1 if unicodedata.category(char) in {"Mn", "Me"} else 0
        longest = max(longest, run)
    return longest


def validate_visible_text(value: str) -> None:
    """For names and addresses: one line that shows what it says."""
    _refuse_hidden(value)
    if not any(
        unicodedata.category(char).startswith(VISIBLE_CATEGORIES) and char not in BLANKS
        for char in value
    ):
        raise ValidationError("Enter visible letters or numbers.", code="nothing_visible")
    if _longest_mark_run(value) > MAX_COMBINING_MARKS:
        raise ValidationError(
            f"Use at most {MAX_COMBINING_MARKS} accents on one letter.", code="too_many_marks"
        )


def validate_plain_text(value: str) -> None:
    """For descriptions and reviews: line breaks and tabs, but no invisible formatting."""
    _refuse_hidden(value, allowed=LINE_BREAKS)
    if _longest_mark_run(value) > MAX_COMBINING_MARKS:
        raise ValidationError(
            f"Use at most {MAX_COMBINING_MARKS} accents on one letter.", code="too_many_marks"
        )


PHONE_CHARACTERS = frozenset("0123456789 +-().")
PHONE_DIGITS = (7, 15)  # the shortest local numbers; E.164's longest


def validate_phone(value: str) -> None:
    """A phone number as people write it: digits, spaces and + - ( ) ., a leading + only."""
    digits = sum(char.isdigit() for char in value)
    if (
        not set(value) <= PHONE_CHARACTERS
        or "+" in value[1:]
        or not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]
    ):
        raise ValidationError(
            "Enter a phone number of 7 to 15 digits, like +1 206 555 0143 or (206) 555-0143.",
            code="invalid_phone",
        )


def phone_link(value: str) -> str:
    """A `tel:` link for a phone number validate_phone accepts: its digits, + kept."""
    return "tel:" + "".join(char for char in value if char.isdigit() or char == "+")
