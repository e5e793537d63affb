"""The center's figures from outcome reports, counted in SQL on both databases.

For a period (UTC bounds, by the call's start) and optionally a topic:
- calls: reports (one per connected call) with the option chosen;
- people: distinct caller keys among them. A key is a keyed hash of the phone number, so this
  counts phones, not persons (two people on one phone are one, one person on two phones is
  two); calls from a withheld number have no key and count as no one.
Per field and option (kind of harm, sex, age band, what was given, referrals, ...), shelter
admissions (shelter_admitted = yes), and each field's options by sex ("21 sheltered: 16 women
and 5 men who suffered forced labor").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from ..models import DailyOutcomes, OutcomeChoice, OutcomeReport
from . import aggregates
from .model import YES


@dataclass
class Count:
    calls: int = 0
    people: int | None = 0  # None: not known (read from daily totals, which keep no keys)

    def add(self, other: Count) -> None:
        self.calls += other.calls
        self.people = (
            None if self.people is None or other.people is None else self.people + other.people
        )


@dataclass
class OutcomeFigures:
    reported: Count = field(default_factory=Count)  # connected calls with a report
    by_field: dict[str, dict[str, Count]] = field(default_factory=lambda: defaultdict(dict))
    # field -> (option, sex option) -> calls and people, for every field but sex itself
    by_sex: dict[str, dict[tuple[str, str], Count]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    def count(self, field_id: str, option: str) -> Count:
        return self.by_field.get(field_id, {}).get(option, Count())

    @property
    def shelter_admissions(self) -> Count:
        return self.count("shelter_admitted", YES)


def for_days(
    db: Session,
    tz: ZoneInfo,
    first: date,
    last: date,
    topic: str | None = None,
    language: str | None = None,
    people: bool = True,
) -> OutcomeFigures:
    """The figures for local days first..last. With people, while every record of the period
    is kept, they are counted from the reports, people included (distinct keys: every report of
    the period is read). Otherwise, or for a period reaching back past the last purge, the
    closed days come from the daily totals and people are not known (None)."""
    start = aggregates.day_start(first, tz)
    end = aggregates.day_start(last + timedelta(days=1), tz)
    cutoff = aggregates.purge_cutoff(db)
    if people and (cutoff is None or start >= cutoff):
        return compute(db, start, end, topic, language)
    figures = OutcomeFigures(reported=Count(0, None))
    closed = aggregates.closed_days(db, first, last)
    if closed:
        _from_daily_totals(db, min(closed), max(closed), topic, language, figures)
    for run_first, run_last in aggregates.open_runs(first, last, closed):
        part = compute(
            db,
            aggregates.day_start(run_first, tz),
            aggregates.day_start(run_last + timedelta(days=1), tz),
            topic,
            language,
        )
        _add_without_people(part, figures)
    return figures


def _from_daily_totals(
    db: Session,
    first: date,
    last: date,
    topic: str | None,
    language: str | None,
    figures: OutcomeFigures,
) -> None:
    # The rows summed over what is not filtered: a few dozen a day.
    rows = db.execute(
        select(DailyOutcomes.field, DailyOutcomes.option, func.sum(DailyOutcomes.calls))
        .where(*aggregates.summed_where(DailyOutcomes, first, last, topic, language))
        .group_by(DailyOutcomes.field, DailyOutcomes.option)
    )
    for field_id, option, n in rows:
        count = Count(int(n or 0), None)
        if field_id == "":
            figures.reported.add(count)
        elif field_id.endswith("|" + aggregates.SEX):
            value, sex = option.rsplit("|", 1)
            cells = figures.by_sex[field_id.rsplit("|", 1)[0]]
            cells.setdefault((value, sex), Count(0, None)).add(count)
        else:
            figures.by_field[field_id].setdefault(option, Count(0, None)).add(count)


def _add_without_people(part: OutcomeFigures, figures: OutcomeFigures) -> None:
    figures.reported.add(Count(part.reported.calls, None))
    for field_id, options in part.by_field.items():
        for option, count in options.items():
            figures.by_field[field_id].setdefault(option, Count(0, None)).add(count)
    for field_id, cells in part.by_sex.items():
        for key, count in cells.items():
            figures.by_sex[field_id].setdefault(key, Count(0, None)).add(count)


def _where(
    start: datetime, end: datetime, topic: str | None, language: str | None
) -> list[ColumnElement[bool]]:
    conditions = [OutcomeReport.call_started_at >= start, OutcomeReport.call_started_at < end]
    if topic:
        conditions.append(OutcomeReport.topic == topic)
    if language:
        conditions.append(OutcomeReport.language == language)
    return conditions


def compute(
    db: Session,
    start: datetime,
    end: datetime,
    topic: str | None = None,
    language: str | None = None,
) -> OutcomeFigures:
    """Every outcome figure for reports of calls started in [start, end), in three queries."""
    figures = OutcomeFigures()
    where = _where(start, end, topic, language)
    people = func.count(distinct(OutcomeReport.caller_key))
    calls, keys = db.execute(select(func.count(), people).where(*where)).one()
    figures.reported = Count(int(calls), int(keys))
    rows = db.execute(
        select(OutcomeChoice.field, OutcomeChoice.option, func.count(), people)
        .join(OutcomeReport, OutcomeChoice.report_id == OutcomeReport.id)
        .where(*where)
        .group_by(OutcomeChoice.field, OutcomeChoice.option)
    )
    for field_id, option, n, distinct_keys in rows:
        figures.by_field[field_id][option] = Count(int(n), int(distinct_keys))
    other, sex = aliased(OutcomeChoice), aliased(OutcomeChoice)
    crossed = db.execute(
        select(other.field, other.option, sex.option, func.count(), people)
        .join(OutcomeReport, other.report_id == OutcomeReport.id)
        .join(sex, sex.report_id == OutcomeReport.id)
        .where(*where, other.field != "sex", sex.field == "sex")
        .group_by(other.field, other.option, sex.option)
    )
    for field_id, option, sex_id, n, distinct_keys in crossed:
        figures.by_sex[field_id][(option, sex_id)] = Count(int(n), int(distinct_keys))
    return figures


def people_by_option(
    db: Session, tz: ZoneInfo, first: date, last: date, field_id: str
) -> dict[str, int] | None:
    """Distinct caller keys per option of one field for local days first..last, read from the
    reports (one query); None for a period reaching back past the last purge (no keys kept)."""
    start = aggregates.day_start(first, tz)
    end = aggregates.day_start(last + timedelta(days=1), tz)
    cutoff = aggregates.purge_cutoff(db)
    if cutoff is not None and start < cutoff:
        return None
    rows = db.execute(
        select(OutcomeChoice.option, func.count(distinct(OutcomeReport.caller_key)))
        .join(OutcomeReport, OutcomeChoice.report_id == OutcomeReport.id)
        .where(*_where(start, end, None, None), OutcomeChoice.field == field_id)
        .group_by(OutcomeChoice.option)
    )
    return {option: int(n) for option, n in rows}
