"""Whether a job is really on its way, read from a real Redis the way RQ leaves it."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job

from hotline.job_presence import ORPHAN_GRACE_SECONDS, job_missing

JOB = "callback-7-1"


def enqueue(redis_client: Redis) -> Queue:
    queue = Queue("hotline-callbacks", connection=redis_client)
    queue.enqueue("workers.callbacks.run_callback_attempt", 7, job_id=JOB)
    return queue


def test_a_job_waiting_in_its_queue_is_present(redis_client: Redis) -> None:
    enqueue(redis_client)
    assert not job_missing(redis_client, JOB)


def test_a_scheduled_job_is_present(redis_client: Redis) -> None:
    from datetime import UTC, datetime, timedelta

    queue = Queue("hotline-callbacks", connection=redis_client)
    at = datetime.now(UTC) + timedelta(hours=1)
    queue.enqueue_at(at, "workers.callbacks.run_callback_attempt", 7, job_id=JOB)
    assert not job_missing(redis_client, JOB, now=at.timestamp() + 3600)


def test_a_job_popped_by_a_worker_that_died_is_missing_after_the_grace(
    redis_client: Redis,
) -> None:
    queue = enqueue(redis_client)
    # What a worker killed right after its BLPOP leaves: the id gone, the hash still "queued".
    assert redis_client.lpop(queue.key) == JOB.encode()
    assert Job.fetch(JOB, connection=redis_client).get_status() == "queued"
    now = 1_000_000.0
    assert not job_missing(redis_client, JOB, now=now)  # a live worker may be starting it
    assert not job_missing(redis_client, JOB, now=now + ORPHAN_GRACE_SECONDS - 1)
    assert job_missing(redis_client, JOB, now=now + ORPHAN_GRACE_SECONDS)
    # Its hash is gone, so the sweeper can enqueue the same id again.
    assert not redis_client.exists(f"rq:job:{JOB}")
    queue.enqueue("workers.callbacks.run_callback_attempt", 7, job_id=JOB, unique=True)
    assert queue.get_job_ids() == [JOB]


def test_a_job_seen_again_in_its_queue_starts_its_grace_afresh(redis_client: Redis) -> None:
    queue = enqueue(redis_client)
    redis_client.lpop(queue.key)
    assert not job_missing(redis_client, JOB, now=100.0)
    redis_client.rpush(queue.key, JOB)  # it was only on its way back
    assert not job_missing(redis_client, JOB, now=200.0)
    redis_client.lpop(queue.key)
    assert not job_missing(redis_client, JOB, now=200.0 + ORPHAN_GRACE_SECONDS - 1)


def test_a_job_that_ran_is_missing_and_cleared(redis_client: Redis) -> None:
    enqueue(redis_client)
    job = Job.fetch(JOB, connection=redis_client)
    job.set_status("finished")
    assert job_missing(redis_client, JOB)
    assert not redis_client.exists(f"rq:job:{JOB}")


def test_no_job_at_all_is_missing(redis_client: Redis) -> None:
    assert job_missing(redis_client, JOB)
