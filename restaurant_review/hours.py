"""Opening hours: entered per day as diners write them ("11:30-14:30, 17:00-22:00", "9am to
5pm", "closed"), kept as one line per weekday, Monday first, each its ranges as "HH:MM-HH:MM"
separated by commas, empty for a day it is closed. No line at all (an empty text) means the
hours are not known, and the page says nothing of them.

A range that ends at or before it starts runs past midnight ("18:00-02:00"); "00:00" as an end
is midnight. Whether a restaurant is open is worked out in the site's time zone
(settings.TIME_ZONE), from the day's ranges and the previous day's that run past midnight.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MINUTES_A_DAY = 24 * 60
MAX_RANGES = 4

_CLOSED = {"", "closed", "-", "–", "—"}
_ALL_DAY = {"24h", "24 hours", "open 24 hours", "all day"}
_TIME = r"(\d{1,2})(?:[:.h](\d{2}))?\s*([ap]\.?m\.?)?"
_RANGE = re.compile(rf"^{_TIME}\s*(?:-|–|—|to|until)\s*{_TIME}$", re.IGNORECASE)
INVALID = 'Enter times like "11:30-22:00" or "9am-5pm", several separated by commas, or "closed".'

Range = tuple[int, int]  # minutes after midnight: opens, closes (closes <= opens: next day)


def _minutes(hour: str, minute: str | None, half: str | None) -> int:
    hours, minutes = int(hour), int(minute or 0)
    if half:
        if not 1 <= hours <= 12:
            raise ValidationError(INVALID, code="invalid")
        hours = hours % 12 + (12 if half.lower().startswith("p") else 0)
    if hours == 24 and minutes == 0:
        return MINUTES_A_DAY  # midnight at the end of the day (as a closing time)
    if hours > 23 or minutes > 59:
        raise ValidationError(INVALID, code="invalid")
    return hours * 60 + minutes


def parse_day(text: str) -> list[Range]:
    """The ranges of one day as typed; [] for a day it is closed. ValidationError with a
    message for the form when it cannot be read."""
    text = text.strip()
    if text.casefold() in _CLOSED:
        return []
    if text.casefold() in _ALL_DAY:
        return [(0, MINUTES_A_DAY)]
    ranges: list[Range] = []
    for part in text.split(","):
        matched = _RANGE.match(part.strip())
        if matched is None:
            raise ValidationError(INVALID, code="invalid")
        h1, m1, p1, h2, m2, p2 = matched.groups()
        closes = _minutes(h2, m2, p2)
        if p2 and not p1 and 1 <= int(h1) <= 12:
            # The half of the day said once, at the end: "6-11pm" opens at 6pm, "9-5pm" (it
            # would open after it closes) at 9am.
            opens = _minutes(h1, m1, p2)
            if opens > closes:
                opens = _minutes(h1, m1, "am" if p2.lower().startswith("p") else "pm")
        else:
            opens = _minutes(h1, m1, p1)
        opens %= MINUTES_A_DAY  # "24:00-02:00" opens at midnight
        closes = closes or MINUTES_A_DAY  # "18:00-00:00" closes at the end of the day
        if closes == opens:
            raise ValidationError("A range must not open and close at the same time.")
        ranges.append((opens, closes))
    if len(ranges) > MAX_RANGES:
        raise ValidationError(f"At most {MAX_RANGES} ranges a day.")
    return sorted(ranges)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _joined(ranges: list[Range], separator: str, dash: str) -> str:
    return separator.join(f"{_clock(opens)}{dash}{_clock(closes)}" for opens, closes in ranges)


def day_text(ranges: list[Range]) -> str:
    """One day's line as stored: "11:30-14:30,17:00-22:00"; "" when closed."""
    return _joined(ranges, ",", "-")


def editable(ranges: list[Range]) -> str:
    """One day as the forms show it for editing (parse_day reads it back): "closed" when it
    is."""
    return _joined(ranges, ", ", "-") or "closed"


