"""Safe callback windows, on the wall clock of the hotline's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.callbacks.windows import Window, in_window, next_slot, parse_window, window_end

ALMATY = ZoneInfo("Asia/Almaty")  # UTC+5 all year (since 2024)
BERLIN = ZoneInfo("Europe/Berlin")  # has DST, to prove wall-clock behaviour


def local(text: str, tz: ZoneInfo = ALMATY) -> datetime:
    """An aware instant from a local wall-clock time like '2026-03-10 08:30'."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@pytest.mark.parametrize(
    ("window", "at", "inside"),
    [
        ("any", "2026-03-10 03:00", True),
        ("any", "2026-03-10 23:59", True),
        ("morning", "2026-03-10 08:59", False),
        ("morning", "2026-03-10 09:00", True),
        ("morning", "2026-03-10 11:59", True),
        ("morning", "2026-03-10 12:00", False),
        ("afternoon", "2026-03-10 12:00", True),
        ("afternoon", "2026-03-10 16:59", True),
        ("afternoon", "2026-03-10 17:00", False),
        ("evening", "2026-03-10 17:00", True),
        ("evening", "2026-03-10 20:59", True),
        ("evening", "2026-03-10 21:00", False),
        ("evening", "2026-03-10 08:00", False),
    ],
)
def test_in_window_reads_the_hotline_wall_clock(window: str, at: str, inside: bool) -> None:
    assert in_window(window, local(at), ALMATY) is inside


def test_in_window_converts_utc_to_the_hotline_zone() -> None:
    # 04:30 UTC is 09:30 in Almaty: morning there, though not by the UTC clock.
    assert in_window("morning", datetime(2026, 3, 10, 4, 30, tzinfo=UTC), ALMATY)
    assert not in_window("morning", datetime(2026, 3, 10, 9, 30, tzinfo=UTC), ALMATY)


@pytest.mark.parametrize(
    ("window", "after", "expected"),
    [
        # inside: now
        ("morning", "2026-03-10 10:15", "2026-03-10 10:15"),
        ("any", "2026-03-10 02:00", "2026-03-10 02:00"),
        # before today's window: today's start
        ("morning", "2026-03-10 06:00", "2026-03-10 09:00"),
        ("evening", "2026-03-10 12:30", "2026-03-10 17:00"),
        # the window has passed today: tomorrow's start
        ("morning", "2026-03-10 12:00", "2026-03-11 09:00"),
        ("afternoon", "2026-03-10 22:00", "2026-03-11 12:00"),
        ("evening", "2026-03-10 21:00", "2026-03-11 17:00"),
        # across a month and a year end
        ("morning", "2026-12-31 23:30", "2027-01-01 09:00"),
    ],
)
def test_next_slot_is_now_inside_else_the_next_window_start(
    window: str, after: str, expected: str
) -> None:
    assert next_slot(window, local(after), ALMATY) == local(expected)


def test_next_slot_returns_utc() -> None:
    slot = next_slot("morning", local("2026-03-10 06:00"), ALMATY)
    assert slot.tzinfo == UTC
    assert slot == datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


def test_next_slot_keeps_the_wall_clock_across_a_dst_change() -> None:
    # Berlin moves to summer time on 2026-03-29: the morning window still opens at 09:00 local.
    before = next_slot("morning", local("2026-03-28 13:00", BERLIN), BERLIN)
    assert before == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST = 07:00 UTC
    assert in_window("morning", before, BERLIN)


def test_window_end_is_the_close_of_the_current_window() -> None:
    assert window_end("morning", local("2026-03-10 10:00"), ALMATY) == local("2026-03-10 12:00")
    assert window_end("morning", local("2026-03-10 13:00"), ALMATY) is None
    assert window_end(Window.ANY, local("2026-03-10 13:00"), ALMATY) is None


def test_an_unknown_window_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="any, morning, afternoon, evening"):
        parse_window("night")


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        in_window("any", datetime(2026, 3, 10, 10, 0), ALMATY)
