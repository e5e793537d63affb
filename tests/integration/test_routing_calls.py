"""Calls reach the right on-call volunteer: signed webhooks, real database and real Redis."""

from __future__ import annotations

import pytest
from privacy_scan import scan_database
from sqlalchemy import create_engine, select
from support import ALWAYS_ON_SHIFT
from twiml_helpers import all_speech, ends_call, gather, parse, path_and_query, query

from hotline.models import CallRecord, RingAttempt
from hotline.routing import claims
from hotline.routing.roster_file import parse_roster_text
from hotline.routing.roster_import import import_roster

ROSTER = f"""
volunteers:
  - handle: dana
    display_name: Dana
    phone: "+77011110001"
    roles: [psychologist]
    topics: [violence, trafficking]
    languages: [ru, kk]
    shifts:{ALWAYS_ON_SHIFT}
  - handle: erlan
    display_name: Erlan
    phone: "+77011110002"
    roles: [lawyer]
    topics: [violence, trafficking, labor]
    languages: [ru]
    shifts:{ALWAYS_ON_SHIFT}
  - handle: jane
    display_name: Jane
    phone: "+77011110003"
    roles: [psychologist]
    topics: [violence]
    languages: [en]
    shifts:{ALWAYS_ON_SHIFT}
  - handle: aigul
    display_name: Aigul
    phone: "+77011110004"
    roles: [lawyer]
    topics: [labor]
    languages: [kk]
    shifts:
      - date: "2001-01-01"
        start: "09:00"
        end: "10:00"
"""
PHONES = {"dana": "+77011110001", "erlan": "+77011110002", "jane": "+77011110003"}


@pytest.fixture
def roster(app):
    with app.extensions["db"].session() as session:
        import_roster(session, parse_roster_text(ROSTER), app.extensions["fernet"])
        from hotline.models.roster import Volunteer

        return {v.handle: v.id for v in session.scalars(select(Volunteer))}


def reach_routing(twilio, params, language_key: str, topic_key: str):
    root = parse(twilio.post("/twilio/voice", params).data)
    for key in (language_key, topic_key):
        root = parse(
            twilio.post(path_and_query(gather(root).get("action")), params, Digits=key).data
        )
    redirect = root.find("./Redirect").text
    return parse(twilio.post(path_and_query(redirect), params).data)


def dialed(root) -> list[str]:
    return [n.text.strip() for n in root.iter("Number")]


def whisper_url(root, index: int = 0) -> str:
    return path_and_query(list(root.iter("Number"))[index].get("url"))


def leg_params(twilio, parent):
    """What Twilio sends on the volunteer's (child) leg."""
    child = twilio.call_params()
    child.update(ParentCallSid=parent["CallSid"], Direction="outbound-dial", From="+77270000000")
    return child


def answer_whisper(twilio, root, parent, digits: str | None, index: int = 0):
    child = leg_params(twilio, parent)
    whisper = parse(twilio.post(whisper_url(root, index), child).data)
    action = path_and_query(gather(whisper).get("action"))
    form = dict(child, **({"Digits": digits} if digits else {}))
    return whisper, parse(twilio.post(action, form).data)


def dial_result(twilio, root, parent, **form):
    action = path_and_query(root.find("./Dial").get("action"))
    return parse(twilio.post(action, dict(parent, **form)).data)


def record_of(app, call_sid) -> CallRecord:
    with app.extensions["db"].session() as session:
        record = session.scalar(select(CallRecord).where(CallRecord.call_sid == call_sid))
        record.attempts  # noqa: B018 - load them before the session closes
        return record


def test_pressing_2_then_1_rings_a_russian_speaking_psychologist_first(app, twilio, roster):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    assert dialed(root) == [PHONES["dana"]]
    dial = root.find("./Dial")
    # The volunteer sees the hotline's number, never the caller's.
    assert dial.get("callerId") == "+77270000000" != params["From"]
    assert dial.get("timeout") == "20"


def test_the_volunteer_hears_the_topic_and_language_and_must_press_1(app, twilio, roster):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "2")  # Russian, trafficking
    child = leg_params(twilio, params)
    whisper = parse(twilio.post(whisper_url(root), child).data)
    speech = all_speech(whisper)
    assert "торговля людьми" in speech and "русский" in speech and "1" in speech
    assert gather(whisper).get("numDigits") == "1"


def test_pressing_1_connects_and_records_who_answered_and_the_wait(app, twilio, roster):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    _whisper, accepted = answer_whisper(twilio, root, params, "1")
    assert list(accepted) == []  # an empty document: Twilio bridges the two legs
    end = dial_result(
        twilio, root, params, DialCallStatus="completed", DialBridged="true", DialCallDuration="300"
    )
    assert ends_call(end)
    record = record_of(app, params["CallSid"])
    assert record.outcome == "connected"
    assert record.answered_by_id == roster["dana"]
    assert record.wait_seconds is not None and record.wait_seconds >= 0
    assert [(a.volunteer_id, a.outcome) for a in record.attempts] == [(roster["dana"], "accepted")]
    assert record.attempts[0].duration_seconds == 300


