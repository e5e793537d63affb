"""Callback consent in the IVR: which number, when it is safe, what may be said; the request."""

from __future__ import annotations

import threading
import time

import pytest
from privacy_scan import scan_database, scan_lines
from rq import Queue
from sqlalchemy import create_engine, select
from twiml_helpers import all_speech, ends_call, gather, parse, path_and_query, query

from hotline.models import CallbackRequest, CallRecord
from hotline.queues import CALLBACKS

pytestmark = pytest.mark.usefixtures("redis_client")

CALLER = "+77015550123"
OTHER = "+77017654321"


def post(twilio, url, params, digits=None):
    form = dict(params, **({"Digits": digits} if digits is not None else {}))
    response = twilio.post(path_and_query(url), form)
    assert response.status_code == 200, response.data
    return parse(response.data)


def press(twilio, root, params, digits):
    return post(twilio, gather(root).get("action"), params, digits)


def to_offer(twilio, params):
    """Russian, labor; nobody is on shift (empty roster), so the callback offer comes."""
    root = post(twilio, "/twilio/voice", params)
    root = press(twilio, root, params, "2")
    root = press(twilio, root, params, "3")
    root = post(twilio, root.find("./Redirect").text, params)
    assert query(gather(root).get("action"))["node"] == "callback_offer"
    return root


def node_of(root) -> str:
    return query(gather(root).get("action"))["node"]


def consent(twilio, params, *keys):
    """From the offer, press `keys` in turn; follow the final redirect to the registration."""
    root = to_offer(twilio, params)
    for key in keys:
        root = press(twilio, root, params, key)
    redirect = root.find("./Redirect")
    if redirect is not None and "callback-request" in redirect.text:
        root = post(twilio, redirect.text, params)
    return root


def requests(app) -> list[CallbackRequest]:
    with app.extensions["db"].session() as session:
        return list(session.scalars(select(CallbackRequest)))


def test_a_callback_to_the_callers_own_number_in_the_morning_without_saying_who_calls(
    app, twilio, redis_client
):
    params = twilio.call_params(caller=CALLER)
    offer = to_offer(twilio, params)
    number_menu = press(twilio, offer, params, "1")
    assert node_of(number_menu) == "callback_number"
    # The number is read back by its last two digits only ("2 3" for the voice).
    assert "2 3" in all_speech(number_menu) and "5550" not in all_speech(number_menu)
    done = consent(twilio, params, "1", "1", "2", "2")
    assert ends_call(done)
    assert "9" in all_speech(done) and "12" in all_speech(done)  # when to expect the call
    [request] = requests(app)
    assert (request.window, request.identify, request.status) == ("morning", False, "pending")
    assert request.topic == "labor" and request.language == "ru"
    assert request.number_last_digits == "23" and request.number_ciphertext
    fernet = app.extensions["fernet"]
    assert fernet.decrypt(request.number_ciphertext.encode()).decode() == CALLER
    with app.extensions["db"].session() as session:
        record = session.scalar(select(CallRecord))
        assert record.outcome == "callback_requested"
        assert request.call_record_id == record.id
    queue = Queue(CALLBACKS, connection=redis_client)
    scheduled = queue.scheduled_job_registry.get_job_ids() + queue.get_job_ids()
    assert any(job_id.startswith(f"callback-{request.id}-") for job_id in scheduled)


def test_the_number_menu_reads_the_digits_back_again_after_silence_or_a_wrong_key(app, twilio):
    params = twilio.call_params(caller=CALLER)
    number_menu = press(twilio, to_offer(twilio, params), params, "1")
    silence = post(twilio, number_menu.find("./Redirect").text, params)
    wrong = press(twilio, silence, params, "7")
    for again in (silence, wrong):
        assert node_of(again) == "callback_number"
        assert "2 3" in all_speech(again) and "5550" not in all_speech(again)


def test_another_number_typed_on_the_keypad_is_carried_only_encrypted(app, twilio):
    params = twilio.call_params(caller=CALLER)
    root = to_offer(twilio, params)
    root = press(twilio, root, params, "1")  # callback
    root = press(twilio, root, params, "2")  # another number
    assert node_of(root) == "callback_enter"
    assert gather(root).get("finishOnKey") == "#" and gather(root).get("numDigits") is None
    root = press(twilio, root, params, "87017654321")
    assert node_of(root) == "callback_window"
    # The typed number is in no URL: only a Fernet token travels.
    assert "7654321" not in gather(root).get("action")
    root = press(twilio, root, params, "4")
    root = press(twilio, root, params, "1")
    done = post(twilio, root.find("./Redirect").text, params)
    assert ends_call(done)
    [request] = requests(app)
    assert request.window == "evening" and request.identify is True
    decrypted = app.extensions["fernet"].decrypt(request.number_ciphertext.encode()).decode()
    assert decrypted == OTHER


@pytest.mark.parametrize("typed", ["123", "8701", "870176543219999", "88005553535", "abc", ""])
def test_a_number_that_cannot_be_called_is_asked_again(app, twilio, typed):
    params = twilio.call_params()
    root = to_offer(twilio, params)
    root = press(twilio, press(twilio, root, params, "1"), params, "2")
    again = (
        press(twilio, root, params, typed)
        if typed
        else post(twilio, root.find("./Redirect").text, params)
    )
    assert node_of(again) == "callback_enter"
    assert requests(app) == []


