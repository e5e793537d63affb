"""Is a callback's RQ job really on its way? Its hash alone cannot tell.

A worker pops a job's id from the queue (BLPOP) before it reads the job's hash and registers it
as started. Killed in between (kill -9, a crash, the host gone), it leaves the hash saying
"queued" while the id is in no queue and no registry: nothing will ever run it. So a job counts as
present only where a worker or the scheduler will find it: in its queue's list, the scheduled
registry, or the started registry with an unexpired entry. A job seen nowhere for ORPHAN_GRACE
is lost; the grace covers the milliseconds a live worker spends between popping and starting.
"""

from __future__ import annotations

import time

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

# A live worker starts a popped job within milliseconds. Seen nowhere by two sweeps this far
# apart, it is lost. Were a slow worker still to start it, the second run changes nothing: only
# the run whose commit moves the request's version on places a call (hotline.callbacks.attempts).
ORPHAN_GRACE_SECONDS = 5
_ORPHAN_MARK = "hotline:rq-orphan:{}"
_ORPHAN_MARK_TTL = 3600
# Jobs that have run; anything else (queued, scheduled, started...) may still be on its way.
_SPENT = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def job_missing(connection: Redis, jid: str, now: float | None = None) -> bool:
    """True when no job for this id will run: none stored, spent, or lost by a dead worker.

    A spent or lost job's hash is deleted, so the caller can enqueue the same id again.
    """
    try:
        job = Job.fetch(jid, connection=connection)
    except NoSuchJobError:
        return True
    if job.get_status(refresh=False) in _SPENT:
        # It ran (or died) without moving the request on: clear it so the id can be used again.
        job.delete()
        return True
    now = time.time() if now is None else now
    mark = _ORPHAN_MARK.format(jid)
    if _is_somewhere(connection, job, now):
        connection.delete(mark)
        return False
    # Nowhere: remember since when, and give a worker that is starting it right now its grace.
    connection.set(mark, now, nx=True, ex=_ORPHAN_MARK_TTL)
    since = float(connection.get(mark) or now)
    if now - since < ORPHAN_GRACE_SECONDS:
        return False
    connection.delete(mark)
    job.delete()
    return True


def _is_somewhere(connection: Redis, job: Job, now: float) -> bool:
    """In its queue's list, scheduled, or started by a worker whose heartbeat is current."""
    queue = Queue(job.origin, connection=connection)
    if connection.lpos(queue.key, job.id) is not None:
        return True
    if connection.lpos(queue.intermediate_queue_key, job.id) is not None:
        return True  # popped by a single-queue worker: RQ's own cleanup handles it
    if connection.zscore(ScheduledJobRegistry(job.origin, connection=connection).key, job.id):
        return True
    started = StartedJobRegistry(job.origin, connection=connection).key
    # Entries are "<job id>:<execution id>", scored with the time the execution counts as dead.
    live: list[bytes] = list(connection.zrangebyscore(started, now, "+inf"))  # type: ignore[arg-type]
    prefix = f"{job.id}:".encode()
    return any(bytes(entry).startswith(prefix) for entry in live)
