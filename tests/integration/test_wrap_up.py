"""Wrap-up through the real routing: after a connected call the volunteer is skipped (live
calls, the snapshot, database claims, the live view) until the time is up or they report."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from test_dashboard_support import Dashboard, add_user
from test_routing_calls import PHONES, answer_whisper, dial_result, dialed, reach_routing, roster

from hotline.models import CallRecord, OutcomeReport, User
from hotline.models.base import utcnow
from hotline.routing import claims, db_claims, wrap_up

FIXTURES = (roster,)


def connected_call(twilio):
    """A Russian violence call that Dana (first in line) accepts and finishes."""
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    assert dialed(root) == [PHONES["dana"]]
    answer_whisper(twilio, root, params, "1")
    dial_result(twilio, root, params, DialCallStatus="completed", DialBridged="true")
    return params["CallSid"]


def next_rung(twilio) -> list[str]:
    return dialed(reach_routing(twilio, twilio.call_params(), "2", "1"))


def record_id(app, sid: str) -> int:
    with app.extensions["db"].session() as session:
        return session.scalar(select(CallRecord.id).where(CallRecord.call_sid == sid))


def dana_reports(app, client, roster, call_id: int):
    with app.extensions["db"].session() as session:
        dana = session.get(User, add_user(session, "dana", "volunteer").id)
        dana.volunteer_id = roster["dana"]
        session.commit()
    browser = Dashboard(client)
    client.set_cookie("hotline_lang", "en", path="/dashboard")
    browser.login("dana")
    sent = browser.post(
        f"/dashboard/outcomes/call/{call_id}", {"who_called": "affected", "version": "new"}
    )
    assert sent.status_code == 303


def test_a_volunteer_in_wrap_up_is_skipped_and_rung_again_after_the_report(
    app, twilio, client, roster, redis_client
):
    sid = connected_call(twilio)
    # Dana's claim passed from the call to wrap-up, for the configured 120 s.
    key = claims.claim_key(roster["dana"])
    assert redis_client.get(key) == f"wrapup:{sid}".encode()
    assert 110 < redis_client.ttl(key) <= 120
    # The next caller gets Erlan, the next in line, not Dana.
    assert next_rung(twilio) == [PHONES["erlan"]]

    dana_reports(app, client, roster, record_id(app, sid))
    assert redis_client.get(key) is None
    app.extensions["snapshot_keeper"].tick()  # the background thread's second, now
    assert next_rung(twilio) == [PHONES["dana"]]


def test_the_snapshot_and_database_claims_know_wrap_up_while_redis_is_away(
    app, twilio, client, roster, redis_client
):
    sid = connected_call(twilio)
    keeper = app.extensions["snapshot_keeper"]
    keeper.tick()
    assert roster["dana"] in keeper.wrapping_up
    seconds = app.extensions["routing_policy"].wrap_up_seconds
    with app.extensions["db"].session() as session:
        now = utcnow()
        assert roster["dana"] in db_claims.engaged(session, now, 600, seconds)
        # Over by itself once the wrap-up time has passed.
        later = now + timedelta(seconds=seconds + 1)
        assert roster["dana"] not in wrap_up.wrapping_up(session, later, seconds)
    # Redis forgets the claim (as after a restart): routing still skips Dana, from the snapshot.
    redis_client.flushdb()
    assert next_rung(twilio) == [PHONES["erlan"]]
    dana_reports(app, client, roster, record_id(app, sid))
    keeper.tick()
    assert roster["dana"] not in keeper.wrapping_up
    with app.extensions["db"].session() as session:
        assert roster["dana"] not in db_claims.engaged(session, utcnow(), 600, seconds)
        assert session.scalar(select(OutcomeReport.volunteer_id)) == roster["dana"]


def test_the_live_view_says_wrapping_up(app, twilio, client, roster, redis_client):
    connected_call(twilio)
    with app.extensions["db"].session() as session:
        add_user(session, "boss", "supervisor")
    browser = Dashboard(client)
    client.set_cookie("hotline_lang", "en", path="/dashboard")
    browser.login("boss")
    page = client.get("/dashboard/live").get_data(as_text=True)
    dana = page[page.index("Dana") - 200 : page.index("Dana")]
    assert "Wrapping up" in dana
