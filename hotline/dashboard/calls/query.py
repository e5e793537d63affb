"""The call log's filters, query, and the repeat-caller count, shared by the page and the CSV."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

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
    compiled = query.with_only_columns(CallRecord.id).order_by(None).compile(db.get_bind())
    # The driver's own placeholders and parameters, as SQLAlchemy compiled them.
    result = db.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    plan: Any = result.scalar()
    return int(plan[0]["Plan"]["Plan Rows"])


def repeat_counts(db: Session, calls: Sequence[Any]) -> dict[int, int]:
    """For each call, how many calls its caller made in the 30 days up to it (itself included).

    One query for the whole page, bounded by the page's time span; the keys never leave here.
    `calls`: records, or rows with their id, caller_key and started_at.
    """
    keyed = [call for call in calls if call.caller_key]
    if not keyed:
        return {}
    low = min(call.started_at for call in keyed) - REPEAT_WINDOW
    high = max(call.started_at for call in keyed)
    times: dict[str, list] = defaultdict(list)
    rows = db.execute(
        select(CallRecord.caller_key, CallRecord.started_at).where(
            CallRecord.caller_key.in_({call.caller_key for call in keyed}),
            CallRecord.started_at > low,
            CallRecord.started_at <= high,
        )
    )
    for key, started in rows:
        times[str(key)].append(started)
    for values in times.values():
        values.sort()
    result = {}
    for call in keyed:
        series = times[call.caller_key]  # type: ignore[index]
        since = bisect_right(series, call.started_at - REPEAT_WINDOW)
        result[call.id] = max(1, bisect_right(series, call.started_at) - since)
    return result


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
