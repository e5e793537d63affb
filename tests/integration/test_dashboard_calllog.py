"""The call log: filters, sorting, pages, bad parameters, detail, repeat callers, CSV, privacy."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from privacy_scan import contains_number
from sqlalchemy import select
from test_dashboard_support import (
    CALLBACK_NUMBER,
    OTHER_PHONE,
    VOLUNTEER_PHONE,
    add_call,
    add_callback,
    add_volunteer,
    clock,
    dash,
    db,
    local,
    people,
)

from hotline.calllog.pseudonym import caller_key
from hotline.dashboard.calls import query as calllog_query
from hotline.dashboard.calls import views as calllog_views
from hotline.models import AuditEvent

# pytest finds fixtures by name in the test module: these imports are the fixtures.
FIXTURES = (clock, dash, db, people)

MON = date(2026, 3, 2)
CALLER = "+77015550123"


@pytest.fixture
def calls(app, db, people):
    """Six calls in the week of 2 March 2026 (Almaty time), three from one caller."""
    key = caller_key(CALLER, app.config["SETTINGS"].pseudonym_key)
    return {
        "a": add_call(
            db,
            local(MON, 10),
            topic="violence",
            language="ru",
            wait_seconds=20,
            caller_key=key,
            answered_by_id=people.own.id,
            duration_seconds=600,
        ),
        "b": add_call(
            db,
            local(MON, 23, 30),
            topic="trafficking",
            language="kk",
            outcome="nobody_available",
            caller_key=key,
        ),
        "c": add_call(
            db,
            local(MON + timedelta(days=1), 0, 30),
            topic="trafficking",
            language="ru",
            outcome="abandoned_waiting",
            caller_key=key,
        ),
        "d": add_call(
            db,
            local(MON + timedelta(days=2), 9),
            topic="labor",
            language="en",
            wait_seconds=45,
            answered_by_id=people.other.id,
            duration_seconds=100,
        ),
        "e": add_call(
            db,
            local(MON + timedelta(days=3), 15),
            topic=None,
            language="ru",
            outcome="abandoned_in_menu",
            ivr_path=["greeting", "language:2"],
        ),
        "f": add_call(
            db,
            local(MON + timedelta(days=40), 11),
            topic="violence",
            language="ru",
            wait_seconds=5,
            caller_key=key,
            duration_seconds=60,
        ),
    }


def _link(call) -> re.Pattern[str]:
    return re.compile(rf'/dashboard/calls/{call.id}["?]')


def _ids(page: str, calls) -> set[str]:
    return {name for name, call in calls.items() if _link(call).search(page)}


def _row(page: str, call) -> str:
    return page[_link(call).search(page).start() :].split("</tr>")[0]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", {"a", "b", "c", "d", "e", "f"}),
        ("from=2026-03-02&to=2026-03-02", {"a", "b"}),  # local days: 23:30 is still Monday
        ("from=2026-03-03&to=2026-03-03", {"c"}),  # 00:30 local is Tuesday (Monday in UTC)
        ("topic=trafficking", {"b", "c"}),
        ("language=ru", {"a", "c", "e", "f"}),
        ("outcome=unanswered", {"b", "c"}),
        ("outcome=abandoned_in_menu", {"e"}),
        ("topic=violence&from=2026-03-01&to=2026-03-31", {"a"}),
    ],
)
def test_filters_select_the_right_calls(dash, people, calls, query, expected):
    dash.login("boss")
    page = dash.client.get(f"/dashboard/calls?{query}").text
    assert _ids(page, calls) == expected


def test_volunteer_filter_shows_the_calls_they_answered(dash, people, calls):
    dash.login("boss")
    page = dash.client.get(f"/dashboard/calls?volunteer={people.other.id}").text
    assert _ids(page, calls) == {"d"}


def test_sorting_by_wait_puts_longest_first_and_empty_last(dash, people, calls):
    dash.login("boss")
    page = dash.client.get("/dashboard/calls?sort=-wait_seconds").text
    positions = [_link(calls[n]).search(page).start() for n in ("d", "a", "f", "b")]
    assert positions == sorted(positions)


def test_pages_of_fifty(app, dash, db, people):
    for minute in range(55):
        add_call(db, local(MON, 8) + timedelta(minutes=minute))
    dash.login("boss")
    assert dash.client.get("/dashboard/calls").text.count('href="/dashboard/calls/') == 50
    second = dash.client.get("/dashboard/calls?page=2")
    assert second.status_code == 200 and second.text.count('href="/dashboard/calls/') == 5
    beyond = dash.client.get("/dashboard/calls?page=3")
    assert beyond.status_code == 404 and "only 2 pages" in beyond.text


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2026-13-01", "from: expected a date like 2026-03-31"),
        ("to=yesterday", "to: expected a date like 2026-03-31"),
        ("from=2026-03-10&to=2026-03-01", "the start date is after the end date"),
        ("page=0", "page: expected a whole number from 1"),
        ("page=-1", "page: expected a whole number from 1"),
        ("page=abc", "page: expected a whole number from 1"),
        ("topic=weather", "topic: unknown value"),
        ("outcome=connected%27%20OR%201=1", "outcome: unknown value"),
        ("volunteer=abc", "volunteer: expected an id number"),
        ("sort=password_hash", "sort: unknown value"),
        ("topic=" + "x" * 200, "topic: the value is too long"),
    ],
)
def test_malformed_parameters_get_a_400_page_that_says_why(dash, people, query, message):
    dash.login("boss")
    for path in ("/dashboard/calls", "/dashboard/calls.csv"):
        response = dash.client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert message in response.text


def test_every_problem_is_listed_at_once(dash, people):
    dash.login("boss")
    page = dash.client.get("/dashboard/calls?from=x&page=y&topic=z").text
    assert "from:" in page and "page:" in page and "topic:" in page


def test_a_script_in_a_parameter_is_never_echoed(dash, people):
    dash.login("boss")
    page = dash.client.get("/dashboard/calls?topic=%3Cscript%3Ealert(1)%3C/script%3E").text
    assert "<script>alert(1)" not in page


def test_repeat_callers_are_marked_by_rank_never_by_number(app, dash, people, calls):
    dash.login("boss")
    page = dash.client.get("/dashboard/calls").text
    assert page.count("3rd call in 30 days") == 1
    assert page.count("2nd call in 30 days") == 1
    # f came 40 days later: the caller's first call in that window.
    assert "call in 30 days" not in _row(page, calls["f"])
    assert calls["a"].caller_key not in page and not contains_number(page, CALLER)


def test_the_repeat_mark_is_translated(dash, db, people, calls):
    dash.login("boss")
    dash.post("/dashboard/language", {"lang": "ru", "next": "/dashboard/calls"})
    assert "3-й звонок за 30 дней" in dash.client.get("/dashboard/calls").text
    dash.post("/dashboard/language", {"lang": "kk", "next": "/dashboard/calls"})
    assert "30 күндегі 3-қоңырау" in dash.client.get("/dashboard/calls").text


MARCH_VIOLENCE = "topic=violence&from=2026-03-01&to=2026-03-31"  # call a alone


@pytest.mark.parametrize(
    "lang, query, count",
    [
        ("ru", "", "6 звонков"),
        ("ru", "topic=trafficking", "2 звонка"),
        ("ru", MARCH_VIOLENCE, "1 звонок"),
        ("kk", "topic=trafficking", "2 қоңырау"),
        ("en", "topic=trafficking", "2 calls"),
        ("en", MARCH_VIOLENCE, "1 call"),
    ],
)
def test_the_count_and_the_dates_are_written_in_the_readers_language(
    dash, people, calls, lang, query, count
):
    dash.login("boss")
    dash.post("/dashboard/language", {"lang": lang, "next": "/dashboard/calls"})
    page = dash.client.get(f"/dashboard/calls?{query}").text
    assert f'<p class="summary">{count}</p>' in page
    if query == MARCH_VIOLENCE:  # call a: Monday 2 March 2026, 10:00 in Almaty
        expected = {"ru": "02.03.2026, 10:00", "en": "3/2/2026, 10:00\u202fAM"}[lang]
        assert expected in _row(page, calls["a"])


def test_the_detail_page_shows_path_attempts_wait_and_durations(dash, db, people):
    call = add_call(
        db,
        local(MON, 12),
        wait_seconds=75,
        duration_seconds=1250,
        ivr_path=["greeting", "language:2", "topic:2", "route:trafficking"],
        topic="trafficking",
        attempts=[
            {"volunteer_id": people.other.id, "started_at": local(MON, 12), "outcome": "no_answer"},
            {
                "volunteer_id": people.own.id,
                "started_at": local(MON, 12, 1),
                "outcome": "accepted",
                "duration_seconds": 1250,
            },
        ],
        answered_by_id=people.own.id,
    )
    dash.login("boss")
    page = dash.client.get(f"/dashboard/calls/{call.id}").text
    for text in (
        "route:trafficking",
        "topic:2",
        "Dana K.",
        "Aigerim S.",
        "No answer",
        "Accepted",
        "1:15",
        "20:50",
        "Trafficking and forced labor",
        "Number withheld",
    ):
        assert text in page
    assert dash.client.get("/dashboard/calls/987654").status_code == 404


def test_csv_export_has_the_filtered_rows_and_a_repeat_count_but_no_caller_key(
    dash, db, people, calls
):
    dash.login("boss")
    response = dash.client.get("/dashboard/calls.csv?topic=trafficking")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][9] == "Calls from this caller in 30 days"  # then one column per outcome field
    assert [row[0] for row in rows[1:]] == [str(calls["c"].id), str(calls["b"].id)]
    assert [row[9] for row in rows[1:]] == ["3", "2"]
    assert calls["b"].caller_key not in body


@pytest.mark.parametrize("sort", ["-started_at", "started_at", "-wait_seconds"])
def test_csv_repeat_counts_see_the_callers_calls_in_other_chunks(
    app, dash, db, people, monkeypatch, sort
):
    monkeypatch.setattr(calllog_views, "CSV_CHUNK", 2)  # every caller's calls span chunks
    monkeypatch.setattr(calllog_query, "LOOKUP_BATCH", 1)  # and a chunk's callers, statements
    pseudonym = app.config["SETTINGS"].pseudonym_key
    first, second = caller_key(CALLER, pseudonym), caller_key(OTHER_PHONE, pseudonym)
    start = local(MON, 10)
    expected = {}
    for days, key, wait, count in (
        (0, first, 30, "1"),
        (1, second, 90, "1"),
        (2, None, 15, ""),  # number withheld: no count
        (10, first, 5, "2"),
        (20, first, 60, "3"),
        (31, second, 10, "1"),  # exactly 30 days after the first: outside its window
        (32, second, 75, "2"),
        (45, first, 40, "2"),  # days 20 and 45: day 10 is 35 days back
    ):
        call = add_call(db, start + timedelta(days=days), caller_key=key, wait_seconds=wait)
        expected[str(call.id)] = count
    dash.login("boss")
    body = dash.client.get(f"/dashboard/calls.csv?sort={sort}").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))[1:]
    assert len(rows) == len(expected)
    assert {row[0]: row[9] for row in rows} == expected


def test_csv_cells_cannot_start_a_spreadsheet_formula(app, dash, db, people):
    evil = add_volunteer(app, db, "evil", '=HYPERLINK("http://x","y")', phone="+77017770033")
    add_call(db, local(MON, 9), answered_by_id=evil.id)
    dash.login("boss")
    body = dash.client.get("/dashboard/calls.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body


def test_viewing_and_exporting_are_audited(dash, db, people, calls):
    dash.login("boss")
    dash.client.get("/dashboard/calls?topic=labor")
    dash.client.get(f"/dashboard/calls/{calls['d'].id}")
    dash.client.get("/dashboard/calls.csv?language=kk")
    events = db.scalars(select(AuditEvent).where(AuditEvent.action != "login")).all()
    assert [(e.action, e.detail) for e in events] == [
        ("calllog_view", "topic=labor"),
        ("call_view", None),
        ("calllog_export", "language=kk"),
    ]
    assert events[1].object_id == str(calls["d"].id)
    assert all(e.username == "boss" for e in events)


def test_html_in_a_volunteers_name_is_shown_as_text(app, dash, db, people, clock):
    sneaky = add_volunteer(
        app,
        db,
        "sneaky",
        "<script>alert('x')</script><b>Bold</b>",
        phone="+77017770044",
        shifts=({"days": ["tue"], "start_minute": 0, "end_minute": 1440},),
    )
    call = add_call(db, local(MON, 9), answered_by_id=sneaky.id)
    dash.login("boss")
    for path in (
        "/dashboard/calls",
        f"/dashboard/calls/{call.id}",
        "/dashboard/roster",
        f"/dashboard/roster/{sneaky.id}/edit",
        "/dashboard/live",
    ):
        page = dash.client.get(path).text
        assert "<script>alert" not in page and "<b>Bold" not in page, path
        assert "&lt;script&gt;" in page, path


def test_no_phone_number_on_any_page_export_or_audit_row(app, dash, db, people, calls, clock):
    add_callback(app, db, clock.now)
    numbers = (VOLUNTEER_PHONE, OTHER_PHONE, CALLBACK_NUMBER, CALLER)
    dash.login("boss")
    pages = [
        "/dashboard/live",
        "/dashboard/calls",
        "/dashboard/calls.csv",
        "/dashboard/stats",
        "/dashboard/stats?from=2026-03-01&to=2026-03-31",
        "/dashboard/report",
        "/dashboard/report.csv",
        "/dashboard/coverage",
        "/dashboard/roster",
        "/dashboard/users",
        f"/dashboard/roster/{people.own.id}/edit",
        f"/dashboard/calls/{calls['a'].id}",
        f"/dashboard/shifts/{people.own_shift.id}/edit",
        "/dashboard/audit",
    ]
    dash.logout()
    dash.login("aigerim")
    pages_volunteer = ["/dashboard/me", f"/dashboard/shifts/{people.own_shift.id}/edit"]
    for path in pages_volunteer:
        body = dash.client.get(path).get_data(as_text=True)
        assert not any(contains_number(body, n) for n in numbers), path
    dash.logout()
    dash.login("boss")
    for path in pages:
        response = dash.client.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        assert not any(contains_number(body, n) for n in numbers), path
    assert "…78" in dash.client.get("/dashboard/roster").text  # masked: last two digits only
    for event in db.scalars(select(AuditEvent)):
        assert not any(contains_number(str(vars(event)), n) for n in numbers)
