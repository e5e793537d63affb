"""Statistics aggregated in the database (never by reading every row into Python).

Definitions, shown on the page as well:
- a call "asked for a volunteer" when it was connected or ended in an unanswered outcome;
- answer rate = connected / asked for a volunteer;
- unanswered = nobody available, declined by all, no answer, callback requested, or hung up while
  waiting ("abandoned"); the others of these are "missed";
- median wait: over connected calls with a recorded wait.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..models.call import CallOutcome, CallRecord
from .calllog_query import UNANSWERED
from .localtime_sql import local_parts

CONNECTED = CallOutcome.CONNECTED.value
ABANDONED = CallOutcome.ABANDONED_WAITING.value
NONE = ""  # the group of calls with no topic or language chosen


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    topic: str | None = None
    language: str | None = None


@dataclass
class Counts:
    calls: int = 0
    asked: int = 0
    connected: int = 0
    unanswered: int = 0

    @property
    def answer_rate(self) -> float | None:
        return self.connected / self.asked if self.asked else None

    def add(self, other: Counts) -> None:
        self.calls += other.calls
        self.asked += other.asked
        self.connected += other.connected
        self.unanswered += other.unanswered


@dataclass
class Figures:
    total: Counts = field(default_factory=Counts)
    by_topic: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_language: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_topic_language: dict[tuple[str, str], Counts] = field(default_factory=dict)
    per_day: dict[date, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    # [weekday][hour] -> (missed, abandoned)
    unanswered_grid: list[list[tuple[int, int]]] = field(
        default_factory=lambda: [[(0, 0)] * 24 for _ in range(7)]
    )
    median_wait: float | None = None


def _where(period: Period) -> list[ColumnElement[bool]]:
    conditions = [CallRecord.started_at >= period.start, CallRecord.started_at < period.end]
    if period.topic:
        conditions.append(CallRecord.topic == period.topic)
    if period.language:
        conditions.append(CallRecord.language == period.language)
    return conditions


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def compute(db: Session, period: Period, tz: ZoneInfo) -> Figures:
    """Every figure of the statistics page, in four aggregate queries."""
    figures = Figures()
    _topic_language(db, period, figures)
    _per_day(db, period, tz, figures)
    _unanswered_grid(db, period, tz, figures)
    figures.median_wait = median_wait(db, period)
    return figures


def _topic_language(db: Session, period: Period, figures: Figures) -> None:
    asked = CallRecord.outcome.in_((CONNECTED, *UNANSWERED))
    rows = db.execute(
        select(
            CallRecord.topic,
            CallRecord.language,
            func.count(),
            _flag(asked),
            _flag(CallRecord.outcome == CONNECTED),
            _flag(CallRecord.outcome.in_(UNANSWERED)),
        )
        .where(*_where(period))
        .group_by(CallRecord.topic, CallRecord.language)
    )
    for topic, language, calls, asked_n, connected, unanswered in rows:
        counts = Counts(int(calls), int(asked_n or 0), int(connected or 0), int(unanswered or 0))
        key = (topic or NONE, language or NONE)
        figures.by_topic_language[key] = counts
        figures.total.add(counts)
        figures.by_topic[key[0]].add(counts)
        figures.by_language[key[1]].add(counts)


def _per_day(db: Session, period: Period, tz: ZoneInfo, figures: Figures) -> None:
    parts = local_parts(CallRecord.started_at, db.bind.dialect.name, tz, period.start, period.end)  # type: ignore[union-attr]
    day = parts.day.label("day")
    rows = db.execute(
        select(day, CallRecord.topic, func.count())
        .where(*_where(period))
        .group_by(parts.day, CallRecord.topic)
    )
    for value, topic, calls in rows:
        local_day = value if isinstance(value, date) else date.fromisoformat(str(value))
        figures.per_day[local_day][topic or NONE] = int(calls)


def _unanswered_grid(db: Session, period: Period, tz: ZoneInfo, figures: Figures) -> None:
    parts = local_parts(CallRecord.started_at, db.bind.dialect.name, tz, period.start, period.end)  # type: ignore[union-attr]
    rows = db.execute(
        select(
            parts.weekday,
            parts.hour,
            _flag(CallRecord.outcome != ABANDONED),
            _flag(CallRecord.outcome == ABANDONED),
        )
        .where(*_where(period), CallRecord.outcome.in_(UNANSWERED))
        .group_by(parts.weekday, parts.hour)
    )
    for weekday, hour, missed, abandoned in rows:
        figures.unanswered_grid[int(weekday)][int(hour)] = (int(missed or 0), int(abandoned or 0))


def median_wait(db: Session, period: Period) -> float | None:
    """The median wait of connected calls, with window functions (SQLite 3.25+ and PostgreSQL)."""
    waits = (
        select(
            CallRecord.wait_seconds.label("wait"),
            func.row_number().over(order_by=CallRecord.wait_seconds).label("position"),
            func.count().over().label("n"),
        )
        .where(
            *_where(period),
            CallRecord.outcome == CONNECTED,
            CallRecord.wait_seconds.is_not(None),
        )
        .subquery()
    )
    # The middle row, or the mean of the two middle rows when the count is even.
    middle = and_(
        waits.c.position >= (waits.c.n + 1) // 2, waits.c.position <= (waits.c.n + 2) // 2
    )
    value = db.scalar(select(func.avg(waits.c.wait)).where(middle))
    return None if value is None else float(value)
