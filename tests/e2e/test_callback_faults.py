"""Callbacks under faults, every process real: a worker killed with SIGKILL in the middle of a job,
and Redis losing all its data while requests are pending. Every committed request still completes,
and no attempt rings a phone twice.

"Exactly once" here means: each request is completed once, and each attempt (a leg, one row in
callback_attempts) is placed with Twilio once; a new attempt is only ever made after the previous
one was settled. A worker can die after Twilio placed the volunteer's call but before it heard
back (the case below): the attempt was committed (status dialing, the leg ringing) *before* the
REST call, so no other run of the job or the sweep dials again while the leg may be ringing.
That call's own webhooks settle the attempt (answered, accepted; or no-answer, then the next
volunteer). Had Twilio never placed it, no webhook would come: the request's lease (lease_until:
ring, whisper and machine detection time plus a margin) runs out only after any such leg must
have ended, and only then does the sweeper settle it as lost and let a new attempt ring.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from callback_world import SWEEP_SECONDS, CallbackWorld, callback_world, roster_yaml, wait_until
from rq import Queue
from rq.job import Job
from twiml_helpers import query

from hotline import queues
from hotline.callbacks.attempts import LEASE_MARGIN

VOLUNTEERS = [f"+7701111004{n}" for n in range(1, 7)]
REDIS_DB = 10  # this module's own database on the test Redis: the FLUSHALL below wipes it
# An idle worker wakes for its maintenance tick (which re-arms the sweep) at least once a
# minute; the sweep then runs at the next slot; the jobs and their REST calls take seconds.
SWEEP_AFTER_FLUSH_SECONDS = 60 + SWEEP_SECONDS + 30


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackWorld]:
    tmp = tmp_path_factory.mktemp("callback_faults")
    with callback_world(tmp, REDIS_DB, roster_yaml(VOLUNTEERS), "hotline_cb_faults") as world:
        yield world


@pytest.fixture
def fresh(world: CallbackWorld) -> Iterator[CallbackWorld]:
    """No worker yet, a Twilio that saw nothing, and an empty Redis (no claim, job or lock left
    by the previous test)."""
    world.fake.reset()
    world.redis.flushdb()
    yield world
    world.fake.release()
    world.stop_workers()


def attempt_ids(world: CallbackWorld, request_id: int) -> list[str]:
    """The attempt (leg) id of every Calls.create Twilio received for the request, in order."""
    return [query(c.params["Url"])["attempt"] for c in world.calls_for(request_id)]


# --- kill -9 in the middle of a job ------------------------------------------------------------


@pytest.mark.parametrize("placed_leg", ["answered", "missed"])
def test_a_worker_killed_while_twilio_places_the_call_still_rings_once_per_attempt(
    fresh: CallbackWorld, placed_leg: str
) -> None:
    world = fresh
    first = world.start_worker()
    world.fake.hold()  # Twilio places the call at once, and answers the REST call later
    call, _ = world.consent("+77015550171")
    request = world.request_of(call)
    (placed,) = world.wait_for_callbacks(1, timeout=30)
    # The work horse is now inside Calls.create, waiting for the 201: kill -9 everything.
    killed = first.kill9()
    assert len(killed) >= 3  # the worker, its scheduler and the work horse
    world.fake.release()

    stuck = world.row(request.id)
    assert stuck.status == "dialing" and stuck.number_ciphertext
    (leg,) = stuck.history
    assert leg.outcome == "ringing"
    assert leg.volunteer_call_sid is None  # the worker died before it heard Twilio's answer
    assert placed.params["To"] in VOLUNTEERS
    assert query(placed.params["Url"])["attempt"] == str(leg.id)
    # While the placed leg may still ring, nothing may dial again for this request.
    assert stuck.lease_until > datetime.now(UTC) + LEASE_MARGIN

    # (The new worker has no scheduler yet: the dead one's lock lasts 61 s. Nothing here needs
    # it: the redelivered job and the next volunteer's job are queued, not scheduled.)
    second = world.start_worker()
    # RQ delivers at least once: the killed job may come back (a retry, an operator's requeue).
    # Deliver it again now, to the new worker: it finds the request dialing and does nothing.
    (killed_job_id,) = [j.id for j in world.jobs() if j.id.startswith(f"callback-{request.id}-")]
    Queue(queues.CALLBACKS, connection=world.redis).enqueue_job(
        Job.fetch(killed_job_id, connection=world.redis)
    )
    result = wait_until(
        lambda: world.finished_results().get(killed_job_id), "the redelivered job to run"
    )
    assert result == "not_pending"
    assert len(world.callback_calls()) == 1

    # Twilio goes on with the call it placed before the worker died.
    legs = world.legs(placed)
    if placed_leg == "answered":
        legs.full_call()
    else:
        # The volunteer does not pick up: Twilio reports it, the webhook queues the next
        # volunteer at once, and the new worker places that (second) attempt.
        legs.volunteer_leg_ends("no-answer")
        _, again = world.wait_for_callbacks(2, timeout=30)
        assert again.params["To"] in VOLUNTEERS and again.params["To"] != placed.params["To"]
        world.legs(again).full_call()

    done = world.row(request.id)
    assert done.status == "completed" and done.number_ciphertext is None
    expected = {
        "answered": ["caller_connected"],
        "missed": ["volunteer_no_answer", "caller_connected"],
    }[placed_leg]
    assert [leg.outcome for leg in done.history] == expected
    # One Calls.create per attempt, in order: never a second call for the same attempt.
    assert attempt_ids(world, request.id) == [str(leg.id) for leg in done.history]
    assert second.process.poll() is None  # the new worker is still at work
    assert world.places_holding("+77015550171") == []


# --- Redis loses everything --------------------------------------------------------------------


def test_after_flushall_the_sweeper_enqueues_every_pending_request_again_and_each_rings_once(
    fresh: CallbackWorld,
) -> None:
    world = fresh
    worker = world.start_worker()
    # Keep the worker busy with a first callback (Twilio is slow to answer Calls.create) while
    # five more callers consent: their requests are committed and their jobs wait in the queue.
    world.fake.hold()
    busy = world.request_of(world.consent("+77015550180")[0])
    (busy_call,) = world.wait_for_callbacks(1, timeout=30)
    callers = [f"+7701555018{n}" for n in range(1, 6)]
    pending = [world.request_of(world.consent(caller)[0]).id for caller in callers]
    queue = Queue(queues.CALLBACKS, connection=world.redis)
    assert sorted(queue.get_job_ids()) == sorted(f"callback-{i}-1" for i in pending)
    assert {world.row(i).status for i in pending} == {"pending"}
    assert max(world.row(i).next_attempt_at for i in pending) <= datetime.now(UTC)

    # FLUSHALL: the queued jobs, the scheduled sweep, the claims, RQ's own keys, all gone.
    # (FLUSHDB on this module's database: everything the hotline has is there, and other
    # tests' data on the same server is left alone.)
    world.redis.flushdb()
    assert world.redis.dbsize() == 0
    world.fake.release()

    # The busy callback goes on (its call was placed before the flush) and completes.
    wait_until(
        lambda: world.row(busy.id).history[0].volunteer_call_sid == busy_call.sid,
        "the busy job to store its call sid",
    )
    world.legs(busy_call).full_call()

    # Nothing tells the worker what was lost: the sweeper, scheduled by the worker itself,
    # finds the pending requests without a job and enqueues them again.
    calls = world.wait_for_callbacks(6, timeout=SWEEP_AFTER_FLUSH_SECONDS)
    again = calls[1:]
    assert sorted(int(query(c.params["Url"])["request"]) for c in again) == sorted(pending)
    assert len({c.params["To"] for c in again}) == 5  # five volunteers, none rung twice
    for created in again:
        world.legs(created).full_call()
    completed_at = time.time()

    # A later sweep finds nothing more to do: no request is rung a second time.
    wait_until(
        lambda: world.sweeps_finished_since(completed_at),
        "a sweep after the calls",
        timeout=SWEEP_SECONDS * 3,
    )
    assert len(world.callback_calls()) == 6
    for request_id in [busy.id, *pending]:
        row = world.row(request_id)
        assert row.status == "completed" and row.number_ciphertext is None
        assert len(world.calls_for(request_id)) == 1
    worker_log = worker.log_path.read_text(errors="replace")
    assert worker_log.count("job was missing; enqueued again") == 5
    assert worker.process.poll() is None
    for caller in ["+77015550180", *callers]:
        assert world.places_holding(caller) == []
