"""The call log's filters, query, and the repeat-caller count, shared by the page and the CSV."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy import Select, String, func, select, text
from sqlalchemy.orm import Session

from ...models.base import UTCDateTime
from ...models.call import CallOutcome, CallRecord
from ...routing.policy import LANGUAGES, TOPICS
from ..web.i18n import gettext as _
from ..web.params import BadParams, a_date, an_id, one_of, page_number
from ..web.periods import bounds

T = TypeVar("T")
PAGE_SIZE = 50
REPEAT_WINDOW = timedelta(days=30)
# Routed to volunteers (the caller asked for a person) and nobody talked to them.
UNANSWERED = (
    CallOutcome.NOBODY_AVAILABLE.value,
    CallOutcome.DECLINED_BY_ALL.value,
    CallOutcome.NO_ANSWER.value,
    CallOutcome.CALLBACK_REQUESTED.value,
    CallOutcome.ABANDONED_WAITING.value,
)
OUTCOME_CHOICES = ("unanswered", *(o.value for o in CallOutcome))
SORT_COLUMNS = {
    "started_at": CallRecord.started_at,
    "wait_seconds": CallRecord.wait_seconds,
    "duration_seconds": CallRecord.duration_seconds,
    "topic": CallRecord.topic,
    "language": CallRecord.language,
    "outcome": CallRecord.outcome,
}
SORT_CHOICES = tuple(SORT_COLUMNS) + tuple(f"-{name}" for name in SORT_COLUMNS)


@dataclass(frozen=True)
class CallFilters:
    date_from: date | None = None
    date_to: date | None = None
    topic: str | None = None
    language: str | None = None
    outcome: str | None = None
    volunteer: int | None = None
    sort: str = "-started_at"
    page: int = 1

    def query_args(self, **changes: Any) -> dict[str, str]:
        """These filters as query-string arguments (for links), with some values changed."""
        values = {**asdict(self), **changes}
        names = {"date_from": "from", "date_to": "to"}
        return {
            names.get(key, key): str(value)
            for key, value in values.items()
            if value not in (None, "")
            and not (key == "page" and value == 1)
            and not (key == "sort" and value == "-started_at")
        }

    def describe(self) -> str:
        """A short, number-free summary for the audit trail."""
        args = self.query_args(page=1)
        return " ".join(f"{key}={value}" for key, value in sorted(args.items())) or "all"


def parse_filters(args: Mapping[str, str]) -> CallFilters:
    """Validate the query string; BadParams lists every problem at once."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    checks = {
        "date_from": lambda: a_date(args, "from"),
        "date_to": lambda: a_date(args, "to"),
        "topic": lambda: one_of(args, "topic", TOPICS),
        "language": lambda: one_of(args, "language", LANGUAGES),
        "outcome": lambda: one_of(args, "outcome", OUTCOME_CHOICES),
        "volunteer": lambda: an_id(args, "volunteer"),
        "sort": lambda: one_of(args, "sort", SORT_CHOICES) or "-started_at",
        "page": lambda: page_number(args),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except BadParams as error:
            problems.extend(error.problems)
    first, last = values.get("date_from"), values.get("date_to")
    if first and last and first > last:
        problems.append(_("from: the start date is after the end date"))
    if problems:
        raise BadParams(problems)
    return CallFilters(**values)


def filtered(filters: CallFilters, tz: tzinfo) -> Select[Any]:
    """SELECT of the call records matching the filters (no order, no limit)."""
    query = select(CallRecord)
    start, end = bounds(filters.date_from, filters.date_to, tz)
    if start is not None:
        query = query.where(CallRecord.started_at >= start)
    if end is not None:
        query = query.where(CallRecord.started_at < end)
    if filters.topic:
        query = query.where(CallRecord.topic == filters.topic)
    if filters.language:
        query = query.where(CallRecord.language == filters.language)
    if filters.outcome == "unanswered":
        query = query.where(CallRecord.outcome.in_(UNANSWERED))
    elif filters.outcome:
        query = query.where(CallRecord.outcome == filters.outcome)
    if filters.volunteer:
        query = query.where(CallRecord.answered_by_id == filters.volunteer)
    return query


def ordered(query: Select[Any], sort: str) -> Select[Any]:
    """The query in the chosen order; ties broken by id so pages never overlap."""
    descending = sort.startswith("-")
    column = SORT_COLUMNS[sort.lstrip("-")]
    key = column.desc() if descending else column.asc()
    if column.nullable:
        key = key.nulls_last()
    # started_at is never NULL: without NULLS LAST, PostgreSQL reads its index backwards for the
    # newest-first default instead of sorting every matching row.
    tie = CallRecord.id.desc() if descending else CallRecord.id.asc()
    return query.order_by(key, tie)


