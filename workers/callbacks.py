"""RQ entry points for callbacks (thin: the logic is in hotline.callbacks), and the sweep's clock.

Jobs run inside the app context (workers/runner.py) and take ids only.

The sweep repeats without a separate cron process: each sweep job schedules the next one, and the
job id is the time slot (`callbacks-sweep-<slot>`, enqueued with unique=True), so however many
workers start or re-arm it, each slot runs once. SweepingWorker re-arms it from the worker's
maintenance tick, so even a FLUSHALL that wiped the chain only delays sweeping by one tick.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import DuplicateJobError

from hotline import queues
from hotline.callbacks import attempts, service
from hotline.callbacks.runtime import CallbackRuntime
from hotline.logs import cause
from hotline.outcomes import aggregates
from hotline.redaction import redact
from hotline.telephony.callback_calls import runtime
from hotline.telephony.rest_client import TwilioCalls

from .twilio_purge import sweep_twilio_purges

log = logging.getLogger(__name__)

SWEEP_JOB = "workers.callbacks.sweep_callbacks"
DEFAULT_SWEEP_INTERVAL = 60


class JobFailed(Exception):
    """A callback job failed: the original exception's type and message, phone numbers masked.

    RQ stores a failure's traceback in Redis, away from the logging filter, so the message is
    masked here and the original (whose traceback and causes could quote a number) left behind.
    """

    def __init__(self, exc: BaseException) -> None:
        super().__init__(redact(cause(exc)))


def run_callback_attempt(request_id: int) -> str:
    """Carry out the due step of callback request `request_id` (safe to run twice)."""
    try:
        return attempts.run_attempt(runtime(), int(request_id)).value
    except Exception as exc:
        log.error("callback %s: job failed (%s)", request_id, cause(exc), exc_info=exc)
        raise JobFailed(exc) from None


def sweep_callbacks() -> dict[str, int]:
    """Expire, settle lost legs, re-enqueue lost jobs, queue Twilio purges; then re-arm."""
    rt = runtime()
    interval = rt.config.sweep_interval_seconds
    try:
        session = rt.sessions()
        try:
            report = service.sweep(
                session,
                rt.queue,
                datetime.now(UTC),
                config=rt.config,
                tz=rt.tz,
                redis=rt.redis,
            )
        finally:
            session.close()
        purges = _sweep_twilio_purges(rt.redis)
        closed = _close_days(rt)
    except Exception as exc:
        log.error("callback sweep failed (%s)", cause(exc), exc_info=exc)
        raise JobFailed(exc) from None
    finally:
        if rt.redis is not None:
            schedule_sweep(rt.redis, interval)
    done = {"enqueued": report.enqueued, "expired": report.expired, "lost_legs": report.lost_legs}
    return {**done, **purges, "days_closed": closed}


def _close_days(rt: CallbackRuntime) -> int:
    """Close the days that have settled (daily totals); never stops the callbacks' sweep."""
    try:
        with rt.sessions() as session:
            closed = aggregates.close_days(
                session, rt.tz, aggregates.closable_through(session, datetime.now(UTC), rt.tz)
            )
            session.commit()
            return closed
    except Exception as exc:
        log.error("daily totals not closed (%s)", cause(exc), exc_info=exc)
        return 0


def _sweep_twilio_purges(redis: Redis | None) -> dict[str, int]:
    """The Twilio purge's sweep, on the same clock; its failure never stops the callbacks'."""
    try:
        queue = Queue(queues.MAINTENANCE, connection=redis) if redis is not None else None
        return sweep_twilio_purges(queue)
    except Exception as exc:
        log.error("twilio purge sweep failed (%s)", type(exc).__name__)
        return {"twilio_failed": 1}


def schedule_sweep(
    connection: Redis, interval: int = DEFAULT_SWEEP_INTERVAL, now: datetime | None = None
) -> str | None:
    """Schedule the sweep for the next interval slot unless it already is; its job id, or None."""
    now = now or datetime.now(UTC)
    slot = int(now.timestamp()) // interval + 1
    job_id = f"callbacks-sweep-{slot}"
    queue = Queue(queues.MAINTENANCE, connection=connection)
    try:
        queue.enqueue_at(
            datetime.fromtimestamp(slot * interval, UTC),
            SWEEP_JOB,
            job_id=job_id,
            unique=True,
            result_ttl=interval * 2,
            failure_ttl=24 * 3600,
            job_timeout=max(30, interval),
        )
    except DuplicateJobError:
        pass  # another worker (or the previous sweep) scheduled this slot already
    except (RedisError, OSError) as exc:
        log.warning("callback sweep not scheduled (%s)", cause(exc), exc_info=exc)
        return None
    return job_id


def warm_up() -> None:
    """Build the callback runtime in the worker's main process (inside the app context).

    RQ's Worker forks a child per job; a child inherits what the parent has loaded, and would
    otherwise import the callback modules and twilio-python's lazily loaded REST classes itself,
    every job (about 0.4 s each). No connection is opened here, so none is shared across forks.
    """
    rt = runtime()
    if isinstance(rt.calls, TwilioCalls):
        rt.calls.client.calls  # noqa: B018 - twilio-python imports its Calls classes on first use


class SweepingWorker(Worker):
    """An RQ worker that keeps the callback sweep scheduled and its jobs warm (module docstring)."""

    def __init__(self, *args: Any, sweep_interval: int | None = None, **kwargs: Any) -> None:
        # Maintenance (and so the sweep's re-arming) every minute instead of every 10.
        kwargs.setdefault("maintenance_interval", 60)
        super().__init__(*args, **kwargs)
        self.sweep_interval = sweep_interval or DEFAULT_SWEEP_INTERVAL
        self._interval_given = sweep_interval is not None

    @property
    def dequeue_timeout(self) -> int:
        # RQ runs maintenance only between waits for a job, and an idle worker waits (BLPOP)
        # worker_ttl - 15 = 405 s: after a FLUSHALL wiped the sweep chain, or a kill -9 left a
        # dead scheduler's lock behind, nothing re-armed the sweep or restarted the scheduler for
        # ~7 minutes. Waking up every maintenance_interval makes the tick happen when it says.
        return min(super().dequeue_timeout, self.maintenance_interval)

    def work(self, *args: Any, **kwargs: Any) -> bool:
        warm_up()
        if not self._interval_given:
            self.sweep_interval = runtime().config.sweep_interval_seconds
        schedule_sweep(self.connection, self.sweep_interval)
        return super().work(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        schedule_sweep(self.connection, self.sweep_interval)
