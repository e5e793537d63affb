"""A `hotline worker` killed with SIGKILL, by pid, at each point of a callback's life where it
holds something: after popping a job's id (before reading its hash), after reading the hash
(before starting it), after Twilio placed the volunteer's call (before the sid is saved), and
while the survivor's phone rings. Every process is real (gunicorn, the worker, PostgreSQL,
Redis); Twilio's REST API is the stand-in of tests/twilio_fake.py.

The worker stops at a point through tests/pause_at.py, a breakpoint that never resumes: the same
`hotline worker` command, stopped at a known line, then killed there.

Each request is completed once, and each attempt (one row in callback_attempts) is placed with
Twilio once: nothing is lost, nothing rings twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from callback_world import (
    SWEEP_SECONDS,
    CallbackWorld,
    Pause,
    callback_world,
    roster_yaml,
    wait_until,
)
from rq import Queue
from rq.job import Job
from twiml_helpers import query

from hotline import queues
from hotline.job_presence import ORPHAN_GRACE_SECONDS

VOLUNTEERS = [f"+7701111005{n}" for n in range(1, 5)]
REDIS_DB = 12  # this module's own database on the test Redis
# After a kill -9 the dead scheduler's lock lasts 61 s; the new worker takes it over at a
# maintenance tick (every 60 s), then the sweep runs every SWEEP_SECONDS and a job seen nowhere
# by two sweeps ORPHAN_GRACE_SECONDS apart is enqueued again. Margins for a loaded machine.
RECOVERY_SECONDS = 61 + 60 + 3 * SWEEP_SECONDS + ORPHAN_GRACE_SECONDS + 60

BEFORE_START = [
    # BLPOP returned the job's id; its hash is not read yet.
    "rq.queue:Queue._fetch_dequeued_job",
    # The hash is read (status "queued"); no execution registered, no work horse forked.
    "rq.worker:Worker.execute_job",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackWorld]:
    tmp = tmp_path_factory.mktemp("worker_kill_points")
    with callback_world(tmp, REDIS_DB, roster_yaml(VOLUNTEERS), "hotline_kill_points") as world:
        yield world


@pytest.fixture
def fresh(world: CallbackWorld) -> Iterator[CallbackWorld]:
    world.fake.reset()
    world.redis.flushdb()
    yield world
    world.stop_workers()


def attempt_ids(world: CallbackWorld, request_id: int) -> list[str]:
    """The attempt (leg) id of every Calls.create Twilio received for the request, in order."""
    return [query(c.params["Url"])["attempt"] for c in world.calls_for(request_id)]


def assert_completed_once(world: CallbackWorld, request_id: int, caller: str) -> None:
    done = world.row(request_id)
    assert done.status == "completed" and done.number_ciphertext is None
    assert [leg.outcome for leg in done.history] == ["caller_connected"]
    assert attempt_ids(world, request_id) == [str(done.history[0].id)]
    assert world.places_holding(caller) == []


def test_a_worker_killed_after_taking_a_job_but_before_starting_it_loses_no_callback(
    fresh: CallbackWorld,
) -> None:
    world = fresh
    callers = ["+77015550191", "+77015550192"]
    requests = []
    for n, (point, caller) in enumerate(zip(BEFORE_START, callers, strict=True)):
        pause = Pause(point, "callback-", world.tmp / f"paused-{n}")
        worker = world.start_worker(pause)
        request = world.request_of(world.consent(caller)[0])
        assert pause.reached() == worker.pid  # the worker itself, before any work horse
        worker.kill9()
        # What the kill left: the hash still says "queued", yet the id is in no queue.
        job = Job.fetch(f"callback-{request.id}-1", connection=world.redis)
        assert job.get_status() == "queued"
        assert Queue(queues.CALLBACKS, connection=world.redis).get_job_ids() == []
        assert world.row(request.id).status == "pending"
        requests.append(request)
    assert world.callback_calls() == []

    # A worker starts again; nothing tells it what was lost: its sweeper finds both requests
    # due, their jobs nowhere a worker looks, and enqueues them again.
    survivor = world.start_worker()
    calls = world.wait_for_callbacks(2, timeout=RECOVERY_SECONDS)
    for created in calls:
        world.legs(created).full_call()
    completed_at = time.time()
    wait_until(
        lambda: world.sweeps_finished_since(completed_at), "a sweep after the calls", timeout=60
    )
    assert len(world.callback_calls()) == 2
    for request, caller in zip(requests, callers, strict=True):
        assert_completed_once(world, request.id, caller)
    worker_log = survivor.log_path.read_text(errors="replace")
    assert worker_log.count("job was missing; enqueued again") == 2
    assert survivor.process.poll() is None


def test_a_worker_killed_between_the_rest_call_and_saving_the_sid_rings_once(
    fresh: CallbackWorld,
) -> None:
    world = fresh
    pause = Pause(
        "hotline.telephony.rest_client:TwilioCalls.call_volunteer:after",
        "/twilio/callback/volunteer",
        world.tmp / "paused-rest",
    )
    first = world.start_worker(pause)
    caller = "+77015550193"
    request = world.request_of(world.consent(caller)[0])
    horse = pause.reached()
    assert horse != first.pid  # the work horse, holding Twilio's answer (201, the call's sid)
    (placed,) = world.callback_calls()
    first.kill9()

    stuck = world.row(request.id)
    assert stuck.status == "dialing"
    (leg,) = stuck.history
    assert leg.outcome == "ringing" and leg.volunteer_call_sid is None

    second = world.start_worker()
    # Twilio goes on with the call it placed; its webhooks settle the attempt and carry the sid.
    world.legs(placed).full_call()
    assert_completed_once(world, request.id, caller)
    # The sid the worker never saved is known after all: the Twilio purge can delete that leg.
    assert world.row(request.id).history[0].volunteer_call_sid == placed.sid
    swept_at = time.time()
    wait_until(lambda: world.sweeps_finished_since(swept_at), "a later sweep", timeout=150)
    assert len(world.callback_calls()) == 1
    assert second.process.poll() is None


def test_a_worker_killed_while_the_survivors_phone_rings_changes_nothing(
    fresh: CallbackWorld,
) -> None:
    world = fresh
    first = world.start_worker()
    caller = "+77015550194"
    request = world.request_of(world.consent(caller)[0])
    (placed,) = world.wait_for_callbacks(1, timeout=30)
    legs = world.legs(placed)
    legs.volunteer_answers()
    legs.volunteer_presses("1")
    assert legs.dialed_number().text == caller  # the survivor's phone is ringing now
    first.kill9()

    second = world.start_worker()
    legs.caller_answers()
    legs.dial_ends("completed", bridged=True)
    legs.volunteer_leg_ends("completed")
    assert_completed_once(world, request.id, caller)
    swept_at = time.time()
    wait_until(lambda: world.sweeps_finished_since(swept_at), "a later sweep", timeout=150)
    assert len(world.callback_calls()) == 1
    assert second.process.poll() is None
