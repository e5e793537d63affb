"""Daily totals: kept after `hotline purge`, updated day by day and by late reports, and the
same as a rebuild from the records; the statistics read them and show the same figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from test_dashboard_support import add_call, clock, db, people

from hotline.calllog.retention import purge
from hotline.dashboard.stats.callback_stats import callback_counts
from hotline.dashboard.stats.query import Period, compute
from hotline.models import (
    CallbackDay,
    CallbackRequest,
    CallRecord,
    ClosedDay,
    DailyCallbacks,
    DailyCalls,
    DailyOutcomes,
    DailyUnanswered,
    DailyWaits,
    PurgeRun,
)
from hotline.outcomes import aggregates, callback_totals, figures, store
from hotline.outcomes.store import CallKind

FIXTURES = (clock, db, people)
ALMATY = ZoneInfo("Asia/Almaty")
YEAR = (date(2025, 1, 1), date(2025, 12, 31))
OUTCOMES = ["connected", "no_answer", "abandoned_waiting", "connected", "emergency_info"]
ANSWERS = [
    {"who_called": "affected", "sex": "female", "harm": ["forced_labor"], "referrals": ["shelter"],
     "shelter_admitted": "yes"},
    {"who_called": "affected", "sex": "male", "harm": ["unpaid_wages"], "given": ["legal"]},
]  # fmt: skip


CALLBACK_ENDS = ["completed", "failed", "expired", "cancelled", "completed"]


def add_request(db, created: datetime, status: str, n: int = 0) -> CallbackRequest:
    request = CallbackRequest(
        topic=("trafficking", "labor")[n % 2], language=("ru", "kk")[n % 2], window="any",
        identify=False, status=status, expires_at=created + timedelta(hours=72),
        number_last_digits="67", created_at=created,
        ended_at=None if status in ("pending", "dialing") else created + timedelta(hours=2),
    )  # fmt: skip
    db.add(request)
    db.commit()
    return request


def local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ALMATY).astimezone(UTC)


def a_year_of_calls(db, volunteer_id: int, every: int = 9, report_every: int = 1) -> None:
    """A call every `every` days of 2025 at varied hours, outcomes and waits; one connected
    call in report_every reported (every other report a shelter admission)."""
    day, n = YEAR[0], 0
    while day <= YEAR[1]:
        outcome = OUTCOMES[n % len(OUTCOMES)]
        call = add_call(
            db, local(day, (7 * n) % 24), topic=("trafficking", "labor", None)[n % 3],
            language=("ru", "kk")[n % 2], outcome=outcome, wait_seconds=5 + n % 40,
            answered_by_id=volunteer_id if outcome == "connected" else None,
            caller_key=f"{n % 7:064d}",
        )  # fmt: skip
        if outcome == "no_answer":  # the caller asked to be called back
            add_request(db, local(day, 12), CALLBACK_ENDS[(n // 5) % len(CALLBACK_ENDS)], n)
        if outcome == "connected" and (n // 5) % report_every == 0:
            found = store.find_call(db, CallKind.CALL, call.id)
            assert found is not None
            store.save(db, found, ANSWERS[n % 2], local(day, 23), None, tz=ALMATY)
            db.commit()
        day, n = day + timedelta(days=every), n + 1


def the_year(db) -> tuple:
    """What the statistics page and the funders' report count for 2025."""
    start, end = (
        aggregates.day_start(YEAR[0], ALMATY),
        aggregates.day_start(date(2026, 1, 1), ALMATY),
    )
    calls = compute(db, Period(start, end), ALMATY)
    outcome = figures.for_days(db, ALMATY, *YEAR)
    filters = (("trafficking", None), (None, "kk"), ("labor", "ru"))
    filtered = [
        compute(db, Period(start, end, topic, language), ALMATY) for topic, language in filters
    ]
    filtered_outcomes = [
        figures.for_days(db, ALMATY, *YEAR, topic=topic, language=language)
        for topic, language in filters
    ]
    callbacks = [
        callback_counts(db, Period(start, end, topic, language), ALMATY)
        for topic, language in ((None, None), *filters)
    ]
    return (
        callbacks,
        [(f.total, f.unanswered_grid, f.median_wait) for f in filtered],
        [
            (o.reported.calls, {f: {k: c.calls for k, c in v.items()} for f, v in o.by_sex.items()})
            for o in filtered_outcomes
        ],
        calls.total, dict(calls.by_topic_language), calls.unanswered_grid, calls.median_wait,
        {k: dict(v) for k, v in calls.per_day.items()},
        outcome.reported.calls, outcome.shelter_admissions.calls,
        {f: {o: c.calls for o, c in options.items()} for f, options in outcome.by_field.items()},
        {f: {k: c.calls for k, c in cells.items()} for f, cells in outcome.by_sex.items()},
    )  # fmt: skip


TOTALS = (DailyCalls, DailyUnanswered, DailyWaits, DailyOutcomes, DailyCallbacks)


def totals(db) -> dict[str, list[tuple]]:
    """Every row of the daily tables."""
    found = {}
    for table in TOTALS:
        columns = [c for c in table.__table__.columns]
        found[table.__tablename__] = sorted(tuple(row) for row in db.execute(select(*columns)))
    return found


