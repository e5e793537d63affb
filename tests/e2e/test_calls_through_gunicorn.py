"""Whole calls through gunicorn, played the way Twilio plays them: signed, following the TwiML."""

from __future__ import annotations

import time

import pytest
from privacy_scan import scan_database, scan_lines
from sqlalchemy import create_engine, select
from support import AUTH_TOKEN, journal_written

from hotline.models import CallRecord
from hotline.simulate import SimulatedCall, scripted

CALLER = "+77017770011"


def spoken(heard) -> str:
    return " ".join(h.text for h in heard if h.kind == "say").replace(" ", "")


def record_of(env, call_sid) -> CallRecord:
    journal_written(env)
    engine = create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(CallRecord.__table__).where(CallRecord.call_sid == call_sid)
            ).one()
        return row
    finally:
        engine.dispose()


@pytest.mark.parametrize("language_key", ["1", "2", "3"])
@pytest.mark.parametrize("topic_key", ["1", "2", "3", "0"])
def test_every_menu_is_reachable_in_every_language(server, language_key, topic_key):
    base_url, env, _log = server
    call = SimulatedCall(base_url, AUTH_TOKEN, caller=CALLER)
    started = time.monotonic()
    heard = call.run(scripted([language_key, topic_key]))
    lasted = time.monotonic() - started
    assert all(e.status == 200 for e in call.exchanges), [(e.url, e.status) for e in call.exchanges]
    assert heard[-1].kind == "hangup"
    assert "112" in spoken(heard) and "102" in spoken(heard)
    record = record_of(env, call.call_sid)
    assert record.language == {"1": "kk", "2": "ru", "3": "en"}[language_key]
    if topic_key == "0":
        # Emergency information, then silence: the menu repeats and the default topic is taken.
        assert "topic:0" in record.ivr_path
        assert record.topic == "violence"
    else:
        assert record.topic == {"1": "violence", "2": "trafficking", "3": "labor"}[topic_key]
    assert record.outcome == "nobody_available"
    # The status callback carried the call's real length, in whole seconds.
    assert record.ended_at is not None and 0 <= record.duration_seconds <= round(lasted)


def test_an_unsigned_call_is_refused_with_403(server):
    base_url, env, _log = server
    call = SimulatedCall(base_url, AUTH_TOKEN)
    exchange = call.post(f"{base_url}/twilio/voice", signed=False)
    assert exchange.status == 403
    journal_written(env)
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        table = CallRecord.__table__
        stored = connection.execute(select(table).where(table.c.call_sid == call.call_sid)).all()
        assert stored == []
    engine.dispose()


def test_a_caller_who_hangs_up_in_the_menu_is_recorded_as_abandoned(server):
    base_url, env, _log = server
    call = SimulatedCall(base_url, AUTH_TOKEN)
    call.post(f"{base_url}/twilio/voice")
    call.post(f"{base_url}/twilio/status", {"CallStatus": "completed", "CallDuration": "4"})
    record = record_of(env, call.call_sid)
    assert record.outcome == "abandoned_in_menu"
    assert record.ivr_path[:2] == ["greeting", "language"]


def test_the_number_reaches_neither_the_database_nor_the_server_log(server):
    base_url, env, log_path = server
    for keys in (["2", "1"], ["1", "9", "3"], ["3", "0", "2"], [None, None, None, "5"]):
        SimulatedCall(base_url, AUTH_TOKEN, caller=CALLER).run(scripted(keys))
    journal_written(env)
    engine = create_engine(env["DATABASE_URL"])
    try:
        assert scan_database(engine, CALLER) == []
    finally:
        engine.dispose()
    assert scan_lines(log_path.read_text(errors="replace").splitlines(), CALLER) == []
