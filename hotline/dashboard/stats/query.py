"""Statistics aggregated in the database (never by reading every row into Python).

Definitions, shown on the page as well:
- a call "asked for a volunteer" when it was connected or ended in an unanswered outcome;
- answer rate = connected / asked for a volunteer;
- unanswered = nobody available, declined by all, no answer, callback requested, or hung up while
  waiting ("abandoned"); the others of these are "missed";
- median wait: over connected calls with a recorded wait.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ...localtime_sql import LocalParts, local_parts, weekday_of
from ...models import DailyCalls, DailyUnanswered, DailyWaits
from ...models.call import CallOutcome, CallRecord
from ...outcomes import aggregates
from ..calls.query import UNANSWERED

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
    """Every figure of the statistics page: closed days from the daily totals
    (hotline.outcomes.aggregates), the days still open from the records, a few queries each."""
    figures = Figures()
    first = aggregates.local_day(period.start, tz)
    last = aggregates.local_day(period.end - timedelta(microseconds=1), tz)
    closed = aggregates.closed_days(db, first, last)
    waits: Counter[int] = Counter()
    if closed:
        _from_daily_totals(db, min(closed), max(closed), period, figures, waits)
    for run_first, run_last in aggregates.open_runs(first, last, closed):
        start = max(period.start, aggregates.day_start(run_first, tz))
        end = min(period.end, aggregates.day_start(run_last + timedelta(days=1), tz))
        part = Period(start, end, period.topic, period.language)
        _by_day_topic_language(db, part, tz, figures)
        _unanswered_grid(db, part, tz, figures)
        waits.update(wait_counts(db, part))
    figures.median_wait = median(waits)
    return figures


def _daily_where(table: Any, first: date, last: date, period: Period) -> list[ColumnElement[bool]]:
    inline = aggregates.inline  # plans that know the values (see there)
    conditions = [table.day >= inline(first), table.day <= inline(last)]
    if period.topic:
        conditions.append(table.topic == inline(period.topic))
    if period.language:
        conditions.append(table.language == inline(period.language))
    return conditions


def _from_daily_totals(
    db: Session, first: date, last: date, period: Period, figures: Figures, waits: Counter[int]
) -> None:
    # Summed in the database: 16 topic and language groups and a row per day and topic come
    # back, not every (day, topic, language) row of the year.
    where = _daily_where(DailyCalls, first, last, period)
    groups = db.execute(
        select(
            DailyCalls.topic, DailyCalls.language, func.sum(DailyCalls.calls),
            func.sum(DailyCalls.asked), func.sum(DailyCalls.connected),
            func.sum(DailyCalls.unanswered),
        ).where(*where).group_by(DailyCalls.topic, DailyCalls.language)
    )  # fmt: skip
    for topic, language, calls, asked_n, connected, unanswered in groups:
        counts = Counts(int(calls), int(asked_n or 0), int(connected or 0), int(unanswered or 0))
        _add_counts(figures, (topic or NONE, language or NONE), counts)
    per_day = db.execute(
        select(DailyCalls.day, DailyCalls.topic, func.sum(DailyCalls.calls))
        .where(*where)
        .group_by(DailyCalls.day, DailyCalls.topic)
    )
    for day, topic, calls in per_day:
        day_counts = figures.per_day[_as_date(day)]
        day_counts[topic or NONE] = day_counts.get(topic or NONE, 0) + int(calls)
    weekday = weekday_of(DailyUnanswered.day, db.get_bind().dialect.name)
    hours = db.execute(
        select(
            weekday, DailyUnanswered.hour, func.sum(DailyUnanswered.missed),
            func.sum(DailyUnanswered.abandoned),
        )
        .where(*_summed(DailyUnanswered, first, last, period))
        .group_by(weekday, DailyUnanswered.hour)
    )  # fmt: skip
    _add_grid_rows(hours, figures)
    for wait, n in db.execute(
        select(DailyWaits.wait_seconds, func.sum(DailyWaits.calls))
        .where(*_summed(DailyWaits, first, last, period))
        .group_by(DailyWaits.wait_seconds)
    ):
        waits[int(wait)] += int(n or 0)


def _summed(table: Any, first: date, last: date, period: Period) -> list[ColumnElement[bool]]:
    return aggregates.summed_where(table, first, last, period.topic, period.language)


def _add_grid_rows(rows: Iterable[Any], figures: Figures) -> None:
    """Add (weekday, hour, missed, abandoned) rows to the unanswered grid."""
    for weekday, hour, missed, abandoned in rows:
        known = figures.unanswered_grid[int(weekday)][int(hour)]
        figures.unanswered_grid[int(weekday)][int(hour)] = (
            known[0] + int(missed or 0), known[1] + int(abandoned or 0),
        )  # fmt: skip


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _parts(db: Session, period: Period, tz: ZoneInfo) -> LocalParts:
    dialect = db.get_bind().dialect.name
    return local_parts(CallRecord.started_at, dialect, tz, period.start, period.end)


def _by_day_topic_language(db: Session, period: Period, tz: ZoneInfo, figures: Figures) -> None:
    # One pass for the totals, the topic and language tables and the per-day chart: at most
    # days x 4 x 4 groups come back (5,840 for a year), whatever the number of calls.
    parts = _parts(db, period, tz)
    asked = CallRecord.outcome.in_((CONNECTED, *UNANSWERED))
    rows = db.execute(
        select(
            parts.day,
            CallRecord.topic,
            CallRecord.language,
            func.count(),
            _flag(asked),
            _flag(CallRecord.outcome == CONNECTED),
            _flag(CallRecord.outcome.in_(UNANSWERED)),
        )
        .where(*_where(period))
        .group_by(parts.day, CallRecord.topic, CallRecord.language)
    )
    _add_day_rows(rows, figures)


def _add_counts(figures: Figures, key: tuple[str, str], counts: Counts) -> None:
    figures.by_topic_language.setdefault(key, Counts()).add(counts)
    figures.total.add(counts)
    figures.by_topic[key[0]].add(counts)
    figures.by_language[key[1]].add(counts)


def _add_day_rows(rows: Iterable[Any], figures: Figures) -> None:
    """Add (day, topic, language, calls, asked, connected, unanswered) rows to the figures."""
    for value, topic, language, calls, asked_n, connected, unanswered in rows:
        counts = Counts(int(calls), int(asked_n or 0), int(connected or 0), int(unanswered or 0))
        key = (topic or NONE, language or NONE)
        _add_counts(figures, key, counts)
        day_counts = figures.per_day[_as_date(value)]
        day_counts[key[0]] = day_counts.get(key[0], 0) + counts.calls


def _unanswered_grid(db: Session, period: Period, tz: ZoneInfo, figures: Figures) -> None:
    parts = _parts(db, period, tz)
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
    _add_grid_rows(rows, figures)


def median_wait(db: Session, period: Period) -> float | None:
    """The median wait of connected calls in the period, from the records."""
    return median(wait_counts(db, period))


def wait_counts(db: Session, period: Period) -> Counter[int]:
    """How many connected calls waited each whole number of seconds, counted in the database
    (one row per distinct wait, a few hundred, instead of every call)."""
    rows = db.execute(
        select(CallRecord.wait_seconds, func.count())
        .where(
            *_where(period),
            CallRecord.outcome == CONNECTED,
            CallRecord.wait_seconds.is_not(None),
        )
        .group_by(CallRecord.wait_seconds)
    )
    return Counter({int(wait or 0): int(n) for wait, n in rows})


def median(waits: Counter[int]) -> float | None:
    """The median of a distribution of whole seconds, found by walking its counts."""
    total = sum(waits.values())
    if total == 0:
        return None
    # 1-based positions of the middle value(s): equal for an odd count.
    low, high = (total + 1) // 2, (total + 2) // 2
    seen, values = 0, list[float]()
    for wait in sorted(waits):
        first = seen + 1
        seen += waits[wait]
        values.extend(float(wait) for position in (low, high) if first <= position <= seen)
        if seen >= high:
            break
    return sum(values) / len(values)
