"""The waiting line through signed webhooks, a real database, a real Redis and the local Twilio.

One volunteer on shift: a second caller waits in line (<Enqueue>), hears their place, and is put
through in a conference after the volunteer finishes the first call, hears the whisper and presses
1 on a leg the hotline placed through the REST API. Timeouts, keys, hangups and refusals too.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from faults import PrivateRedis
from sqlalchemy import select
from support import (
    ALWAYS_ON_SHIFT,
    TwilioWebhooks,
    config_without_wrap_up,
    redis_test_url,
    test_env,
)
from twilio_fake import CreatedCall, FakeTwilio
from twiml_helpers import all_speech, ends_call, gather, parse, path_and_query, query

from hotline import create_app
from hotline.models import CallRecord
from hotline.routing import claims, line_store, wrap_up
from hotline.routing.roster_file import parse_roster_text
from hotline.routing.roster_import import import_roster
from hotline.settings import Settings
from hotline.telephony import room

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = "+77270000000"
DANA = "+77011110001"
ROSTER = f"""
volunteers:
  - handle: dana
    display_name: Dana
    phone: "{DANA}"
    roles: [psychologist]
    topics: [violence, trafficking]
    languages: [ru]
    shifts:{ALWAYS_ON_SHIFT}
"""


def _config_tmp():
    import tempfile

    return tempfile.gettempdir() + "/hotline-line-tests"


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


def line_app(database_url, redis_url, fake_twilio, config_dir=None):
    """The app with one volunteer. With no config_dir, wrap-up is off: the volunteer is free the
    moment a call ends, as if they reported at once (wrap-up with the line: its own test below)."""
    settings = Settings.from_env(
        test_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            TWILIO_API_BASE_URL=fake_twilio.base_url,
            HOTLINE_CONFIG_DIR=config_dir or config_without_wrap_up(_config_tmp()),
        )
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    with app.extensions["db"].session() as session:
        import_roster(session, parse_roster_text(ROSTER), app.extensions["fernet"])
    return app


@pytest.fixture
def app(database_url, redis_client, fake_twilio):
    app = line_app(database_url, redis_test_url(), fake_twilio)
    yield app
    app.extensions["db"].dispose()


def reach_routing(twilio, params, language_key="2", topic_key="1"):
    root = parse(twilio.post("/twilio/voice", params).data)
    for key in (language_key, topic_key):
        root = parse(
            twilio.post(path_and_query(gather(root).get("action")), params, Digits=key).data
        )
    return parse(twilio.post(path_and_query(root.find("./Redirect").text), params).data)


def connect_first_caller(twilio, fake):
    """Caller A takes Dana, who is free: rung through the REST API before routing answers, the
    whisper, 1, and A is moved into the conference (with Redis down: <Dial><Number>, whisper, 1).
    Returns (params, what end_first_call needs: Dana's REST leg, or the <Dial> TwiML)."""
    params = twilio.call_params()
    fake.add_call(params["CallSid"], in_progress=True)  # Twilio holds the incoming call
    before = len(fake.created)
    root = reach_routing(twilio, params)
    number = root.find("./Dial/Number")
    if number is not None:  # Redis down: the degraded path
        assert number.text.strip() == DANA
        child = dict(twilio.call_params(), ParentCallSid=params["CallSid"], From=HOTLINE)
        whisper = parse(twilio.post(path_and_query(number.get("url")), child).data)
        twilio.post(path_and_query(gather(whisper).get("action")), child, Digits="1")
        return params, root
    assert root.find("./Enqueue") is not None
    (created,) = fake.created[before:]  # rung before routing answered
    assert created.params["To"] == DANA
    leg = volunteer_leg(created)
    whisper = post(twilio, created.params["Url"], dict(leg, AnsweredBy="human"))
    post(twilio, gather(whisper).get("action"), leg, Digits="1")
    post(twilio, fake.call(params["CallSid"]).updates[-1]["Url"], params)  # into the room
    return params, created


def end_first_call(twilio, params, first):
    """Dana hangs up on caller A: her leg's status callback (or the <Dial>'s action)."""
    if isinstance(first, CreatedCall):
        post(twilio, first.params["StatusCallback"],
             dict(volunteer_leg(first), CallStatus="completed", CallDuration="300"))  # fmt: skip
        return
    action = path_and_query(first.find("./Dial").get("action"))
    twilio.post(action, dict(params, DialCallStatus="completed", DialBridged="true"))


def line_leg(fake):
    """The leg the line rang for the waiting caller (Dana's first leg was caller A's)."""
    return fake.wait_for(2)[-1]


def wait_in_line(twilio, fake):
    """Caller B reaches routing while Dana is on a call: the Enqueue and B's params."""
    params = twilio.call_params()
    fake.add_call(params["CallSid"], in_progress=True)  # Twilio holds the incoming call
    root = reach_routing(twilio, params)
    return params, root


_QUEUE_TIME = itertools.count(1)


def waits(twilio, root, params):
    """Twilio fetching the wait document again (QueueTime grows, as each fetch differs)."""
    url = root.find("./Enqueue").get("waitUrl")
    return post(twilio, url, params, QueuePosition="1", QueueTime=str(next(_QUEUE_TIME)))


def post(twilio, url, params, **extra):
    response = twilio.post(path_and_query(url), params, **extra)
    assert response.status_code == 200, response.data
    return parse(response.data)


def volunteer_leg(created):
    return {
        "CallSid": created.sid,
        "AccountSid": "AC" + "1" * 32,
        "From": created.params["From"],
        "To": created.params["To"],
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
        "ApiVersion": "2010-04-01",
    }


def record_of(app, call_sid) -> CallRecord:
    deadline = time.monotonic() + 5
    while True:
        with app.extensions["db"].session() as session:
            record = session.scalar(select(CallRecord).where(CallRecord.call_sid == call_sid))
            if record is not None:
                record.attempts  # noqa: B018 - loaded before the session closes
                return record
        assert time.monotonic() < deadline
        time.sleep(0.05)


def no_record_attribute(*roots) -> bool:
    return all("record" not in element.attrib for root in roots for element in root.iter())


def test_a_caller_who_finds_everyone_busy_waits_in_line_and_hears_their_place(
    app, twilio, fake_twilio
):
    connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    enqueue = root.find("./Enqueue")
    assert enqueue is not None and root.find("./Dial") is None
    assert "/twilio/line/wait" in enqueue.get("waitUrl")
    wait = waits(twilio, root, params)
    spoken = all_speech(wait)
    assert "очереди - 1" in spoken and "нажмите 1" in spoken and "0" in spoken
    key = gather(wait)
    assert key.get("numDigits") == "1" and 30 <= int(key.get("timeout")) <= 45
    assert wait.find(".//Play") is None  # quiet between messages: no hold music by default
    assert len(fake_twilio.created) == 1  # nobody else rung: the only volunteer is on a call


def test_the_waiting_caller_is_put_through_in_a_conference_when_the_volunteer_is_free(
    app, twilio, fake_twilio, redis_client
):
    first, first_root = connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    end_first_call(twilio, first, first_root)
    twilio.post("/twilio/status", dict(first, CallStatus="completed", CallDuration="300"))
    created = line_leg(fake_twilio)
    # Rung from the hotline's number, with a machine detected before the whisper is heard.
    assert created.params["To"] == DANA and created.params["From"] == HOTLINE
    assert created.params["MachineDetection"] == "Enable"
    assert "Record" not in created.params
    leg = volunteer_leg(created)
    whisper = post(twilio, created.params["Url"], dict(leg, AnsweredBy="human"))
    assert "насилие" in all_speech(whisper) and gather(whisper).get("numDigits") == "1"
    volunteer = post(twilio, gather(whisper).get("action"), leg, Digits="1")
    room = volunteer.find("./Dial/Conference")
    assert room.text == params["CallSid"]  # named by our call id, never a number
    # The caller is moved out of the queue into the same room by a Calls update.
    (update,) = fake_twilio.call(params["CallSid"]).updates
    assert "/twilio/line/join" in update["Url"]
    caller = post(twilio, update["Url"], params)
    assert caller.find("./Dial/Conference").text == params["CallSid"]
    assert "Соединяю" in all_speech(caller)
    assert no_record_attribute(root, volunteer, caller, whisper)
    assert caller.find("./Dial/Conference").get("waitUrl") == ""  # no hold music in the room
    record = record_of(app, params["CallSid"])
    assert record.outcome == "connected" and record.answered_by_id is not None
    assert [a.outcome for a in record.attempts] == ["accepted"]
    # Dana is held for the whole conversation: a third caller waits.
    assert claims.claimed_ids(redis_client, [record.answered_by_id])
    # If the update were lost, the caller's next wait document sends them in all the same.
    wait = waits(twilio, root, params)
    assert wait.find("./Leave") is not None
    left = post(twilio, root.find("./Enqueue").get("action"), params, QueueResult="leave")
    assert left.find("./Dial/Conference").text == params["CallSid"]


def test_a_volunteer_who_declines_frees_the_line_caller_who_keeps_waiting(
    app, twilio, fake_twilio, redis_client
):
    first, first_root = connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    end_first_call(twilio, first, first_root)
    created = line_leg(fake_twilio)
    leg = volunteer_leg(created)
    whisper = post(twilio, created.params["Url"], dict(leg, AnsweredBy="human"))
    declined = post(twilio, gather(whisper).get("action"), leg, Digits="2")
    assert ends_call(declined)
    assert claims.claimed_ids(redis_client, [1, 2, 3]) == set()
    post(twilio, created.params["StatusCallback"], dict(leg, CallStatus="completed"))
    caller, outcome = line_store.find(redis_client, params["CallSid"])
    assert outcome is None and caller.offered_to is None and caller.tried  # still waiting
    wait = waits(twilio, root, params)
    assert "очереди - 1" in all_speech(wait)
    time.sleep(0.3)
    assert len(fake_twilio.created) == 2  # the volunteer who declined is not rung again


def test_a_voicemail_answering_the_line_leg_is_hung_up_on(app, twilio, fake_twilio):
    first, first_root = connect_first_caller(twilio, fake_twilio)
    wait_in_line(twilio, fake_twilio)
    end_first_call(twilio, first, first_root)
    created = line_leg(fake_twilio)
    machine = post(
        twilio, created.params["Url"], dict(volunteer_leg(created), AnsweredBy="machine_start")
    )
    assert ends_call(machine) and gather(machine) is None and all_speech(machine) == ""


def test_after_the_maximum_wait_the_caller_is_offered_a_callback(
    app, twilio, fake_twilio, redis_client
):
    connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    key = line_store.caller_key(params["CallSid"])
    redis_client.hset(key, "joined", time.time() - 181)  # three minutes and a second ago
    wait = waits(twilio, root, params)
    assert wait.find("./Leave") is not None
    offer = post(twilio, root.find("./Enqueue").get("action"), params, QueueResult="leave")
    assert query(gather(offer).get("action"))["node"] == "callback_offer"
    record = record_of(app, params["CallSid"])
    assert record.wait_seconds is not None and record.wait_seconds >= 180
    assert record.outcome == "nobody_available"


def test_pressing_1_in_line_leads_to_the_callback_questions(app, twilio, fake_twilio):
    connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    wait = waits(twilio, root, params)
    leave = post(twilio, gather(wait).get("action"), params, Digits="1")
    assert leave.find("./Leave") is not None
    questions = post(twilio, root.find("./Enqueue").get("action"), params, QueueResult="leave")
    assert query(gather(questions).get("action"))["node"] == "callback_number"


def test_pressing_0_in_line_says_the_emergency_numbers_and_keeps_the_place(
    app, twilio, fake_twilio
):
    connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    wait = waits(twilio, root, params)
    numbers = post(twilio, gather(wait).get("action"), params, Digits="0")
    assert "1 1 2" in all_speech(numbers) and "/twilio/line/wait" in numbers.find("./Redirect").text
    for other in ("5", "#", "99"):
        again = post(twilio, gather(wait).get("action"), params, Digits=other)
        assert again.find("./Leave") is None and again.find("./Redirect") is not None
    assert "очереди - 1" in all_speech(post(twilio, numbers.find("./Redirect").text, params))


def test_a_caller_hanging_up_in_line_is_recorded_as_abandoned_with_the_wait(
    app, twilio, fake_twilio, redis_client
):
    connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    redis_client.hset(line_store.caller_key(params["CallSid"]), "joined", time.time() - 42)
    gone = post(twilio, root.find("./Enqueue").get("action"), params, QueueResult="hangup")
    assert list(gone) == []
    twilio.post("/twilio/status", dict(params, CallStatus="completed", CallDuration="80"))
    record = record_of(app, params["CallSid"])
    assert record.outcome == "abandoned_waiting" and 42 <= record.wait_seconds <= 45
    assert line_store.callers(redis_client) == []


def test_the_whisper_for_a_caller_who_left_the_line_hangs_up(app, twilio, fake_twilio):
    first, first_root = connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    end_first_call(twilio, first, first_root)
    created = line_leg(fake_twilio)
    post(twilio, root.find("./Enqueue").get("action"), params, QueueResult="hangup")
    whisper = post(twilio, created.params["Url"], dict(volunteer_leg(created), AnsweredBy="human"))
    assert ends_call(whisper) and gather(whisper) is None


@pytest.mark.parametrize("path", ["/twilio/line/wait", "/twilio/line/left", "/twilio/line/join"])
def test_line_webhooks_without_a_signature_are_refused(app, twilio, path):
    response = twilio.post(path, twilio.call_params(), signed=False)
    assert response.status_code == 403


# --- Redis down: the line lives in Redis --------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path):
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def app_with_private_redis(sqlite_url, private_redis, fake_twilio):
    app = line_app(sqlite_url, private_redis.url, fake_twilio)
    yield app
    app.extensions["db"].dispose()


def test_with_redis_down_a_caller_who_finds_everyone_busy_is_offered_a_callback_at_once(
    app_with_private_redis, private_redis, fake_twilio
):
    twilio = TwilioWebhooks(app_with_private_redis.test_client())
    private_redis.stop()
    connect_first_caller(twilio, fake_twilio)  # Dana's claim is taken in the database
    params = twilio.call_params()
    root = reach_routing(twilio, params)
    assert root.find("./Enqueue") is None and root.find("./Dial") is None
    assert query(gather(root).get("action"))["node"] == "callback_offer"


def test_callers_in_line_when_redis_stops_leave_it_for_the_callback_offer(
    app_with_private_redis, private_redis, fake_twilio
):
    twilio = TwilioWebhooks(app_with_private_redis.test_client())
    connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    private_redis.stop()
    wait = waits(twilio, root, params)
    assert wait.find("./Leave") is not None  # never left on hold with nobody to match them
    offer = post(twilio, root.find("./Enqueue").get("action"), params, QueueResult="leave")
    assert query(gather(offer).get("action"))["node"] == "callback_offer"
    pressed = post(twilio, gather(offer).get("action"), params, Digits="2")
    assert "1 1 2" in all_speech(pressed)


# --- conference and participant events ----------------------------------------------------------


def put_through(twilio, fake_twilio):
    """A caller connected from the line: caller params, volunteer leg sid, the volunteer's
    conference and the whole TwiML of their leg."""
    first, first_root = connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    end_first_call(twilio, first, first_root)
    created = line_leg(fake_twilio)
    leg = volunteer_leg(created)
    whisper = post(twilio, created.params["Url"], dict(leg, AnsweredBy="human"))
    volunteer = post(twilio, gather(whisper).get("action"), leg, Digits="1")
    return params, created.sid, volunteer.find("./Dial/Conference"), volunteer


def room_event(twilio, conference, kind, leg_sid, sequence, **extra):
    form = {
        "AccountSid": "AC" + "1" * 32,
        "ConferenceSid": "CF" + "a" * 32,
        "FriendlyName": conference.text,
        "StatusCallbackEvent": kind,
        "SequenceNumber": str(sequence),
        "Timestamp": "Tue, 02 Dec 2026 03:40:00 +0000",
        **({"CallSid": leg_sid} if leg_sid else {}),
        **extra,
    }
    response = twilio.post(path_and_query(conference.get("statusCallback")), form)
    assert response.status_code == 200 and list(parse(response.data)) == []
    return response


def test_conference_events_follow_who_is_in_the_room_once_each(
    app, twilio, fake_twilio, redis_client
):
    params, leg_sid, conference, _volunteer = put_through(twilio, fake_twilio)
    assert conference.get("statusCallbackEvent") == "start end join leave hold"
    sid = params["CallSid"]
    room_event(twilio, conference, "participant-join", leg_sid, 1)
    room_event(twilio, conference, "participant-join", sid, 2)
    room_event(twilio, conference, "participant-join", sid, 2)  # Twilio's retry: no new event
    room_event(twilio, conference, "participant-hold", sid, 3, Hold="true")
    assert room.state(redis_client, sid) == {"volunteer": "joined", "caller": "hold"}
    room_event(twilio, conference, "participant-unhold", sid, 4, Hold="false")
    room_event(twilio, conference, "participant-leave", leg_sid, 5)
    assert room.state(redis_client, sid) == {"volunteer": "left", "caller": "joined"}
    deadline = time.monotonic() + 5
    while True:
        path = record_of(app, sid).ivr_path
        if "room:volunteer:left" in path or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    rooms = [step for step in path if step.startswith("room:")]
    assert rooms == [
        "room:volunteer:joined",
        "room:caller:joined",
        "room:caller:hold",
        "room:caller:joined",
        "room:volunteer:left",
    ]
    assert not any("+7" in step for step in path)


def test_a_conference_event_for_an_unknown_call_gets_a_2xx_and_changes_nothing(
    app, twilio, redis_client
):
    stranger = "CA" + "9" * 32
    url = f"/twilio/line/conference-status?call={stranger}"
    form = {"FriendlyName": "someone-elses-room", "StatusCallbackEvent": "participant-join",
            "CallSid": stranger}  # fmt: skip
    response = twilio.post(url, form)
    assert response.status_code == 200 and list(parse(response.data)) == []
    assert room.state(redis_client, stranger) == {}
    assert twilio.post(url, form, signed=False).status_code == 403


# --- the line and wrap-up ---------------------------------------------------------------------


@pytest.fixture
def app_with_wrap_up(database_url, redis_client, fake_twilio):
    app = line_app(database_url, redis_test_url(), fake_twilio, config_dir=str(ROOT / "config"))
    yield app
    app.extensions["db"].dispose()


def test_a_waiting_caller_is_offered_to_the_volunteer_only_when_their_wrap_up_ends(
    app_with_wrap_up, fake_twilio, redis_client
):
    twilio = TwilioWebhooks(app_with_wrap_up.test_client())
    first, first_root = connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    end_first_call(twilio, first, first_root)
    twilio.post("/twilio/status", dict(first, CallStatus="completed", CallDuration="300"))
    # Dana is writing her report: the caller keeps waiting and hears their place.
    assert "очереди - 1" in all_speech(waits(twilio, root, params))
    time.sleep(0.5)  # the matcher runs off the request's thread: give it time to (not) ring
    assert len(fake_twilio.created) == 1  # only caller A's leg
    record = record_of(app_with_wrap_up, first["CallSid"])
    dana = record.answered_by_id
    # Her report ends the wrap-up (what the report page does); the next wait document's poll of
    # the matcher rings her for the waiting caller.
    assert wrap_up.finish(redis_client, dana, wrap_up.call_owner(first["CallSid"]))
    waits(twilio, root, params)
    created = line_leg(fake_twilio)
    leg = volunteer_leg(created)
    whisper = post(twilio, created.params["Url"], dict(leg, AnsweredBy="human"))
    post(twilio, gather(whisper).get("action"), leg, Digits="1")
    # That conversation, from the line, ends: her claim passes to wrap-up again.
    post(twilio, created.params["StatusCallback"], dict(leg, CallStatus="completed",
                                                         CallDuration="120"))  # fmt: skip
    assert redis_client.get(claims.claim_key(dana)) == (
        wrap_up.call_owner(params["CallSid"]).encode()
    )


def test_a_report_saved_in_the_dashboard_offers_the_waiting_caller_at_once(
    app_with_wrap_up, fake_twilio, redis_client
):
    from test_dashboard_support import Dashboard, add_user

    from hotline.models import User

    app = app_with_wrap_up
    twilio = TwilioWebhooks(app.test_client())
    first, first_leg = connect_first_caller(twilio, fake_twilio)
    params, root = wait_in_line(twilio, fake_twilio)
    end_first_call(twilio, first, first_leg)
    twilio.post("/twilio/status", dict(first, CallStatus="completed", CallDuration="300"))
    record = record_of(app, first["CallSid"])
    with app.extensions["db"].session() as session:
        dana = session.get(User, add_user(session, "dana", "volunteer").id)
        dana.volunteer_id = record.answered_by_id
        session.commit()
    client = app.test_client()
    browser = Dashboard(client)
    client.set_cookie("hotline_lang", "en", path="/dashboard")
    browser.login("dana")
    assert len(fake_twilio.created) == 1  # wrapping up: not rung for the waiting caller
    sent = browser.post(
        f"/dashboard/outcomes/call/{record.id}", {"who_called": "affected", "version": "new"}
    )
    assert sent.status_code == 303
    # No wait document is fetched: the report itself has the matcher ring Dana.
    created = fake_twilio.wait_for(2, timeout=3.0)[-1]
    assert created.params["To"] == DANA and params["CallSid"] in created.params["Url"]
