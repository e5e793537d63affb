"""Daily totals of calls and outcome reports: counts only, kept after `hotline purge`.

A local day is closed once every call of it has ended CLOSE_GRACE ago (their outcomes are
final; the webhooks' events are applied in the background), at the latest SETTLE_DAYS days
after it (a call whose status callback never came holds no day back for ever). So the
statistics read only today from the records. Its counts are written to the daily tables
(hotline.models.daily) in a few set-based INSERT ... SELECT statements, also summed over every
topic, language or both (ANY), and it is marked closed. Afterwards:
- the worker's sweep closes each new day (incremental), `hotline purge` closes every day it is
  about to delete first, so a purge never loses a count;
- a report saved or corrected for a closed day moves its counts at once (apply_report);
- `hotline stats rebuild` computes every day whose records are all still there again (the
  days before the last purge keep their totals: their records are gone);
- statistics read the closed days from here and only the open days from the records.
Callback requests are counted per day too, once all of a day's have ended (callback_totals).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, case, delete, func, insert, literal, or_, select, text
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from ..calllog.records import UNSETTLED
from ..localtime_sql import local_parts
from ..models import (
    CallRecord,
    ClosedDay,
    DailyCalls,
    DailyOutcomes,
    DailyUnanswered,
    DailyWaits,
    OutcomeChoice,
    OutcomeReport,
    PurgeRun,
)
from ..models.call import CallOutcome

SETTLE_DAYS = 2
CLOSE_GRACE = timedelta(minutes=10)  # for the last events of a call to be applied
CHUNK_DAYS = 7
CONNECTED = CallOutcome.CONNECTED.value
ABANDONED = CallOutcome.ABANDONED_WAITING.value
UNANSWERED = (
    CallOutcome.NOBODY_AVAILABLE.value,
    CallOutcome.DECLINED_BY_ALL.value,
    CallOutcome.NO_ANSWER.value,
    CallOutcome.CALLBACK_REQUESTED.value,
    ABANDONED,
)
SEX = "sex"
ANY = "*"  # rows of the daily tables (but daily_calls) summed over every topic or language
T = TypeVar("T", str, ColumnElement[str])
_DAILY = (DailyCalls, DailyUnanswered, DailyWaits, DailyOutcomes)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins on the hotline's wall clock."""
    from datetime import UTC, time

    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def closable_through(session: Session, now: datetime, tz: ZoneInfo) -> date:
    """The last day that may be closed now: yesterday once every call of it has ended more
    than CLOSE_GRACE ago (the webhooks' events are applied in the background, in any order),
    else the day SETTLE_DAYS ago (a call whose status callback never came holds nothing back)."""
    today = local_day(now, tz)
    settled = today - timedelta(days=SETTLE_DAYS)
    since, until = day_start(settled + timedelta(days=1), tz), day_start(today, tz)
    unsettled = session.scalar(
        select(CallRecord.id)
        .where(
            CallRecord.started_at >= since,
            CallRecord.started_at < until,
            or_(
                CallRecord.ended_at.is_(None),
                CallRecord.ended_at > now - CLOSE_GRACE,
                CallRecord.outcome.in_(UNSETTLED),
            ),
        )
        .limit(1)
    )
    return (
        settled if unsettled is not None or now - until < CLOSE_GRACE else today - timedelta(days=1)
    )


def purge_cutoff(session: Session) -> datetime | None:
    """Records started before this were deleted by `hotline purge` (None: never purged)."""
    cutoffs = [
        ran_at - timedelta(days=days)
        for ran_at, days in session.execute(select(PurgeRun.ran_at, PurgeRun.retention_days))
    ]
    return max(cutoffs) if cutoffs else None


def closed_days(session: Session, first: date, last: date) -> set[date]:
    """The closed days between first and last (inclusive)."""
    rows = session.scalars(
        select(ClosedDay.day).where(ClosedDay.day >= first, ClosedDay.day <= last)
    )
    return set(rows)


def open_runs(first: date, last: date, closed: set[date]) -> list[tuple[date, date]]:
    """The runs of consecutive days between first and last that are not closed."""
    runs: list[tuple[date, date]] = []
    day = first
    while day <= last:
        if day in closed:
            day += timedelta(days=1)
            continue
        run_first = day
        while day <= last and day not in closed:
            day += timedelta(days=1)
        runs.append((run_first, day - timedelta(days=1)))
    return runs


def close_days(session: Session, tz: ZoneInfo, through: date) -> int:
    """Close every day up to `through` that is not closed yet, and count the callbacks of the
    days whose requests have all ended (the caller commits); how many days closed."""
    from . import callback_totals  # it reads the days with this module's helpers

    last = session.scalar(select(func.max(ClosedDay.day)))
    first = last + timedelta(days=1) if last else _first_record_day(session, tz)
    callback_totals.fold(session, tz, through)
    if first is None or first > through:
        return 0
    _hold_reports(session)
    _aggregate(session, tz, first, through)
    return (through - first).days + 1


