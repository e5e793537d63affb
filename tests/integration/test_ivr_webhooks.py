"""Signed webhooks against the real app, on SQLite and PostgreSQL, with a real Redis."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from twiml_helpers import (
    all_speech,
    ends_call,
    gather,
    next_url,
    parse,
    path_and_query,
    query,
    said_languages,
)

from hotline.ivr.model import Prompt
from hotline.models import CallRecord

pytestmark = pytest.mark.usefixtures("redis_client")


def records(app) -> list[CallRecord]:
    with app.extensions["db"].session() as session:
        return list(session.scalars(select(CallRecord)))


def press(twilio, root, params, digits: str | None):
    """Answer the Gather in `root` with `digits` (None: silence, following the Redirect)."""
    url = gather(root).get("action") if digits is not None else root.find("./Redirect").text
    form = dict(params)
    if digits is not None:
        form["Digits"] = digits
    response = twilio.post(path_and_query(url), form)
    assert response.status_code == 200, response.data
    return parse(response.data)


def start_call(twilio, params):
    response = twilio.post("/twilio/voice", params)
    assert response.status_code == 200
    return parse(response.data)


def follow_redirect(twilio, root, params):
    response = twilio.post(path_and_query(root.find("./Redirect").text), params)
    assert response.status_code == 200
    return parse(response.data)


# --- signatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/twilio/voice",
        "/twilio/voice/step?node=topic&lang=ru",
        "/twilio/status",
        "/twilio/route?topic=violence",
    ],
)
def test_an_unsigned_webhook_is_refused_and_nothing_is_stored(app, twilio, path):
    response = twilio.post(path, twilio.call_params(), signed=False)
    assert response.status_code == 403
    root = parse(response.data)
    assert "112" in all_speech(root).replace(" ", "")
    assert records(app) == []


def test_a_signature_for_another_url_is_refused(app, twilio, client):
    params = twilio.call_params()
    forged = type(twilio)(client, base_url="https://evil.example.com")
    assert forged.post("/twilio/voice", params).status_code == 403
    assert records(app) == []


def test_a_signature_over_other_form_values_is_refused(app, twilio, client):
    from hotline.telephony.signature import sign

    params = twilio.call_params()
    signature = sign(
        "https://hotline.example.org/twilio/voice", params, "test-auth-token-0123456789abcdef"
    )
    tampered = dict(params, From="+77019999999")
    response = client.post(
        "/twilio/voice", data=tampered, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403


# --- the menu ------------------------------------------------------------------------------------


def test_a_new_call_hears_the_emergency_numbers_and_the_language_menu(app, twilio):
    root = start_call(twilio, twilio.call_params())
    speech = all_speech(root).replace(" ", "")
    assert "112" in speech and "102" in speech
    g = gather(root)
    assert g is not None and g.get("numDigits") == "1"
    assert query(g.get("action"))["node"] == "language"
    # Before a language is chosen the caller hears Russian and English (Kazakh via recording or
    # the Russian fallback voice).
    assert {"ru-RU", "en-US"} <= set(said_languages(root))


def test_the_first_webhook_creates_one_record_even_when_twilio_retries(app, twilio):
    params = twilio.call_params()
    start_call(twilio, params)
    start_call(twilio, params)
    with app.extensions["db"].session() as session:
        count = session.scalar(select(func.count()).select_from(CallRecord))
        record = session.scalar(select(CallRecord))
    assert count == 1
    assert record.call_sid == params["CallSid"]
    assert record.caller_key and len(record.caller_key) == 64
    assert record.caller_key_version == 1
    assert "greeting" in record.ivr_path


def test_the_same_caller_gets_the_same_pseudonym_and_a_withheld_number_gets_none(app, twilio):
    first = twilio.call_params()
    second = twilio.call_params()
    withheld = twilio.call_params(caller="anonymous")
    for params in (first, second, withheld):
        start_call(twilio, params)
    keys = {r.call_sid: r.caller_key for r in records(app)}
    assert keys[first["CallSid"]] == keys[second["CallSid"]] is not None
    assert keys[withheld["CallSid"]] is None


@pytest.mark.parametrize(
    ("key", "language", "tts"), [("1", "kk", None), ("2", "ru", "ru-RU"), ("3", "en", "en-US")]
)
def test_choosing_a_language_gives_the_topic_menu_in_that_language(app, twilio, key, language, tts):
    params = twilio.call_params()
    root = press(twilio, start_call(twilio, params), params, key)
    g = gather(root)
    assert query(g.get("action")) == {"node": "topic", "lang": language, "tries": "0"}
    languages = set(said_languages(root))
    # One language only now; Kazakh is recorded audio or the documented Russian-voice fallback.
    assert len(languages) <= 1
    if tts:
        assert languages == {tts}
    assert records(app)[0].language == language


@pytest.mark.parametrize("caller", ["anonymous", "", "not a number", "+1", "+" + "9" * 40])
def test_the_menus_answer_whatever_the_caller_id_says(app, twilio, caller):
    # The language and topic menus never read the caller's number back: any From will do.
    params = twilio.call_params(caller=caller)
    topic_menu = press(twilio, start_call(twilio, params), params, "2")
    assert query(gather(topic_menu).get("action"))["node"] == "topic"
    assert set(said_languages(topic_menu)) == {"ru-RU"}
    again = press(twilio, topic_menu, params, None)
    assert query(gather(again).get("action"))["node"] == "topic"
    routed = press(twilio, again, params, "1")
    assert "/twilio/route" in routed.find("./Redirect").text


@pytest.mark.parametrize(
    ("key", "topic"), [("1", "violence"), ("2", "trafficking"), ("3", "labor")]
)
def test_choosing_a_topic_hands_the_call_to_routing(app, twilio, key, topic):
    params = twilio.call_params()
    root = press(twilio, start_call(twilio, params), params, "2")
    root = press(twilio, root, params, key)
    redirect = root.find("./Redirect")
    assert redirect is not None and "/twilio/route" in redirect.text
    assert query(redirect.text)["topic"] == topic
    record = records(app)[0]
    assert record.topic == topic


def test_with_nobody_on_shift_the_caller_is_offered_a_callback_and_the_numbers(app, twilio):
    params = twilio.call_params()
    root = press(twilio, start_call(twilio, params), params, "3")
    offer = follow_redirect(twilio, press(twilio, root, params, "1"), params)
    assert query(gather(offer).get("action"))["node"] == "callback_offer"
    numbers = press(twilio, offer, params, "2")
    assert "112" in all_speech(numbers).replace(" ", "")
    record = records(app)[0]
    assert record.outcome == "nobody_available"
    assert record.routed_at is not None


def test_a_caller_silent_at_the_callback_offer_hears_the_numbers_and_a_goodbye(app, twilio):
    params = twilio.call_params()
    root = press(twilio, start_call(twilio, params), params, "3")
    root = follow_redirect(twilio, press(twilio, root, params, "1"), params)
    for _ in range(3):
        root = press(twilio, root, params, None)
    speech = all_speech(root).replace(" ", "")
    assert "112" in speech and "102" in speech
    assert ends_call(root)


def test_every_call_at_the_same_step_hears_the_same_and_is_recorded_for_itself(app, twilio):
    answers = []
    for _ in range(3):
        params = twilio.call_params()
        root = press(twilio, start_call(twilio, params), params, "3")
        answers.append(press(twilio, root, params, "7"))  # a wrong key at the topic menu
    assert len({ET.tostring(root) for root in answers}) == 1
    assert query(gather(answers[0]).get("action")) == {"node": "topic", "lang": "en", "tries": "1"}
    assert [(r.language, r.ivr_path[-2:]) for r in records(app)] == [
        ("en", ["topic:invalid", "topic"])
    ] * 3


def test_new_flows_are_heard_at_once_never_an_answer_rendered_from_the_old(app, twilio):
    from hotline.telephony import flow_registry

    params = twilio.call_params()
    before = press(twilio, start_call(twilio, params), params, "3")
    flows = app.extensions["flows"]
    topic = flows["default"].nodes["topic"]
    reworded = Prompt({lang: replace(text, text="Reworded topic menu.", audio=None)
                       for lang, text in topic.prompt.texts.items()})  # fmt: skip
    changed = replace(
        flows["default"], nodes={**flows["default"].nodes, "topic": replace(topic, prompt=reworded)}
    )
    flow_registry.init_app(app, {**flows, "default": changed})
    after = press(twilio, start_call(twilio, params), params, "3")
    assert "Reworded topic menu." not in all_speech(before)
    assert "Reworded topic menu." in all_speech(after)


def test_zero_gives_the_emergency_numbers_and_returns_to_the_menu(app, twilio):
    params = twilio.call_params()
    root = press(twilio, start_call(twilio, params), params, "3")
    root = press(twilio, root, params, "0")
    assert "112" in all_speech(root).replace(" ", "")
    assert query(gather(root).get("action"))["node"] == "topic"


def test_nine_repeats_the_topic_menu(app, twilio):
    params = twilio.call_params()
    menu = press(twilio, start_call(twilio, params), params, "3")
    again = press(twilio, menu, params, "9")
    assert query(gather(again).get("action"))["node"] == "topic"
    assert all_speech(menu) in all_speech(again)


def test_silence_repeats_the_language_menu_twice_then_takes_russian(app, twilio):
    params = twilio.call_params()
    root = start_call(twilio, params)
    nodes = []
    for _ in range(3):
        root = press(twilio, root, params, None)
        nodes.append(query(next_url(root)))
    assert [n["node"] for n in nodes] == ["language", "language", "topic"]
    assert nodes[2]["lang"] == "ru"


def test_a_silent_caller_still_reaches_routing_for_violence(app, twilio):
    params = twilio.call_params()
    root = press(twilio, start_call(twilio, params), params, "2")
    for _ in range(3):
        root = press(twilio, root, params, None)
    redirect = root.find("./Redirect")
    assert "/twilio/route" in redirect.text and query(redirect.text)["topic"] == "violence"


@pytest.mark.parametrize("digits", ["7", "*", "#", "12", "abc", "9" * 40, "x" * 5000, " "])
def test_a_wrong_key_says_so_and_repeats_the_menu(app, twilio, digits):
    params = twilio.call_params()
    menu = press(twilio, start_call(twilio, params), params, "2")
    root = press(twilio, menu, params, digits)
    assert query(gather(root).get("action"))["node"] == "topic"
    assert len(all_speech(root)) > len(all_speech(menu))  # the "not on the menu" notice first
    path = records(app)[0].ivr_path
    assert "topic:invalid" in path
    if len(digits.strip()) > 1:
        # Whatever was typed (it could be a phone number) is never stored.
        assert not any(digits.strip() in entry for entry in path)


# --- bad input and lost state -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/twilio/voice/step?node=no_such_node&lang=ru",
        "/twilio/voice/step?node=topic&lang=xx",
        "/twilio/voice/step?node=topic&lang=ru&tries=many",
        "/twilio/voice/step",
    ],
)
def test_lost_menu_state_restarts_the_menu_politely(app, twilio, path):
    response = twilio.post(path, twilio.call_params(), Digits="1")
    assert response.status_code == 200
    root = parse(response.data)
    assert query(gather(root).get("action"))["node"] == "language"


def test_a_step_for_an_unknown_call_still_answers_and_records_it(app, twilio):
    params = twilio.call_params()
    response = twilio.post("/twilio/voice/step?node=topic&lang=ru&tries=0", params, Digits="9")
    assert response.status_code == 200
    assert query(gather(parse(response.data)).get("action"))["node"] == "topic"
    assert [r.call_sid for r in records(app)] == [params["CallSid"]]


@pytest.mark.parametrize(
    "path", ["/twilio/voice", "/twilio/voice/step?node=topic", "/twilio/route"]
)
def test_a_webhook_without_a_call_sid_gets_400_and_safe_twiml(app, twilio, path):
    response = twilio.post(path, {"From": "+77015550123", "Digits": "1"})
    assert response.status_code == 400
    root = parse(response.data)
    assert "112" in all_speech(root).replace(" ", "") and ends_call(root)
    assert b"Traceback" not in response.data


def test_an_unknown_twilio_path_gets_safe_twiml_not_a_stack_trace(app, twilio):
    response = twilio.post("/twilio/nope", twilio.call_params())
    assert response.status_code == 404
    assert "112" in all_speech(parse(response.data)).replace(" ", "")


# --- status callbacks and the fallback ---------------------------------------------------------


def test_the_status_callback_closes_the_record_as_abandoned_in_menu(app, twilio):
    params = twilio.call_params()
    start_call(twilio, params)
    response = twilio.post(
        "/twilio/status", dict(params, CallStatus="completed", CallDuration="17")
    )
    assert response.status_code == 200
    record = records(app)[0]
    assert record.ended_at is not None and record.duration_seconds == 17
    assert record.outcome == "abandoned_in_menu"
    assert record.twilio_status == "completed"


def test_a_status_callback_for_an_unknown_call_is_accepted_and_stores_nothing(app, twilio):
    response = twilio.post("/twilio/status", dict(twilio.call_params(), CallStatus="completed"))
    assert response.status_code == 200
    assert records(app) == []


def test_a_progress_event_after_the_final_one_does_not_reopen_the_call(app, twilio):
    params = twilio.call_params()
    start_call(twilio, params)
    twilio.post("/twilio/status", dict(params, CallStatus="completed", CallDuration="5"))
    twilio.post("/twilio/status", dict(params, CallStatus="ringing"))
    assert records(app)[0].twilio_status == "completed"


def test_the_fallback_answers_the_emergency_numbers_in_every_language(app, twilio):
    response = twilio.post(
        "/twilio/fallback", dict(twilio.call_params(), ErrorCode="11200", ErrorUrl="x")
    )
    assert response.status_code == 200
    root = parse(response.data)
    assert "112" in all_speech(root).replace(" ", "") and ends_call(root)
    assert {"ru-RU", "en-US"} <= set(said_languages(root))
    assert records(app) == []