# Counted exactly up to this many (a bounded scan); beyond it the page shows PostgreSQL's
# estimate, because count(*) over millions of rows would cost most of every page's time.
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Total:
    """How many records the filters match: exact, or (past COUNT_CAP) the planner's estimate."""

    number: int
    exact: bool


def count(db: Session, query: Select[Any]) -> Total:
    """How many records the query matches; at most COUNT_CAP + 1 rows are read to know it."""
    if db.get_bind().dialect.name != "postgresql":
        counted = query.with_only_columns(func.count(CallRecord.id)).order_by(None)
        return Total(int(db.scalar(counted) or 0), exact=True)  # (SQLite: small installs)
    capped = query.with_only_columns(CallRecord.id).order_by(None).limit(COUNT_CAP + 1)
    found = int(db.scalar(select(func.count()).select_from(capped.subquery())) or 0)
    if found <= COUNT_CAP:
        return Total(found, exact=True)
    return Total(max(found, _estimate(db, query)), exact=False)


def _estimate(db: Session, query: Select[Any]) -> int:
    """The planner's row estimate for the query (from the table's statistics: no rows read)."""
    compiled = (
        query.with_only_columns(CallRecord.id)
        .order_by(None)
        .compile(db.get_bind(), compile_kwargs={"render_postcompile": True})  # IN (...) lists
    )
    # The driver's own placeholders and parameters, as SQLAlchemy compiled them.
    result = db.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    plan: Any = result.scalar()
    return int(plan[0]["Plan"]["Plan Rows"])


def repeat_counts(db: Session, calls: Sequence[Any]) -> dict[int, int]:
    """For each call, how many calls its caller made in the 30 days up to it (itself included).

    One query for the page (or a CSV chunk); the keys never leave here. `calls`: records, or
    rows with their id, caller_key and started_at.
    """
    keyed = [call for call in calls if call.caller_key]
    if not keyed:
        return {}
    windows: dict[str, tuple[datetime, datetime]] = {}
    for call in keyed:
        low, high = windows.get(call.caller_key, (call.started_at, call.started_at))
        windows[call.caller_key] = (min(low, call.started_at), max(high, call.started_at))
    times: dict[str, list[datetime]] = defaultdict(list)
    for key, started in _caller_times(db, windows):
        times[str(key)].append(started)
    for values in times.values():
        values.sort()
    result = {}
    for call in keyed:
        series = times[call.caller_key]
        since = bisect_right(series, call.started_at - REPEAT_WINDOW)
        result[call.id] = max(1, bisect_right(series, call.started_at) - since)
    return result


# Each caller's own calls from 30 days before their first call in the batch up to their last:
# one index-only range scan of ix_call_records_caller_key_started_at per caller, whatever the
# batch's order. (One time span for the whole batch, as before, is the whole year for a CSV
# sorted by wait or duration: every call of every caller in it, 7 times the rows at 5,000,000
# records.) The keys go in sorted, so the scans walk the index in its order.
_CALLER_TIMES = text(
    """
    SELECT r.caller_key, r.started_at
    FROM unnest(CAST(:keys AS text[]), CAST(:lows AS timestamptz[]), CAST(:highs AS timestamptz[]))
        AS w (caller_key, low, high)
    JOIN call_records AS r
        ON r.caller_key = w.caller_key AND r.started_at > w.low AND r.started_at <= w.high
    """
).columns(caller_key=String, started_at=UTCDateTime)
# Callers per statement: on a cold cache each one costs a few random reads (index leaf, heap
# pages not yet all-visible), so a CSV chunk's thousand callers in one statement could outlast
# the statement timeout on a slow disk; this many stays far below it at 5 ms a read.
LOOKUP_BATCH = 200


def _caller_times(
    db: Session, windows: Mapping[str, tuple[datetime, datetime]]
) -> Iterable[tuple[str, datetime]]:
    """(caller key, start) of each call in its caller's window: (first - 30 days, last]."""
    keys = sorted(windows)
    if db.get_bind().dialect.name == "postgresql":
        for begin in range(0, len(keys), LOOKUP_BATCH):
            batch = keys[begin : begin + LOOKUP_BATCH]
            rows = db.execute(
                _CALLER_TIMES,
                {
                    "keys": batch,
                    "lows": [windows[key][0] - REPEAT_WINDOW for key in batch],
                    "highs": [windows[key][1] for key in batch],
                },
            )
            yield from rows
        return
    # SQLite (small installs): one time span for all the keys.
    low = min(first for first, _ in windows.values()) - REPEAT_WINDOW
    high = max(last for _, last in windows.values())
    rows = db.execute(
        select(CallRecord.caller_key, CallRecord.started_at).where(
            CallRecord.caller_key.in_(keys),
            CallRecord.started_at > low,
            CallRecord.started_at <= high,
        )
    )
    yield from ((str(key), started) for key, started in rows)


def chunks(items: Iterable[T], size: int) -> Iterable[list[T]]:
    """Split a stream of records into lists of `size` (for the CSV's repeat counts)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