def _hold_reports(session: Session) -> None:
    # A report saved while its day closes would be in neither the INSERT ... SELECT (not yet
    # committed) nor apply_report (the day not yet closed): report writers wait for the close
    # (a day's close takes well under a second; a first close or a rebuild longer).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE outcome_reports, outcome_choices IN SHARE MODE"))


def rebuild(session: Session, tz: ZoneInfo, through: date) -> int:
    """Compute again every day whose records are all still there, up to `through`; how many
    days (the caller commits). Days before the last purge's cutoff keep their totals."""
    from . import callback_totals  # it reads the days with this module's helpers

    first = _first_record_day(session, tz)
    cutoff = purge_cutoff(session)
    callback_totals.rebuild(session, tz, local_day(cutoff, tz) if cutoff else None, through)
    if cutoff is not None:
        first = max(first, local_day(cutoff, tz) + timedelta(days=1)) if first else None
    if first is None or first > through:
        return 0
    _hold_reports(session)
    for table in (*_DAILY, ClosedDay):
        session.execute(delete(table).where(table.day >= first, table.day <= through))
    _aggregate(session, tz, first, through)
    return (through - first).days + 1


def _first_record_day(session: Session, tz: ZoneInfo) -> date | None:
    starts = [
        session.scalar(select(func.min(CallRecord.started_at))),
        session.scalar(select(func.min(OutcomeReport.call_started_at))),
    ]
    known = [s for s in starts if s is not None]
    return local_day(min(known), tz) if known else None


def _flag(condition):  # type: ignore[no-untyped-def]
    return func.sum(case((condition, 1), else_=0))


def _aggregate(session: Session, tz: ZoneInfo, first: date, last: date) -> None:
    # A week per statement: each stays far inside the database's statement timeout (6 s)
    # however many days a first close, a purge or a rebuild covers.
    day = first
    while day <= last:
        until = min(last, day + timedelta(days=CHUNK_DAYS - 1))
        _aggregate_days(session, tz, day, until)
        day = until + timedelta(days=1)


def _aggregate_days(session: Session, tz: ZoneInfo, first: date, last: date) -> None:
    start, end = day_start(first, tz), day_start(last + timedelta(days=1), tz)
    dialect = session.get_bind().dialect.name
    calls = local_parts(CallRecord.started_at, dialect, tz, start, end)
    detail_topic: ColumnElement[str] = func.coalesce(CallRecord.topic, "")
    detail_language: ColumnElement[str] = func.coalesce(CallRecord.language, "")
    in_range = (CallRecord.started_at >= start, CallRecord.started_at < end)
    asked = CallRecord.outcome.in_((CONNECTED, *UNANSWERED))
    _insert(
        session, DailyCalls,
        ("day", "topic", "language", "calls", "asked", "connected", "unanswered"),
        select(
            calls.day, detail_topic, detail_language, func.count(), _flag(asked),
            _flag(CallRecord.outcome == CONNECTED), _flag(CallRecord.outcome.in_(UNANSWERED)),
        ).where(*in_range).group_by(calls.day, detail_topic, detail_language),
    )  # fmt: skip
    # Unanswered by hour and waits: also summed over every language, every topic and both
    # (ANY), so the statistics page reads one row per day and hour (or wait) whatever it filters.
    for topic, language in _with_sums(detail_topic, detail_language):
        _insert(
            session, DailyUnanswered, ("day", "topic", "language", "hour", "missed", "abandoned"),
            select(
                calls.day, topic, language, calls.hour, _flag(CallRecord.outcome != ABANDONED),
                _flag(CallRecord.outcome == ABANDONED),
            ).where(*in_range, CallRecord.outcome.in_(UNANSWERED))
            .group_by(calls.day, topic, language, calls.hour),
        )  # fmt: skip
        _insert(
            session, DailyWaits, ("day", "topic", "language", "wait_seconds", "calls"),
            select(calls.day, topic, language, CallRecord.wait_seconds, func.count())
            .where(
                *in_range, CallRecord.outcome == CONNECTED, CallRecord.wait_seconds.is_not(None)
            ).group_by(calls.day, topic, language, CallRecord.wait_seconds),
        )  # fmt: skip
    _outcomes(session, tz, dialect, start, end)
    session.execute(
        insert(ClosedDay),
        [{"day": first + timedelta(days=i)} for i in range((last - first).days + 1)],
    )


