"""A caller for whom a volunteer is free: into a conference like a call from the line.

Routing claims the volunteer and rings them through the REST API (the local stand-in for Twilio)
before it answers; the caller waits in the <Enqueue> hearing "still trying", never a place in
line, and 0 says the emergency numbers. On 1 the volunteer is in the room named by the call sid
(with * for a transfer) and the caller is moved in. A refusal rings the next volunteer; when the
list runs out the caller is offered a callback. With the REST API failing, the call goes on with
<Dial><Number> (the degraded path) and the same claim.
"""

from __future__ import annotations

import time

import pytest
from support import (
    ALWAYS_ON_SHIFT,
    TwilioWebhooks,
    config_without_wrap_up,
    redis_test_url,
    test_env,
)
from test_waiting_line import (
    DANA,
    HOTLINE,
    _config_tmp,
    fake_twilio,
    no_record_attribute,
    post,
    private_redis,
    reach_routing,
    record_of,
    volunteer_leg,
)
from test_waiting_line import (
    ROSTER as WAITING_LINE_ROSTER,
)
from twiml_helpers import all_speech, ends_call, gather, query

from hotline import create_app
from hotline.models import VolunteerClaim
from hotline.routing import claims, line_store
from hotline.routing.roster_file import parse_roster_text
from hotline.routing.roster_import import import_roster
from hotline.settings import Settings

FIXTURES = (fake_twilio, private_redis)  # pytest finds fixtures by name in the test module
ERZHAN = "+77011110002"
ROSTER = (
    WAITING_LINE_ROSTER
    + f"""  - handle: erzhan
    display_name: Erzhan
    phone: "{ERZHAN}"
    roles: [lawyer]
    topics: [violence]
    languages: [ru]
    shifts:{ALWAYS_ON_SHIFT}
"""
)


@pytest.fixture
def app(database_url, redis_client, fake_twilio):
    settings = Settings.from_env(
        test_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_test_url(),
            TWILIO_API_BASE_URL=fake_twilio.base_url,
            HOTLINE_CONFIG_DIR=config_without_wrap_up(_config_tmp()),
        )
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    with app.extensions["db"].session() as session:
        import_roster(session, parse_roster_text(ROSTER), app.extensions["fernet"])
    yield app
    app.extensions["db"].dispose()


def call_in(twilio, fake):
    params = twilio.call_params()
    fake.add_call(params["CallSid"], in_progress=True)  # Twilio holds the incoming call
    return params, reach_routing(twilio, params)


def wait_document(twilio, root, params, queue_time):
    url = root.find("./Enqueue").get("waitUrl")
    return post(twilio, url, params, QueuePosition="1", QueueTime=str(queue_time))


def answer(twilio, created, key="1", answered_by="human"):
    leg = volunteer_leg(created)
    whisper = post(twilio, created.params["Url"], dict(leg, AnsweredBy=answered_by))
    if gather(whisper) is None:
        return whisper
    return post(twilio, gather(whisper).get("action"), leg, Digits=key)


def test_a_free_volunteer_is_rung_through_the_rest_api_and_both_meet_in_the_calls_room(
    app, twilio, fake_twilio, redis_client
):
    params, root = call_in(twilio, fake_twilio)
    enqueue = root.find("./Enqueue")
    assert enqueue is not None and root.find("./Dial") is None
    # Dana was rung before routing answered: from the hotline's number, a machine detected
    # before the whisper, nothing recorded.
    (created,) = fake_twilio.created
    assert created.params["To"] == DANA and created.params["From"] == HOTLINE
    assert created.params["MachineDetection"] == "Enable" and "Record" not in created.params
    # While she is rung the caller hears no place in line; later "still trying"; 0 still works.
    first = wait_document(twilio, root, params, 0)
    assert "очереди" not in all_speech(first) and all_speech(first) == ""
    assert gather(first).get("numDigits") == "1" and int(gather(first).get("timeout")) <= 10
    later = wait_document(twilio, root, params, 9)
    assert "очереди" not in all_speech(later) and all_speech(later) != ""
    emergency = post(twilio, gather(later).get("action"), params, Digits="0")
    assert "1 1 2" in all_speech(emergency) and "очереди" not in all_speech(emergency)
    assert emergency.find("./Redirect") is not None
    volunteer = answer(twilio, created)
    conference = volunteer.find("./Dial/Conference")
    assert conference.text == params["CallSid"]  # the room is named by our call id
    assert volunteer.find("./Dial").get("hangupOnStar") == "true"  # * can transfer
    (update,) = fake_twilio.call(params["CallSid"]).updates
    caller = post(twilio, update["Url"], params)
    assert caller.find("./Dial/Conference").text == params["CallSid"]
    assert all_speech(caller) == ""  # no second "connecting you": Dana is waiting in the room
    assert no_record_attribute(root, first, volunteer, caller)
    record = record_of(app, params["CallSid"])
    assert record.outcome == "connected" and [a.outcome for a in record.attempts] == ["accepted"]
    assert "line" not in (record.ivr_path or [])  # the caller never waited in line
    assert claims.claimed_ids(redis_client, [record.answered_by_id])  # held for the call


