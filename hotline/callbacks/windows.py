"""Safe callback windows: the hours a caller said it is safe to call them, in the hotline's zone.

Pure Python. The hours are fixed here, not in configuration, because the IVR prompts say them aloud
("morning, 9 to 12"): a window that moved without its prompt would call someone at an hour they
did not choose.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

MINUTES_PER_DAY = 24 * 60


class Window(StrEnum):
    ANY = "any"
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


# [start, end) in minutes since local midnight.
BOUNDS: dict[Window, tuple[int, int]] = {
    Window.ANY: (0, MINUTES_PER_DAY),
    Window.MORNING: (9 * 60, 12 * 60),
    Window.AFTERNOON: (12 * 60, 17 * 60),
    Window.EVENING: (17 * 60, 21 * 60),
}


def parse_window(value: str | Window) -> Window:
    """The Window named by value; ValueError naming the known windows otherwise."""
    try:
        return Window(value)
    except ValueError:
        known = ", ".join(w.value for w in Window)
        raise ValueError(f"unknown callback window {value!r} (known: {known})") from None


def in_window(window: str | Window, at: datetime, tz: tzinfo) -> bool:
    """Whether the aware instant `at` falls inside the window, on the wall clock in tz."""
    start, end = BOUNDS[parse_window(window)]
    return start <= _minute_of_day(at, tz) < end


def next_slot(window: str | Window, after: datetime, tz: tzinfo) -> datetime:
    """`after` itself when it is inside the window, else the next start of the window (aware UTC).

    A window that has already passed today starts again tomorrow.
    """
    window = parse_window(window)
    if in_window(window, after, tz):
        return after
    start, _ = BOUNDS[window]
    local = after.astimezone(tz)
    day = local.date()
    if _minute_of_day(after, tz) >= start:
        day += timedelta(days=1)
    return _local_instant(day, start, tz)


def window_end(window: str | Window, at: datetime, tz: tzinfo) -> datetime | None:
    """When the window containing `at` closes; None if `at` is outside it or the window is 'any'."""
    window = parse_window(window)
    if window is Window.ANY or not in_window(window, at, tz):
        return None
    _, end = BOUNDS[window]
    return _local_instant(at.astimezone(tz).date(), end, tz)


def _minute_of_day(at: datetime, tz: tzinfo) -> int:
    if at.tzinfo is None:
        raise ValueError("callback windows need an aware datetime")
    local = at.astimezone(tz)
    return local.hour * 60 + local.minute


def _local_instant(day: date, minute: int, tz: tzinfo) -> datetime:
    """The instant the wall clock in tz shows `minute` on `day`, as aware UTC."""
    days, minute = divmod(minute, MINUTES_PER_DAY)
    wall = datetime.combine(day + timedelta(days=days), time(minute // 60, minute % 60), tz)
    # Through a UTC timestamp: arithmetic on zoneinfo datetimes is wall-clock arithmetic, and a
    # start inside a DST gap must land on a real instant.
    return datetime.fromtimestamp(wall.timestamp(), UTC)