def test_a_decline_rings_the_next_volunteer(app, twilio, roster):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    _whisper, declined = answer_whisper(twilio, root, params, "2")
    assert ends_call(declined)
    root = dial_result(twilio, root, params, DialCallStatus="completed", DialBridged="false")
    assert dialed(root) == [PHONES["erlan"]]  # the lawyer comes after the psychologist
    assert "оставайтесь на линии" in all_speech(root)


def test_when_everyone_declines_the_caller_is_offered_a_callback(app, twilio, roster):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    for _ in range(3):
        if not dialed(root):
            break
        answer_whisper(twilio, root, params, "2")
        root = dial_result(twilio, root, params, DialCallStatus="completed", DialBridged="false")
    assert dialed(root) == []
    assert query(gather(root).get("action"))["node"] == "callback_offer"
    record = record_of(app, params["CallSid"])
    assert record.outcome == "declined_by_all"
    # Two Russian speakers for violence (psychologist, lawyer), then the fallback language is
    # Russian too: nobody else speaks it, so after two declines the list is exhausted.
    assert {a.outcome for a in record.attempts} == {"declined"}


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "", "bogus"])
def test_busy_no_answer_failed_or_unknown_moves_on_without_a_stuck_claim(
    app, twilio, roster, redis_client, status
):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    assert claims.claimed_ids(redis_client, [roster["dana"]]) == {roster["dana"]}
    form = {"DialCallStatus": status} if status else {}
    root = dial_result(twilio, root, params, **form)
    assert dialed(root) == [PHONES["erlan"]]
    assert claims.claimed_ids(redis_client, [roster["dana"]]) == set()


def test_a_second_caller_rings_someone_else_while_the_first_volunteer_rings(app, twilio, roster):
    first, second = twilio.call_params(), twilio.call_params()
    assert dialed(reach_routing(twilio, first, "2", "1")) == [PHONES["dana"]]
    assert dialed(reach_routing(twilio, second, "2", "1")) == [PHONES["erlan"]]


def test_an_english_caller_rings_the_english_speaker(app, twilio, roster):
    assert dialed(reach_routing(twilio, twilio.call_params(), "3", "1")) == [PHONES["jane"]]


def test_nobody_on_shift_for_kazakh_labor_falls_back_to_a_russian_lawyer(app, twilio, roster):
    # Aigul (Kazakh, labor) is off shift; Erlan speaks the fallback language, Russian.
    assert dialed(reach_routing(twilio, twilio.call_params(), "1", "3")) == [PHONES["erlan"]]


def test_with_an_empty_roster_the_caller_is_offered_a_callback(app, twilio):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "3")
    assert query(gather(root).get("action"))["node"] == "callback_offer"
    assert record_of(app, params["CallSid"]).outcome == "nobody_available"


def test_the_caller_hanging_up_while_it_rings_frees_the_volunteer(
    app, twilio, roster, redis_client
):
    params = twilio.call_params()
    reach_routing(twilio, params, "2", "1")
    twilio.post("/twilio/status", dict(params, CallStatus="completed", CallDuration="40"))
    assert claims.claimed_ids(redis_client, roster.values()) == set()
    record = record_of(app, params["CallSid"])
    assert record.outcome == "abandoned_waiting"
    assert [a.outcome for a in record.attempts] == ["canceled"]


def test_a_whisper_for_a_call_that_already_ended_hangs_up(app, twilio, roster):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    twilio.post("/twilio/status", dict(params, CallStatus="completed"))
    whisper = parse(twilio.post(whisper_url(root), leg_params(twilio, params)).data)
    assert ends_call(whisper) and gather(whisper) is None


def test_a_whisper_with_no_key_repeats_once_then_counts_as_no_answer(app, twilio, roster):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    child = leg_params(twilio, params)
    whisper = parse(twilio.post(whisper_url(root), child).data)
    again = parse(twilio.post(path_and_query(whisper.find("./Redirect").text), child).data)
    assert query(again.find("./Redirect").text)["tries"] == "1"
    whisper = parse(twilio.post(path_and_query(again.find("./Redirect").text), child).data)
    final = parse(twilio.post(path_and_query(whisper.find("./Redirect").text), child).data)
    assert ends_call(final)
    with app.extensions["db"].session() as session:
        assert session.scalar(select(RingAttempt.outcome)) == "no_key"


@pytest.mark.parametrize(
    "path",
    [
        "/twilio/whisper?attempt=999999",
        "/twilio/whisper?attempt=x",
        "/twilio/whisper/answer?attempt=424242",
    ],
)
def test_whisper_requests_for_unknown_attempts_hang_up_cleanly(app, twilio, path):
    response = twilio.post(path, twilio.call_params(), Digits="1")
    assert response.status_code == 200 and ends_call(parse(response.data))


def test_volunteer_numbers_are_stored_only_encrypted(app, twilio, roster, database_url):
    params = twilio.call_params()
    root = reach_routing(twilio, params, "2", "1")
    answer_whisper(twilio, root, params, "1")
    dial_result(twilio, root, params, DialCallStatus="completed", DialBridged="true")
    engine = create_engine(database_url)
    try:
        for phone in PHONES.values():
            assert scan_database(engine, phone) == []
    finally:
        engine.dispose()
