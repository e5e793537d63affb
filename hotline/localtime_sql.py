"""Local date, hour and weekday of a UTC column, in SQL that runs on PostgreSQL and SQLite.

PostgreSQL knows time zones (timezone('Asia/Almaty', t)). SQLite does not, so the offsets in
force during the period are looked up in Python's zoneinfo and written into a CASE over the
period's transitions (Asia/Almaty has one, 2024-03-01, when it moved from UTC+6 to UTC+5).
Everything is rendered as literals, never bound parameters: PostgreSQL only accepts
`GROUP BY expr` when expr is textually identical to the selected one, and two binds are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, case, cast, extract, func, literal_column
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

_TZ_NAME = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")
_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DATETIME in SQLite
_STEP = timedelta(hours=6)  # no zone changes its offset twice within six hours


@dataclass(frozen=True)
class LocalParts:
    """SQL expressions for the local calendar day, hour (0-23) and weekday (0 = Monday)."""

    day: ColumnElement
    hour: ColumnElement
    weekday: ColumnElement


def local_parts(
    column: ColumnElement[Any] | InstrumentedAttribute[Any],
    dialect: str,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
) -> LocalParts:
    """Local parts of `column` (UTC) for rows between start and end (UTC, aware)."""
    if dialect == "postgresql":
        name = str(tz.key)
        if not _TZ_NAME.match(name):
            raise ValueError(f"unexpected time zone name {name!r}")
        local = func.timezone(literal_column(f"'{name}'"), column)
        return LocalParts(
            day=cast(local, Date),
            hour=cast(extract("hour", local), Integer),
            weekday=cast(extract("isodow", local), Integer) - 1,
        )
    naive = _sqlite_local(column, tz, start, end)
    return LocalParts(
        day=func.date(naive),
        hour=cast(func.strftime(literal_column("'%H'"), naive), Integer),
        weekday=(cast(func.strftime(literal_column("'%w'"), naive), Integer) + 6) % 7,
    )


def weekday_of(day: ColumnElement[Any] | InstrumentedAttribute[Any], dialect: str) -> ColumnElement:
    """The weekday (0 = Monday) of a DATE column."""
    if dialect == "postgresql":
        return cast(extract("isodow", day), Integer) - 1
    return (cast(func.strftime(literal_column("'%w'"), day), Integer) + 6) % 7


def offsets(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """(from UTC instant, offset in minutes) for each offset in force between start and end."""
    current = _offset(tz, start)
    segments = [(start, current)]
    at = start
    while at < end:
        step_end = min(at + _STEP, end)
        following = _offset(tz, step_end)
        if following != current:
            low, high = at, step_end
            while high - low > timedelta(minutes=1):  # bisect to the minute of the change
                middle = low + (high - low) / 2
                if _offset(tz, middle) == current:
                    low = middle
                else:
                    high = middle
            segments.append((high.replace(second=0, microsecond=0), following))
            current = following
        at = step_end
    return segments


def _offset(tz: ZoneInfo, at: datetime) -> int:
    delta = at.astimezone(tz).utcoffset() or timedelta(0)
    return int(delta.total_seconds() // 60)


def _modifier(minutes: int) -> ColumnElement:
    return literal_column(f"'{minutes:+d} minutes'")


def _sqlite_local(
    column: ColumnElement[Any] | InstrumentedAttribute[Any],
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
) -> ColumnElement:
    segments = offsets(tz, start.astimezone(UTC), end.astimezone(UTC))
    if len(segments) == 1:
        return func.datetime(column, _modifier(segments[0][1]))
    whens = []
    for (_, minutes), (following_start, _next) in zip(segments, segments[1:], strict=False):
        bound = following_start.astimezone(UTC).strftime(_SQLITE_FORMAT)
        whens.append(
            (column < literal_column(f"'{bound}'"), func.datetime(column, _modifier(minutes)))
        )
    return case(*whens, else_=func.datetime(column, _modifier(segments[-1][1])))
