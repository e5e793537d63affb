"""Callback requests per local day in the daily totals, so `hotline purge` keeps their figures.

A request changes status for a while after its day (pending, dialing, then completed, failed,
expired or cancelled, within the callbacks' horizon), so a day's requests are counted once all
of them have ended, after the day itself is closed (hotline.outcomes.aggregates): the days are
folded in order, up to the first day with a request still open. `hotline purge` folds every day
it is about to delete from first, open requests counted as they then stand (they are kept, and
their day is not counted again). The statistics read folded days from daily_callbacks and the
others from the requests: a few days, whatever the period.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..localtime_sql import local_parts
from ..models import CallbackDay, CallbackRequest, DailyCallbacks
from ..models.callback import OPEN_STATUSES
from . import aggregates


def fold(session: Session, tz: ZoneInfo, through: date, open_too: bool = False) -> int:
    """Count the days up to `through` whose requests have all ended (open_too: every day up to
    it, as the requests now stand); how many days (the caller commits)."""
    last = session.scalar(select(func.max(CallbackDay.day)))
    first = last + timedelta(days=1) if last else _first_day(session, tz)
    if first is None:
        return 0
    if not open_too:
        still_open = session.scalar(
            select(func.min(CallbackRequest.created_at)).where(
                CallbackRequest.status.in_(OPEN_STATUSES),
                CallbackRequest.created_at >= aggregates.day_start(first, tz),
            )
        )
        if still_open is not None:
            through = min(through, aggregates.local_day(still_open, tz) - timedelta(days=1))
    if first > through:
        return 0
    _count(session, tz, first, through)
    return (through - first).days + 1


def rebuild(session: Session, tz: ZoneInfo, kept_through: date | None, through: date) -> None:
    """Count again the days after `kept_through` (the last day a purge reached, whose requests
    may be gone; None: every day) up to `through` (the caller commits)."""
    for table in (DailyCallbacks, CallbackDay):
        stale = delete(table)
        session.execute(stale.where(table.day > kept_through) if kept_through else stale)
    fold(session, tz, through)


def _first_day(session: Session, tz: ZoneInfo) -> date | None:
    first = session.scalar(select(func.min(CallbackRequest.created_at)))
    return aggregates.local_day(first, tz) if first is not None else None


def _count(session: Session, tz: ZoneInfo, first: date, last: date) -> None:
    # A week per statement, like the other daily totals (the statement timeout).
    day = first
    while day <= last:
        until = min(last, day + timedelta(days=aggregates.CHUNK_DAYS - 1))
        _count_days(session, tz, day, until)
        day = until + timedelta(days=1)


def _count_days(session: Session, tz: ZoneInfo, first: date, last: date) -> None:
    start = aggregates.day_start(first, tz)
    end = aggregates.day_start(last + timedelta(days=1), tz)
    dialect = session.get_bind().dialect.name
    day = local_parts(CallbackRequest.created_at, dialect, tz, start, end).day
    columns = [
        getattr(DailyCallbacks, c) for c in ("day", "topic", "language", "status", "requests")
    ]
    query = (
        select(
            day, CallbackRequest.topic, CallbackRequest.language, CallbackRequest.status,
            func.count(),
        )
        .where(CallbackRequest.created_at >= start, CallbackRequest.created_at < end)
        .group_by(day, CallbackRequest.topic, CallbackRequest.language, CallbackRequest.status)
    )  # fmt: skip
    session.execute(insert(DailyCallbacks).from_select(columns, query))
    session.execute(
        insert(CallbackDay),
        [{"day": first + timedelta(days=i)} for i in range((last - first).days + 1)],
    )


def counts(
    session: Session,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    topic: str | None = None,
    language: str | None = None,
) -> dict[str, int]:
    """Requests created in [start, end) (local day bounds) by status: folded days from
    daily_callbacks, the others from the requests."""
    first = aggregates.local_day(start, tz)
    last = aggregates.local_day(end - timedelta(microseconds=1), tz)
    folded = set(
        session.scalars(
            select(CallbackDay.day).where(CallbackDay.day >= first, CallbackDay.day <= last)
        )
    )
    found: dict[str, int] = {}
    if folded:
        query = select(DailyCallbacks.status, func.sum(DailyCallbacks.requests)).where(
            DailyCallbacks.day >= aggregates.inline(min(folded)),
            DailyCallbacks.day <= aggregates.inline(max(folded)),
        )
        query = _filtered(query, DailyCallbacks, topic, language)
        for status, n in session.execute(query.group_by(DailyCallbacks.status)):
            found[status] = found.get(status, 0) + int(n or 0)
    for run_first, run_last in aggregates.open_runs(first, last, folded):
        run_start = max(start, aggregates.day_start(run_first, tz))
        run_end = min(end, aggregates.day_start(run_last + timedelta(days=1), tz))
        query = select(CallbackRequest.status, func.count()).where(
            CallbackRequest.created_at >= run_start, CallbackRequest.created_at < run_end
        )
        query = _filtered(query, CallbackRequest, topic, language)
        for status, n in session.execute(query.group_by(CallbackRequest.status)):
            found[status] = found.get(status, 0) + int(n)
    return found


def _filtered(query, table, topic: str | None, language: str | None):  # type: ignore[no-untyped-def]
    if topic:
        query = query.where(table.topic == topic)
    if language:
        query = query.where(table.language == language)
    return query