def week_text(days: list[list[Range]]) -> str:
    """The stored text for seven days' ranges; "" when no day has any (hours not known)."""
    if not any(days):
        return ""
    return "\n".join(day_text(ranges) for ranges in days)


def week(text: str) -> list[list[Range]]:
    """The seven days' ranges of a stored text (all empty when the hours are not known)."""
    lines = (text or "").split("\n")
    days: list[list[Range]] = []
    for index in range(len(DAYS)):
        line = lines[index] if index < len(lines) else ""
        days.append(
            [
                (int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:]))
                for a, b in (part.split("-") for part in line.split(",") if part)
            ]
        )
    return days


def shown(ranges: list[Range]) -> str:
    """One day as the page shows it: "11:30–14:30, 17:00–22:00" or "Closed"."""
    if not ranges:
        return "Closed"
    if ranges == [(0, MINUTES_A_DAY)]:
        return "Open 24 hours"
    return _joined(ranges, ", ", "–")


@dataclass(frozen=True)
class Status:
    open: bool
    # "Open now · until 22:00"; "Closed · opens 17:00", "… opens tomorrow 11:30", "… Fri 11:30"
    text: str


def _spans(days: list[list[Range]]) -> list[Range]:
    """Every range of the week as minutes from Monday 00:00, the week after appended so that
    a range past Sunday midnight, or the next opening after Sunday, is found."""
    spans: list[Range] = []
    for repeat in (0, 1):
        for index, ranges in enumerate(days):
            start_of_day = (repeat * 7 + index) * MINUTES_A_DAY
            for opens, closes in ranges:
                end = closes if closes > opens else closes + MINUTES_A_DAY
                spans.append((start_of_day + opens, start_of_day + end))
    return sorted(spans)


def status(text: str, now: datetime) -> Status | None:
    """Open or closed at `now` (a local time of the site's zone), and until or from when; None
    when the hours are not known."""
    days = week(text)
    if not any(days):
        return None
    minute = now.weekday() * MINUTES_A_DAY + now.hour * 60 + now.minute
    spans = _spans(days)
    for moment in (minute, minute + 7 * MINUTES_A_DAY):
        for opens, closes in spans:
            if opens <= moment < closes:
                # Ranges that touch (until 24:00, then from 00:00) read as one.
                end = closes
                for later_opens, later_closes in spans:
                    if later_opens == end:
                        end = later_closes
                if end - moment >= 7 * MINUTES_A_DAY:
                    return Status(True, "Open now · 24 hours")
                until = _clock(end % MINUTES_A_DAY) if end % MINUTES_A_DAY else "midnight"
                return Status(True, f"Open now · until {until}")
    opens = min(start for start, _ in spans if start > minute)
    when = _clock(opens % MINUTES_A_DAY)
    days_ahead = opens // MINUTES_A_DAY - minute // MINUTES_A_DAY
    if days_ahead == 1:
        when = f"tomorrow {when}"
    elif days_ahead > 1:
        when = f"{DAYS[(opens // MINUTES_A_DAY) % 7][:3]} {when}"
    return Status(False, f"Closed · opens {when}")


def local_now() -> datetime:
    """Now, in the site's time zone (what "open now" is judged by)."""
    return timezone.localtime()


def opening_hours_specification(text: str) -> list[dict[str, str]]:
    """schema.org OpeningHoursSpecification entries for JSON-LD (a range past midnight
    closes at its time on the next day, as schema.org reads a closes before opens)."""
    entries: list[dict[str, str]] = []
    for day, ranges in zip(DAYS, week(text), strict=True):
        for opens, closes in ranges:
            entries.append(
                {
                    "@type": "OpeningHoursSpecification",
                    "dayOfWeek": f"https://schema.org/{day}",
                    "opens": _clock(opens),
                    # Google's way of saying "all day": 00:00 to 23:59.
                    "closes": "23:59"
                    if (opens, closes) == (0, MINUTES_A_DAY)
                    else _clock(closes % MINUTES_A_DAY),
                }
            )
    return entries