def test_a_caller_with_a_hidden_number_must_type_one(app, twilio):
    params = twilio.call_params(caller="anonymous")
    root = to_offer(twilio, params)
    root = press(twilio, root, params, "1")
    assert node_of(root) == "callback_enter"


def test_hanging_up_half_way_stores_and_queues_nothing(app, twilio, redis_client, database_url):
    params = twilio.call_params(caller=CALLER)
    root = to_offer(twilio, params)
    root = press(twilio, root, params, "1")
    root = press(twilio, root, params, "2")
    press(twilio, root, params, "87017654321")  # typed, then the caller hangs up
    twilio.post("/twilio/status", dict(params, CallStatus="completed", CallDuration="50"))
    assert requests(app) == []
    assert Queue(CALLBACKS, connection=redis_client).count == 0
    engine = create_engine(database_url)
    try:
        assert scan_database(engine, OTHER) == [] and scan_database(engine, CALLER) == []
    finally:
        engine.dispose()
    for key in redis_client.scan_iter():
        assert scan_lines([key.decode(errors="replace")], OTHER) == []


def test_no_window_or_identify_choice_is_ever_assumed(app, twilio):
    params = twilio.call_params()
    root = to_offer(twilio, params)
    root = press(twilio, press(twilio, root, params, "1"), params, "1")
    assert node_of(root) == "callback_window"
    for _ in range(3):
        root = post(twilio, root.find("./Redirect").text, params)
    assert node_of(root) == "callback_offer"  # back to the offer, nothing registered
    assert requests(app) == []


def test_a_forged_or_expired_number_token_registers_nothing(app, twilio):
    params = twilio.call_params()
    url = (
        "/twilio/voice/callback-request"
        "?lang=ru&topic=labor&v_number=forged&v_window=any&v_identify=no"
    )
    done = post(twilio, url, params)
    assert ends_call(done) and "112" in all_speech(done).replace(" ", "")
    assert requests(app) == []


def test_redis_down_at_consent_still_commits_and_confirms(sqlite_url):
    from support import TwilioWebhooks, test_env

    from hotline import create_app
    from hotline.settings import Settings

    app = create_app(
        Settings.from_env(test_env(DATABASE_URL=sqlite_url, REDIS_URL="redis://127.0.0.1:1/0"))
    )
    twilio = TwilioWebhooks(app.test_client())
    params = twilio.call_params(caller=CALLER)
    done = consent(twilio, params, "1", "1", "1", "1")
    assert ends_call(done) and "112" in all_speech(done).replace(" ", "")
    with app.extensions["db"].session() as session:
        [request] = session.scalars(select(CallbackRequest)).all()
        assert request.status == "pending" and request.window == "any"
    app.extensions["db"].dispose()


def test_the_outcome_stays_callback_requested_when_the_writer_applies_an_earlier_event_meanwhile(
    app, twilio
):
    """The journal's writer is applying the call's earlier events (a volunteer rung, no answer)
    when the caller's consent is committed: it read the record before the commit and writes after
    it. The outcome must still end up "callback requested" (it was set back to no answer)."""
    from sqlalchemy import event as orm_event
    from sqlalchemy.orm import Session

    from hotline.calllog import journal

    params = twilio.call_params(caller=CALLER)
    root = to_offer(twilio, params)
    for key in ("1", "1", "2", "2"):
        root = press(twilio, root, params, key)
    register_url = root.find("./Redirect").text
    recorder = app.extensions["recorder"]
    registered: list[object] = []
    started: list[bool] = []

    def consent_commits_meanwhile(session, *_):  # the writer's flush of the earlier event
        if started or threading.current_thread().name != "hotline-applier":
            return
        if not any(getattr(o, "call_sid", None) == params["CallSid"] for o in session.dirty):
            return
        started.append(True)
        worker = threading.Thread(
            target=lambda: registered.append(post(twilio, register_url, params))
        )
        worker.start()
        worker.join(timeout=30)

    orm_event.listen(Session, "before_flush", consent_commits_meanwhile)
    try:
        sid = params["CallSid"]
        recorder.record(
            [
                journal.event("ring", sid, seq=0, volunteer=7),
                journal.event("legs_ended", sid, seqs=[0], dial_status="no-answer"),
                journal.event("unanswered", sid, reason="exhausted"),
            ]
        )
        deadline = time.monotonic() + 30
        while not registered:
            assert time.monotonic() < deadline, "the consent was never posted"
            time.sleep(0.05)
    finally:
        orm_event.remove(Session, "before_flush", consent_commits_meanwhile)
    assert ends_call(registered[0])
    recorder.settle()
    [request] = requests(app)
    with app.extensions["db"].session() as session:
        record = session.scalar(select(CallRecord).where(CallRecord.call_sid == params["CallSid"]))
        assert record.outcome == "callback_requested"
        assert request.call_record_id == record.id