def _outcomes(session: Session, tz: ZoneInfo, dialect: str, start: datetime, end: datetime) -> None:
    reports = local_parts(OutcomeReport.call_started_at, dialect, tz, start, end)
    detail_topic: ColumnElement[str] = func.coalesce(OutcomeReport.topic, "")
    detail_language: ColumnElement[str] = func.coalesce(OutcomeReport.language, "")
    in_range = (OutcomeReport.call_started_at >= start, OutcomeReport.call_started_at < end)
    columns = ("day", "topic", "language", "field", "option", "calls")
    other, sex = aliased(OutcomeChoice), aliased(OutcomeChoice)
    crossed_field = other.field + literal("|" + SEX)
    crossed_option = other.option + literal("|") + sex.option
    for topic, language in _with_sums(detail_topic, detail_language):
        _insert(
            session, DailyOutcomes, columns,
            select(reports.day, topic, language, literal(""), literal(""), func.count())
            .where(*in_range).group_by(reports.day, topic, language),
        )  # fmt: skip
        _insert(
            session, DailyOutcomes, columns,
            select(
                reports.day, topic, language, OutcomeChoice.field, OutcomeChoice.option,
                func.count(),
            ).join(OutcomeReport, OutcomeChoice.report_id == OutcomeReport.id)
            .where(*in_range)
            .group_by(reports.day, topic, language, OutcomeChoice.field, OutcomeChoice.option),
        )  # fmt: skip
        _insert(
            session, DailyOutcomes, columns,
            select(reports.day, topic, language, crossed_field, crossed_option, func.count())
            .join(OutcomeReport, other.report_id == OutcomeReport.id)
            .join(sex, sex.report_id == OutcomeReport.id)
            .where(*in_range, other.field != SEX, sex.field == SEX)
            .group_by(reports.day, topic, language, crossed_field, crossed_option),
        )  # fmt: skip


def _with_sums(topic: T, language: T) -> list[tuple[T, T]]:
    """The (topic, language) pair and the sums over every topic, language, or both (ANY)."""
    every = literal(ANY) if isinstance(topic, ColumnElement) else ANY
    return [(topic, language), (topic, every), (every, language), (every, every)]  # type: ignore[list-item]


def summed_where(
    table: Any, first: date, last: date, topic: str | None, language: str | None
) -> list[ColumnElement[bool]]:
    """The rows of a table with sums (all but daily_calls) for first..last and one topic and
    language, ANY for what is not filtered: one set of rows per day, whatever the filter."""
    return [
        table.day >= inline(first),
        table.day <= inline(last),
        table.topic == inline(topic or ANY),
        table.language == inline(language or ANY),
    ]


def inline(value: object) -> BindParameter[Any]:
    """A value written into the SQL text: after five runs psycopg prepares a statement and
    PostgreSQL may plan it once for any value (a generic plan), which for these reads scans a
    year of daily rows by the primary key (50 ms instead of 5); with the values inline, each
    plan knows them."""
    return bindparam(None, value, literal_execute=True)


def _insert(session: Session, table: type, columns: Iterable[str], query: Select) -> None:  # type: ignore[type-arg]
    target = [getattr(table, name) for name in columns]
    session.execute(insert(table).from_select(target, query))


# --- a report saved for a closed day ------------------------------------------------------------


def report_keys(choices: Iterable[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """The daily_outcomes (field, option) rows one report counts in."""
    chosen = list(choices)
    keys: Counter[tuple[str, str]] = Counter({("", ""): 1})
    keys.update(chosen)
    sexes = [option for field, option in chosen if field == SEX]
    for field, option in chosen:
        if field != SEX:
            keys.update((f"{field}|{SEX}", f"{option}|{s}") for s in sexes)
    return keys


def apply_report(
    session: Session,
    tz: ZoneInfo,
    report: OutcomeReport,
    before: Iterable[tuple[str, str]] | None,
    after: Iterable[tuple[str, str]],
) -> bool:
    """A report was saved (before: its choices until now, None for a new one): when its day is
    closed, move that day's counts by the difference (the caller commits). Whether it did."""
    day = local_day(report.call_started_at, tz)
    if session.get(ClosedDay, day) is None:
        return False
    delta = report_keys(after)
    delta.subtract(report_keys(before) if before is not None else Counter())
    for topic, language in _with_sums(report.topic or "", report.language or ""):
        for (field, option), change in delta.items():
            if change == 0:
                continue
            key = {
                "day": day, "topic": topic, "language": language, "field": field,
                "option": option,
            }  # fmt: skip
            row = session.get(DailyOutcomes, key)
            if row is None:
                session.add(DailyOutcomes(**key, calls=change))
            elif row.calls + change == 0:
                session.delete(row)
            else:
                row.calls += change
    return True
