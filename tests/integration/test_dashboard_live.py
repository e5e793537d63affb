"""The live view, the callback queue and its cancel button, and the coverage grid."""

from __future__ import annotations

from datetime import date, timedelta

from privacy_scan import contains_number
from sqlalchemy import select
from test_dashboard_support import (
    CALLBACK_NUMBER,
    START,
    add_call,
    add_callback,
    add_volunteer,
    clock,
    dash,
    db,
    people,
)

from hotline.dashboard.live.coverage import COVERED, NOBODY, PARTIAL, grid
from hotline.models import AuditEvent, CallbackRequest
from hotline.routing.claims import claim
from hotline.routing.policy import RoutingPolicy

# pytest finds fixtures by name in the test module: these imports are the fixtures.
FIXTURES = (clock, dash, db, people)

TUESDAY = date(2026, 3, 10)  # START is 09:00 on this day, Almaty time


def test_live_view_counts_calls_by_stage_and_refreshes_itself(dash, db, people, clock):
    add_call(db, START - timedelta(minutes=2), outcome="in_menu", ended_at=None)
    add_call(db, START - timedelta(minutes=1), outcome="routing", ended_at=None, topic="labor")
    add_call(db, START - timedelta(minutes=9), outcome="connected", ended_at=None)
    add_call(db, START - timedelta(hours=6), outcome="routing", ended_at=None)  # stale: lost
    add_call(db, START - timedelta(minutes=30))  # finished
    dash.login("boss")
    page = dash.client.get("/dashboard/live").text
    assert '<meta http-equiv="refresh" content="15">' in page
    assert page.count('class="badge outcome-routing"') == 1
    assert page.count('class="badge outcome-connected"') == 1
    assert page.count('class="badge outcome-in_menu"') == 1


def test_volunteers_on_shift_are_shown_free_or_busy(app, dash, db, people, redis_client):
    add_volunteer(
        app,
        db,
        "night",
        "Night Owl",
        phone="+77017770055",
        shifts=({"days": ["mon"], "start_minute": 1320, "end_minute": 360},),
    )
    claim(redis_client, people.other.id, "CA" + "0" * 32, 60)
    dash.login("boss")
    page = dash.client.get("/dashboard/live").text
    assert "Aigerim S." in page and "Dana K." in page and "Night Owl" not in page
    dana = page[page.index("Dana K.") - 200 : page.index("Dana K.")]
    aigerim = page[page.index("Aigerim S.") - 200 : page.index("Aigerim S.")]
    assert "On a call" in dana and "Free" in aigerim


def test_the_callback_queue_shows_no_number_and_a_supervisor_can_cancel(app, dash, db, people):
    request = add_callback(app, db, START - timedelta(minutes=42))
    dash.login("boss")
    page = dash.client.get("/dashboard/live").text
    assert "Trafficking and forced labor" in page and "Evening 17-21" in page and "42 min" in page
    assert not contains_number(page, CALLBACK_NUMBER) and "…99" not in page
    response = dash.post(f"/dashboard/callbacks/{request.id}/cancel")
    assert response.status_code == 302
    db.expire_all()
    cancelled = db.get(CallbackRequest, request.id)
    assert cancelled.status == "cancelled" and cancelled.number_ciphertext is None
    assert cancelled.cancelled_by == "dashboard:boss"
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "callback_cancel")).one()
    assert (event.object_id, event.detail) == (str(request.id), "cancelled")
    assert "No callback requests are waiting." in dash.client.get("/dashboard/live").text


def test_cancelling_an_ended_request_changes_nothing(app, dash, db, people):
    request = add_callback(app, db, START)
    dash.login("boss")
    dash.post(f"/dashboard/callbacks/{request.id}/cancel")
    dash.post(f"/dashboard/callbacks/{request.id}/cancel")
    details = [
        e.detail
        for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "callback_cancel"))
    ]
    assert details == ["cancelled", "already ended"]