def test_a_purge_keeps_the_yearly_totals(db, people):
    a_year_of_calls(db, people.own.id)
    before = the_year(db)
    assert before[3].calls == 41 and before[8] == 17  # calls, reported calls
    callbacks = {"completed": 3, "failed": 2, "expired": 2, "cancelled": 1}
    assert before[0][0] == {**callbacks, "requested": 8, "open": 0}
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    report = purge(db, now, 365, ALMATY)  # everything before 1 July 2025 goes
    db.add(PurgeRun(ran_at=now, retention_days=365))
    db.commit()
    assert report.calls == 21
    assert (
        db.scalar(select(CallRecord.id).where(CallRecord.started_at < local(date(2025, 7, 1), 0)))
        is None
    )
    after = the_year(db)
    assert after == before
    # People are not known for a period reaching back before the purge: daily totals keep none.
    assert figures.for_days(db, ALMATY, *YEAR).reported.people is None
    assert figures.for_days(db, ALMATY, date(2025, 7, 2), YEAR[1]).reported.people is not None


def test_day_by_day_closing_and_late_reports_give_what_a_rebuild_gives(db, people):
    a_year_of_calls(db, people.own.id, every=3, report_every=2)
    # Incremental: the worker closes the days as they settle, a month at a time here.
    for offset in range(0, 366, 30):
        aggregates.close_days(db, ALMATY, YEAR[0] + timedelta(days=offset))
        db.commit()
    aggregates.close_days(db, ALMATY, YEAR[1])
    db.commit()
    # After its day was closed, a report comes in late and a supervisor corrects another.
    unreported = [c for c in connected(db) if c.report is None]
    store.save(db, unreported[3], ANSWERS[0], local(date(2026, 1, 5), 9), None, tz=ALMATY)
    reported = [c for c in connected(db) if c.report is not None]
    store.save(
        db, reported[5], ANSWERS[0], local(date(2026, 1, 5), 9), reported[5].report.version,
        corrected_by=1, tz=ALMATY,
    )  # fmt: skip
    db.commit()
    incremental, with_totals = totals(db), the_year(db)
    assert aggregates.rebuild(db, ALMATY, YEAR[1]) == 365
    db.commit()
    assert totals(db) == incremental
    # And the figures read from the totals are those the records give.
    for table in (*TOTALS, ClosedDay, CallbackDay):
        db.execute(delete(table))
    db.commit()
    assert the_year(db) == with_totals


def connected(db) -> list:
    ids = db.scalars(select(CallRecord.id).where(CallRecord.outcome == "connected"))
    return [store.find_call(db, CallKind.CALL, i) for i in ids]


def test_yesterday_closes_once_its_calls_have_settled(db):
    now = local(date(2025, 3, 2), 9)  # 9:00 on 2 March, Almaty
    assert aggregates.closable_through(db, now, ALMATY) == date(2025, 3, 1)
    # Just after midnight, the last events of yesterday's calls may not be applied yet.
    assert aggregates.closable_through(db, local(date(2025, 3, 2), 0), ALMATY) == date(2025, 2, 28)
    # A call of yesterday still going on (or just ended): its outcome may change, the day
    # waits (at most SETTLE_DAYS: a status callback that never comes holds nothing for ever).
    call = add_call(db, local(date(2025, 3, 1), 23), outcome="routing", ended_at=None)
    assert aggregates.closable_through(db, now, ALMATY) == date(2025, 2, 28)
    assert aggregates.closable_through(db, now + timedelta(days=1), ALMATY) == date(2025, 3, 2)
    call.outcome, call.ended_at = "abandoned_waiting", now - timedelta(minutes=5)
    db.commit()
    assert aggregates.closable_through(db, now, ALMATY) == date(2025, 2, 28)
    assert aggregates.closable_through(db, now + timedelta(minutes=6), ALMATY) == date(2025, 3, 1)


def test_a_days_callbacks_are_counted_once_all_have_ended(db):
    monday, tuesday = date(2025, 3, 3), date(2025, 3, 4)
    add_request(db, local(monday, 10), "completed")
    waiting = add_request(db, local(monday, 20), "pending")
    add_request(db, local(tuesday, 9), "expired")
    day_start = aggregates.day_start
    both_days = (day_start(monday, ALMATY), day_start(tuesday + timedelta(days=1), ALMATY))
    counted = {"completed": 1, "pending": 1, "expired": 1, "requested": 3, "open": 1}
    # Monday still has a request open: neither day is counted yet, both are read live.
    assert callback_totals.fold(db, ALMATY, tuesday) == 0
    assert callback_counts(db, Period(*both_days), ALMATY) == counted
    waiting.status, waiting.ended_at = "completed", local(tuesday, 8)
    db.commit()
    assert callback_totals.fold(db, ALMATY, tuesday) == 2
    db.commit()
    counted.update(completed=2, pending=0, open=0)
    del counted["pending"]
    assert callback_counts(db, Period(*both_days), ALMATY) == counted
    # Read from the totals now: the requests themselves could go.
    db.execute(delete(CallbackRequest))
    db.commit()
    assert callback_counts(db, Period(*both_days), ALMATY) == counted


def test_a_purge_counts_a_request_still_open_as_it_stood(db):
    day = date(2025, 3, 3)
    add_request(db, local(day, 10), "failed")
    add_request(db, local(day, 11), "dialing")
    now = local(day, 12) + timedelta(days=365)
    report = purge(db, now, 365, ALMATY)
    db.add(PurgeRun(ran_at=now, retention_days=365))
    db.commit()
    assert report.callbacks == 1  # the open request is kept
    period = Period(
        aggregates.day_start(day, ALMATY), aggregates.day_start(day + timedelta(days=1), ALMATY)
    )
    assert callback_counts(db, period, ALMATY) == {
        "failed": 1, "dialing": 1, "requested": 2, "open": 1
    }  # fmt: skip
    # Counted once, not again from the request that is still there.
    callback_totals.fold(db, ALMATY, day + timedelta(days=400))
    db.commit()
    assert callback_counts(db, period, ALMATY)["requested"] == 2
