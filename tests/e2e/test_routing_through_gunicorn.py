"""Calls routed to volunteers through a real gunicorn, played the way Twilio plays them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis import Redis
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from support import AUTH_TOKEN, journal_written

from hotline.models import CallRecord, utcnow
from hotline.outcomes import store
from hotline.outcomes.store import CallKind
from hotline.routing import claims, wrap_up
from hotline.simulate import SimulatedCall, VolunteerPhones, scripted

WRAP_UP = True  # this module's server keeps routing.yaml's wrap-up (see conftest.server)
CALLER = "+77017770022"
PSYCHOLOGIST_RU = "+77012220001"
LAWYER_RU = "+77012220002"
ALWAYS = '[{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}]'
ROSTER = f"""
volunteers:
  - {{handle: asel, display_name: Asel, phone: "{PSYCHOLOGIST_RU}", roles: [psychologist],
     topics: [violence], languages: [ru], shifts: {ALWAYS}}}
  - {{handle: marat, display_name: Marat, phone: "{LAWYER_RU}", roles: [lawyer],
     topics: [violence, labor], languages: [ru], shifts: {ALWAYS}}}
"""


@pytest.fixture(scope="module")
def routed_server(server, tmp_path_factory):
    base_url, env, log_path = server
    roster = tmp_path_factory.mktemp("roster") / "roster.yaml"
    roster.write_text(ROSTER)
    hotline = str(Path(sys.executable).parent / "hotline")
    subprocess.run(
        [hotline, "roster", "import", str(roster)], env={**os.environ, **env}, check=True
    )
    return base_url, env, log_path


@pytest.fixture(autouse=True)
def volunteers_report_their_calls(routed_server):
    """After each test, every connected call gets its outcome report, as a volunteer files it
    after the call: that ends their wrap-up, so the next test finds everyone free again."""
    yield
    _, env, _ = routed_server
    journal_written(env)
    engine = create_engine(env["DATABASE_URL"])
    try:
        with Session(engine) as session:
            for call in session.scalars(
                select(CallRecord).where(CallRecord.outcome == "connected")
            ):
                found = store.find_call(session, CallKind.CALL, call.id)
                if found is not None and found.report is None:
                    store.save(session, found, {"who_called": "affected"}, utcnow(), None,
                               tz=ZoneInfo("Asia/Almaty"))  # fmt: skip
                    assert found.volunteer_id is not None
                    wrap_up.finish(redis_client_for(env), found.volunteer_id, found.wrap_up_owner)
            session.commit()
    finally:
        engine.dispose()
    time.sleep(1.5)  # each web process's roster keeper looks again every second


def redis_client_for(env):
    return Redis.from_url(env["REDIS_URL"])


def record_of(env, call_sid):
    journal_written(env)
    engine = create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            table = CallRecord.__table__
            return connection.execute(select(table).where(table.c.call_sid == call_sid)).one()
    finally:
        engine.dispose()


def place_call(base_url, answers, keys=("2", "1")):
    call = SimulatedCall(base_url, AUTH_TOKEN, caller=CALLER)
    phones = VolunteerPhones(call, answers)
    heard = call.run(scripted(list(keys)), on_dial=phones)
    assert all(e.status == 200 for e in call.exchanges), [(e.url, e.status) for e in call.exchanges]
    return call, phones, heard


def test_pressing_2_then_1_rings_the_russian_psychologist_who_accepts(routed_server):
    base_url, env, _ = routed_server
    call, phones, heard = place_call(base_url, {})
    assert [leg[0] for leg in phones.legs] == [PSYCHOLOGIST_RU]
    number, caller_id, whisper = phones.legs[0]
    assert caller_id == "+77270000000" and caller_id != CALLER
    assert "насилие" in whisper  # the volunteer hears the topic before accepting
    record = record_of(env, call.call_sid)
    assert record.outcome == "connected" and record.answered_by_id is not None
    # After the call, the volunteer is wrapping up: not rung again until they report.
    claim = redis_client_for(env).get(claims.claim_key(record.answered_by_id))
    assert claim == f"wrapup:{call.call_sid}".encode()
    again, next_phones, _ = place_call(base_url, {})
    assert [leg[0] for leg in next_phones.legs] == [LAWYER_RU]


def test_a_decline_rings_the_next_volunteer(routed_server):
    base_url, env, _ = routed_server
    call, phones, _heard = place_call(base_url, {PSYCHOLOGIST_RU: "decline"})
    assert [leg[0] for leg in phones.legs] == [PSYCHOLOGIST_RU, LAWYER_RU]
    assert record_of(env, call.call_sid).outcome == "connected"


def test_when_all_decline_the_caller_hears_nobody_is_available(routed_server):
    base_url, env, _ = routed_server
    answers = {PSYCHOLOGIST_RU: "decline", LAWYER_RU: "decline"}
    call, phones, heard = place_call(base_url, answers)
    assert len(phones.legs) == 2
    spoken = " ".join(h.text for h in heard if h.kind == "say").replace(" ", "")
    assert "112" in spoken and heard[-1].kind == "hangup"
    assert record_of(env, call.call_sid).outcome == "declined_by_all"


def test_a_silent_volunteer_or_voicemail_never_gets_the_call(routed_server):
    base_url, env, _ = routed_server
    call, phones, _heard = place_call(base_url, {PSYCHOLOGIST_RU: "silent", LAWYER_RU: "busy"})
    assert record_of(env, call.call_sid).outcome == "no_answer"
    assert [leg[0] for leg in phones.legs] == [PSYCHOLOGIST_RU, LAWYER_RU]
