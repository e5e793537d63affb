"""Local dates of the hotline's time zone turned into UTC bounds for SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def day_start(day: date, tz: tzinfo) -> datetime:
    """The UTC instant at which `day` begins on the hotline's wall clock."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def bounds(first: date | None, last: date | None, tz: tzinfo) -> tuple[datetime | None, ...]:
    """[start, end) in UTC covering the local days first..last inclusive (None = open)."""
    start = day_start(first, tz) if first else None
    end = day_start(last + timedelta(days=1), tz) if last else None
    return start, end


def local_today(now: datetime, tz: tzinfo) -> date:
    """Today's date on the hotline's wall clock."""
    return now.astimezone(tz).date()