def test_a_refusal_rings_the_next_volunteer_and_a_run_out_list_offers_a_callback(
    app, twilio, fake_twilio, redis_client
):
    params, root = call_in(twilio, fake_twilio)
    (first,) = fake_twilio.created
    assert ends_call(answer(twilio, first, key="2"))  # declined
    second = fake_twilio.wait_for(2)[-1]
    assert {first.params["To"], second.params["To"]} == {DANA, ERZHAN}
    # The second one's voicemail answers: hung up on, never hears the whisper.
    assert ends_call(answer(twilio, second, answered_by="machine_start"))
    post(twilio, second.params["StatusCallback"],
         dict(volunteer_leg(second), CallStatus="completed"))  # fmt: skip
    deadline = time.monotonic() + 5
    while line_store.find(redis_client, params["CallSid"])[1] is None:
        assert time.monotonic() < deadline, "the ring list never ran out"
        time.sleep(0.05)
    assert wait_document(twilio, root, params, 30).find("./Leave") is not None
    offer = post(twilio, root.find("./Enqueue").get("action"), params, QueueResult="leave")
    assert query(gather(offer).get("action"))["node"] == "callback_offer"
    record = record_of(app, params["CallSid"])
    assert sorted(a.outcome for a in record.attempts) == ["declined", "no_key"]
    assert len(fake_twilio.created) == 2  # nobody rung twice
    assert claims.claimed_ids(redis_client, [1, 2]) == set()


def test_when_the_rest_api_fails_the_call_goes_on_with_dial_and_the_same_claim(
    app, twilio, fake_twilio, redis_client
):
    fake_twilio.fail_next(500, 20500)
    params, root = call_in(twilio, fake_twilio)
    number = root.find("./Dial/Number")
    assert number is not None and root.find("./Dial").get("callerId") == HOTLINE
    assert "/twilio/whisper" in number.get("url")
    record = record_of(app, params["CallSid"])
    (attempt,) = record.attempts
    assert claims.claimed_ids(redis_client, [1, 2]) == {attempt.volunteer_id}
    assert line_store.find(redis_client, params["CallSid"])[1] == "dialed"  # never offered


def test_a_late_status_of_the_last_ring_keeps_the_next_volunteer_claimed(
    app, twilio, fake_twilio, redis_client
):
    params, _root = call_in(twilio, fake_twilio)
    (first,) = fake_twilio.created
    assert ends_call(answer(twilio, first, key="2"))  # declined: the next one is rung
    second = fake_twilio.wait_for(2)[-1]
    # The first leg's status callback comes after the second phone started ringing.
    post(twilio, first.params["StatusCallback"],
         dict(volunteer_leg(first), CallStatus="completed"))  # fmt: skip
    ids = claims.claimed_ids(redis_client, [1, 2])
    assert len(ids) == 1  # the volunteer ringing now stays claimed: never rung for two calls
    assert line_store.find(redis_client, params["CallSid"])[0].offered_to in ids
    assert second.params["To"] != first.params["To"]


def test_a_caller_hanging_up_while_the_volunteer_is_rung_stops_that_ringing(
    app, twilio, fake_twilio, redis_client
):
    params, root = call_in(twilio, fake_twilio)
    (rung,) = fake_twilio.created
    post(twilio, root.find("./Enqueue").get("action"), params, QueueResult="hangup")
    twilio.post("/twilio/status", dict(params, CallStatus="completed", CallDuration="9"))
    # Her claim went with the call: her phone must not ring on for a caller who is gone.
    assert {"Status": "completed"}.items() <= fake_twilio.call(rung.sid).updates[-1].items()
    assert claims.claimed_ids(redis_client, [1, 2]) == set()
    record = record_of(app, params["CallSid"])
    assert "line:hangup" not in (record.ivr_path or [])  # a direct caller never waited in line


def test_with_redis_stopped_a_free_volunteer_is_rung_with_dial_and_a_database_claim(
    sqlite_url, private_redis, fake_twilio
):
    settings = Settings.from_env(test_env(
        DATABASE_URL=sqlite_url, REDIS_URL=private_redis.url,
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        HOTLINE_CONFIG_DIR=config_without_wrap_up(_config_tmp()),
    ))  # fmt: skip
    app = create_app(settings)
    with app.extensions["db"].session() as session:
        import_roster(session, parse_roster_text(ROSTER), app.extensions["fernet"])
    twilio = TwilioWebhooks(app.test_client())
    private_redis.stop()
    params, root = call_in(twilio, fake_twilio)
    # The REST API answers, but there is no line without Redis: the call is not in a conference
    # (so it cannot be transferred), and the claim is in the database.
    number = root.find("./Dial/Number")
    assert number is not None and root.find("./Enqueue") is None and not fake_twilio.created
    assert root.find("./Dial").get("callerId") == HOTLINE
    with app.extensions["db"].session() as session:
        (claim,) = session.query(VolunteerClaim).all()
        assert claim.owner == f"call:{params['CallSid']}"
    app.extensions["db"].dispose()
