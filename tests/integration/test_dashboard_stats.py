"""Statistics against figures computed by hand, on both databases; the funders' report's
suppression; the local-time SQL across Almaty's 2024 change of offset."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from test_dashboard_support import add_call, add_callback, clock, dash, db, local, people

from hotline.dashboard.stats.query import Period, compute, median_wait
from hotline.dashboard.stats.report import build_tables
from hotline.models import AuditEvent, CallbackRequest

# pytest finds fixtures by name in the test module: these imports are the fixtures.
FIXTURES = (clock, dash, db, people)

ALMATY = ZoneInfo("Asia/Almaty")
MON = date(2026, 3, 2)
WEEK = Period(local(MON, 0), local(MON + timedelta(days=7), 0))


def day(offset: int) -> date:
    return MON + timedelta(days=offset)


@pytest.fixture
def week(db):
    """Nine calls in the week of Monday 2 March 2026 and two just outside it (Almaty time).

    answered: 1, 2, 5, 9 (waits 20, 40, 60, 100) -> median 50
    unanswered: 3, 6, 8 missed; 4 abandoned while waiting -> 4 of 8 asked, answer rate 50 %
    7 hung up in the menu (no topic): counted as a call, not as asking for a volunteer
    """
    rows = [
        (local(day(0), 10, 15), "violence", "ru", "connected", 20),
        (local(day(0), 10, 40), "violence", "kk", "connected", 40),
        (local(day(0), 23, 30), "trafficking", "ru", "nobody_available", None),
        (local(day(1), 0, 30), "trafficking", "ru", "abandoned_waiting", None),  # Monday in UTC
        (local(day(1), 14, 0), "labor", "en", "connected", 60),
        (local(day(2), 9, 5), "labor", "ru", "no_answer", None),
        (local(day(2), 9, 50), None, "ru", "abandoned_in_menu", None),
        (local(day(6), 22, 10), "trafficking", "kk", "callback_requested", None),
        (local(day(6), 23, 59), "violence", "ru", "connected", 100),
        (local(day(7), 0, 10), "violence", "ru", "connected", 5),  # next Monday: outside
        (local(day(-1), 23, 50), "violence", "ru", "connected", 7),  # the Sunday before
    ]
    for started, topic, language, outcome, wait in rows:
        add_call(db, started, topic=topic, language=language, outcome=outcome, wait_seconds=wait)


def test_totals_answer_rate_and_median_wait(db, week):
    figures = compute(db, WEEK, ALMATY)
    total = figures.total
    assert (total.calls, total.asked, total.connected, total.unanswered) == (9, 8, 4, 4)
    assert total.answer_rate == 0.5
    assert figures.median_wait == 50.0


def test_calls_per_local_day_by_topic(db, week):
    per_day = compute(db, WEEK, ALMATY).per_day
    assert dict(per_day) == {
        day(0): {"violence": 2, "trafficking": 1},
        day(1): {"trafficking": 1, "labor": 1},
        day(2): {"labor": 1, "": 1},
        day(6): {"trafficking": 1, "violence": 1},
    }


def test_unanswered_by_weekday_and_local_hour(db, week):
    grid = compute(db, WEEK, ALMATY).unanswered_grid
    nonzero = {(d, h): grid[d][h] for d in range(7) for h in range(24) if grid[d][h] != (0, 0)}
    # (missed, abandoned): Monday 23h, Tuesday 0h (abandoned), Wednesday 9h, Sunday 22h
    assert nonzero == {(0, 23): (1, 0), (1, 0): (0, 1), (2, 9): (1, 0), (6, 22): (1, 0)}


def test_by_topic_and_language(db, week):
    figures = compute(db, WEEK, ALMATY)
    topics = {k: (c.calls, c.connected, c.unanswered) for k, c in figures.by_topic.items()}
    assert topics == {
        "violence": (3, 3, 0),
        "trafficking": (3, 0, 3),
        "labor": (2, 1, 1),
        "": (1, 0, 0),
    }
    assert {k: c.calls for k, c in figures.by_language.items()} == {"ru": 6, "kk": 2, "en": 1}


def test_filters_narrow_every_figure(db, week):
    trafficking = compute(db, Period(WEEK.start, WEEK.end, topic="trafficking"), ALMATY)
    assert (trafficking.total.calls, trafficking.total.unanswered) == (3, 3)
    assert trafficking.total.answer_rate == 0.0 and trafficking.median_wait is None
    russian = Period(WEEK.start, WEEK.end, language="ru")
    assert median_wait(db, russian) == 60.0  # 20 and 100
    kazakh = Period(WEEK.start, WEEK.end, language="kk")
    assert median_wait(db, kazakh) == 40.0  # a single answered call


def test_an_empty_period_has_no_rates(db):
    figures = compute(db, WEEK, ALMATY)
    assert figures.total.calls == 0 and figures.total.answer_rate is None
    assert figures.median_wait is None


def test_local_days_follow_almatys_2024_change_of_offset(db):
    # Almaty moved from UTC+6 to UTC+5 on 1 March 2024 at 00:00 local time.
    before = datetime(2024, 2, 29, 20, 30, tzinfo=UTC)  # 02:30 on 1 March at UTC+6
    after = datetime(2024, 3, 1, 19, 30, tzinfo=UTC)  # 00:30 on 2 March at UTC+5
    add_call(db, before)
    add_call(db, after, outcome="no_answer")
    period = Period(datetime(2024, 2, 25, tzinfo=UTC), datetime(2024, 3, 5, tzinfo=UTC))
    figures = compute(db, period, ALMATY)
    expected = {t.astimezone(ALMATY).date() for t in (before, after)}
    assert set(figures.per_day) == expected == {date(2024, 3, 1), date(2024, 3, 2)}
    hour = after.astimezone(ALMATY).hour
    assert figures.unanswered_grid[after.astimezone(ALMATY).weekday()][hour] == (1, 0)


def test_callback_counts(app, db, clock, dash, people):
    for _ in range(3):
        add_callback(app, db, clock.now)
    request = db.scalars(select(CallbackRequest)).first()
    request.status, request.number_ciphertext = "completed", None
    db.commit()
    dash.login("boss")
    page = dash.client.get("/dashboard/stats").text
    assert "Requested in the period; 2 still open." in page


# --- the pages --------------------------------------------------------------------------------


def test_the_statistics_page_shows_the_figures_and_charts(dash, db, people, week):
    dash.login("boss")
    page = dash.client.get("/dashboard/stats?from=2026-03-02&to=2026-03-08").text
    for text in ("50%", "0:50", "Calls per day by topic", "<svg", "Mon 23:00: 1 unanswered"):
        assert text in page
    assert "<script" not in page


def test_the_statistics_page_refuses_bad_periods(dash, people):
    dash.login("boss")
    assert dash.client.get("/dashboard/stats?from=2026-03-09&to=2026-03-01").status_code == 400
    assert dash.client.get("/dashboard/stats?from=2000-01-01&to=2026-01-01").status_code == 400
    assert dash.client.get("/dashboard/stats?language=de").status_code == 400


def test_the_statistics_view_is_audited(dash, db, people):
    dash.login("boss")
    dash.client.get("/dashboard/stats?from=2026-03-01&to=2026-03-31&topic=labor")
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "stats_view")).one()
    assert event.detail == "from=2026-03-01 to=2026-03-31 topic=labor"


def test_the_funders_report_hides_small_cells_and_their_complements(db, week):
    tables = build_tables(compute(db, WEEK, ALMATY), {"completed": 7, "failed": 2})
    by_language = tables[0].table
    # Every count of this week is under 5: every non-zero inner cell is hidden ...
    for r, row in enumerate(by_language.grid[:-1]):
        for c, value in enumerate(row[:-1]):
            assert by_language.hidden[r][c] == (value > 0)
    # ... and the grand total (9) is shown, since at least two of its parts are hidden.
    assert by_language.shown(len(by_language.grid) - 1, len(by_language.grid[0]) - 1) == 9
    callbacks = tables[2].table
    assert callbacks.shown(0, 0) is None and callbacks.shown(0, 1) is None  # 7 hides 2


def test_the_report_page_never_prints_a_suppressed_value(dash, db, people, week):
    dash.login("boss")
    page = dash.client.get("/dashboard/report?from=2026-03-02&to=2026-03-08").text
    assert page.count('class="suppressed"') >= 8
    csv_text = dash.client.get("/dashboard/report.csv?from=2026-03-02&to=2026-03-08").text
    assert "*" in csv_text and "Calls by topic and language" in csv_text
    actions = [e.action for e in db.scalars(select(AuditEvent))]
    assert "report_view" in actions and "report_export" in actions