def test_coverage_grid_marks_hours_with_nobody_and_partial_hours(app, db):
    tz = app.config["SETTINGS"].tz
    add_volunteer(
        app,
        db,
        "amina",
        roles=("psychologist",),
        topics=("violence",),
        languages=("ru",),
        shifts=({"days": ["tue"], "start_minute": 9 * 60 + 30, "end_minute": 18 * 60},),
    )
    from hotline.dashboard.roster.read import active_volunteers

    cells = grid(active_volunteers(db), TUESDAY, tz, RoutingPolicy())
    violence_ru = cells[("violence", "ru")][0]
    assert violence_ru[9] == PARTIAL and violence_ru[10] == COVERED and violence_ru[17] == COVERED
    assert violence_ru[18] == NOBODY and violence_ru[8] == NOBODY
    assert cells[("violence", "kk")][0][12] == NOBODY  # speaks no Kazakh
    assert cells[("labor", "ru")][0][12] == NOBODY  # labor needs a lawyer (routing policy)
    assert cells[("violence", "ru")][1][12] == NOBODY  # Wednesday: no shift


def test_coverage_page_lists_tonights_gaps(app, dash, db, people):
    dash.login("boss")
    page = dash.client.get("/dashboard/coverage").text
    # The people fixture's volunteers work weekdays 09-18 in ru/kk: tonight nobody, English never.
    assert "3/10, 6:00\u202fPM" in page  # 10 March, 18:00, written the English way
    assert "English" in page
    assert page.count('class="coverage-day card"') + page.count('class="card coverage-day"') == 7


def test_the_live_view_shows_the_waiting_line_without_any_number(dash, db, people, redis_client):
    from hotline.routing import line_store
    from hotline.routing.line import WaitingCaller

    first = WaitingCaller("CA" + "1" * 32, "violence", "kk", START - timedelta(seconds=95))
    second = WaitingCaller("CA" + "2" * 32, "violence", "ru", START - timedelta(seconds=30))
    other = WaitingCaller("CA" + "3" * 32, "labor", "en", START - timedelta(seconds=200))
    for caller in (second, other, first):
        line_store.join(redis_client, caller)
    line_store.offer(redis_client, first.call_sid, people.other.id)
    dash.login("boss")
    page = dash.client.get("/dashboard/live").text
    section = page[page.index("<h2>Waiting line") : page.index("<h2>Callback queue")]
    rows = section.split("<tr>")[2:]
    assert len(rows) == 3
    # Longest-waiting first; the place counts callers of the same topic.
    assert "3:20" in rows[0] and ">1<" in rows[0]  # labor, 200 s
    assert "1:35" in rows[1] and ">1<" in rows[1] and "A volunteer is being rung" in rows[1]
    assert "0:30" in rows[2] and ">2<" in rows[2]
    assert not any(caller.call_sid in page for caller in (first, second, other))
    assert not contains_number(page, "+77011110001")


def test_the_live_view_says_when_the_line_is_unknown_without_redis(
    dash, db, people, app, monkeypatch
):
    from hotline.redis_conn import connect

    monkeypatch.setitem(app.extensions, "redis", connect("redis://127.0.0.1:1/0"))
    dash.login("boss")
    page = dash.client.get("/dashboard/live").text
    assert "the waiting line is unknown" in page


def test_the_live_view_shows_who_is_in_a_calls_conference_room(dash, db, people, redis_client):
    from hotline.telephony import room

    call = add_call(db, START - timedelta(minutes=3), outcome="connected", ended_at=None)
    room.note(redis_client, call.call_sid, "participant-join", "volunteer", hold=False)
    room.note(redis_client, call.call_sid, "participant-hold", "caller", hold=True)
    dash.login("boss")
    page = dash.client.get("/dashboard/live").text
    row = page[page.index('class="badge outcome-connected"') :].split("</tr>")[0]
    assert '<span class="room-hold">caller (on hold)</span>' in row
    assert '<span class="room-joined">volunteer</span>' in row
    assert "partner" not in row and call.call_sid not in page
