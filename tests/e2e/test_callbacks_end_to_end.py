"""A survivor's callback through every real process: consent in the IVR (gunicorn), the job in a
real `hotline worker`, the volunteer's and the survivor's legs played as Twilio plays them, and the
number destroyed at the end and found nowhere: database, Redis, RQ jobs, logs.

Nobody can take the live call because the only volunteer on shift lets it ring out (away from the
phone for a moment); the caller asks for a callback, and the worker rings the same volunteer a
moment later, who now answers and accepts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from callback_world import HOTLINE, CallbackWorld, callback_world, roster_yaml, wait_until
from privacy_scan import contains_number
from twiml_helpers import all_speech, ends_call, query

from hotline.routing import claims

VOLUNTEER = "+77011110031"
REDIS_DB = 11  # this module's own database on the test Redis


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackWorld]:
    tmp = tmp_path_factory.mktemp("callbacks_e2e")
    with callback_world(tmp, REDIS_DB, roster_yaml([VOLUNTEER]), "hotline_cb_e2e") as world:
        world.start_worker()
        yield world


@pytest.mark.parametrize(
    ("caller", "typed", "survivor"),
    [
        # The caller's own number (Twilio's From), read back by its last two digits only.
        ("+77015550161", None, "+77015550161"),
        # Another number, typed in the national form: carried encrypted between the menus.
        ("+77015550162", "87017654362", "+77017654362"),
    ],
    ids=["own-number", "typed-number"],
)
def test_consent_volunteer_accepts_caller_dialed_completed_number_destroyed(
    world: CallbackWorld, caller: str, typed: str | None, survivor: str
) -> None:
    world.fake.reset()
    call, heard = world.consent(caller, typed=typed, window="1", identify="2")
    assert heard[-1].kind == "hangup"
    request = world.request_of(call)
    assert (request.window, request.identify, request.topic) == ("any", False, "violence")

    # The worker picked the job up and asked Twilio to ring the volunteer, from the hotline.
    (created,) = world.wait_for_callbacks(1, timeout=30)
    assert created.params["To"] == VOLUNTEER
    assert created.params["From"] == HOTLINE
    assert created.params["MachineDetection"] == "Enable"  # a voicemail never hears the whisper
    assert query(created.params["Url"])["request"] == str(request.id)
    assert created.params["StatusCallback"].startswith(f"{world.base_url}/twilio/callback/")
    assert not contains_number(created.params, survivor)  # the survivor's number stays home
    ran = wait_until(
        lambda: [
            result
            for job_id, result in world.finished_results().items()
            if job_id.startswith(f"callback-{request.id}-")
        ],
        "the worker's job to finish",
    )
    assert ran == ["dialing"]
    dialing = world.row(request.id)
    assert dialing.status == "dialing" and dialing.number_ciphertext
    assert world.redis.get(claims.claim_key(dialing.volunteer_id)) == (
        f"callback:{request.id}".encode()
    )

    # Twilio's part: the volunteer's phone is answered by a person, who hears the whisper...
    legs = world.legs(created)
    whisper = legs.volunteer_answers("human")
    assert "насилие" in all_speech(whisper) and "по-русски" in all_speech(whisper)
    assert "не называйте горячую линию" in all_speech(whisper)  # identify: no
    assert whisper.find("./Gather").get("numDigits") == "1"

    # ...presses 1, and the survivor is dialed from the hotline number, with machine detection.
    dial = legs.volunteer_presses("1").find("./Dial")
    assert dial is not None and dial.get("callerId") == HOTLINE
    number = dial.find("./Number")
    assert number is not None and number.text == survivor
    assert number.get("machineDetection") == "Enable"
    assert world.row(request.id).history[0].outcome == "accepted"

    # The survivor answers (a person): the legs are bridged and the number erased at once.
    bridged = legs.caller_answers("human")
    assert len(bridged) == 0  # an empty document bridges the two legs
    completed = world.row(request.id)
    assert completed.status == "completed" and completed.number_ciphertext is None
    assert ends_call(legs.dial_ends("completed", bridged=True))
    legs.volunteer_leg_ends("completed")

    done = world.row(request.id)
    assert done.status == "completed" and done.number_ciphertext is None
    assert done.ended_at is not None and done.attempts == 0  # no try failed to reach them
    (leg,) = done.history
    assert leg.outcome == "caller_connected" and leg.accepted_at and leg.ended_at
    assert leg.volunteer_call_sid == created.sid  # stored by the worker, after Calls.create
    assert world.redis.get(claims.claim_key(done.volunteer_id)) is None  # free again
    assert len(world.callback_calls()) == 1  # one volunteer leg, one call

    # The privacy scan: the number is in no column, Redis key or value, job, or log line.
    assert world.places_holding(survivor) == []
    assert world.places_holding(caller) == []
    assert world.masked_lines() == []  # nor did the log filter have to hide one
    lines = world.log_lines()
    assert any("callback" in line and str(request.id) in line for line in lines)
    # An operator finds the call by its CallSid: logged whole, not cut by the filter.
    assert any(f"call {call.call_sid}: ringing" in line for line in lines)
    assert len(world.jobs()) >= 2  # the callback's job and the sweeps were there to scan


def test_the_worker_and_the_web_logged_what_they_did(world: CallbackWorld) -> None:
    """The scans above read real logs: both processes wrote some, at debug level."""
    worker_lines = world.workers[0].log_path.read_text(errors="replace").splitlines()
    assert any("run_callback_attempt" in line for line in worker_lines)
    assert any("ringing volunteer" in line for line in worker_lines)
    web_lines = world.gunicorn_log.read_text(errors="replace").splitlines()
    assert any("/twilio/callback/caller" in line for line in web_lines)
