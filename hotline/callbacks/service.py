"""Callback requests: create (commit, then enqueue), cancel, and sweep what Redis lost.

The database is the source of truth; RQ only says *when* to look at a request. So a request is
committed before its job is enqueued, a job carries nothing but the request id, and the sweeper
re-enqueues any due request whose job vanished (Redis down at consent, FLUSHALL, a killed worker).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo

from cryptography.fernet import MultiFernet
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..crypto import encrypt
from ..logs import cause
from ..models.callback import AttemptOutcome, CallbackRequest, CallbackStatus
from ..routing.policy import LANGUAGES, TOPICS
from . import outcomes
from .config import CallbackConfig
from .numbers import check_number, last_two_digits
from .retry import RetryPolicy, expires_at
from .windows import next_slot, parse_window

log = logging.getLogger(__name__)

# The job's entry point, by name: the core does not import the workers package.
ATTEMPT_JOB = "workers.callbacks.run_callback_attempt"
JOB_TIMEOUT_SECONDS = 60  # a database read, a Redis claim and one REST call
FAILED_JOB_TTL_SECONDS = 7 * 24 * 3600
# Jobs that have run; anything else (queued, scheduled, started...) is still on its way.
_SPENT = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
SWEEP_BATCH = 500


def job_id(request: CallbackRequest) -> str:
    """The RQ job id for the request's current state: `callback-{id}-{version}`.

    The version makes each scheduling of a request its own job, so a job never has to re-enqueue
    its own id while it runs, and the sweeper knows exactly which job a pending request needs.
    """
    return f"callback-{request.id}-{request.version}"


def schedule(queue: Queue | None, request: CallbackRequest, now: datetime) -> bool:
    """Enqueue the request's job for next_attempt_at (after commit); False if Redis failed."""
    if queue is None or request.status != CallbackStatus.PENDING.value:
        return False
    at = request.next_attempt_at or now
    options = {
        "job_id": job_id(request),
        "unique": True,  # a second enqueue of the same state (two sweepers) is refused by Redis
        "job_timeout": JOB_TIMEOUT_SECONDS,
        "failure_ttl": FAILED_JOB_TTL_SECONDS,
    }
    try:
        if at <= now:
            queue.enqueue(ATTEMPT_JOB, request.id, **options)
        else:
            queue.enqueue_at(at, ATTEMPT_JOB, request.id, **options)
    except DuplicateJobError:
        return True
    except (RedisError, OSError) as exc:
        # Committed already: the sweeper will enqueue it once Redis is back.
        log.warning(
            "callback %s: not enqueued (%s); the sweeper will",
            request.id,
            cause(exc),
            exc_info=exc,
        )
        return False
    return True


def request_callback(
    session: Session,
    fernet: MultiFernet,
    queue: Queue | None,
    *,
    number_e164: str,
    topic: str,
    language: str,
    window: str,
    identify: bool,
    call_record_id: int | None,
    now: datetime,
    tz: tzinfo,
    policy: RetryPolicy | None = None,
    regions: tuple[str, ...] = ("KZ",),
) -> CallbackRequest:
    """Store a consented callback (number encrypted), commit, then enqueue; Redis errors pass.

    Raises ValueError (naming the field, never the number) on a bad number, topic, language or
    window: the IVR validates all of them before this point.
    """
    policy = policy or RetryPolicy()
    checked = check_number(number_e164, regions)
    if not checked.ok or checked.e164 is None:
        raise ValueError(f"callback number rejected: {checked.reason}")
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    chosen = parse_window(window)
    request = CallbackRequest(
        call_record_id=call_record_id,
        topic=topic,
        language=language,
        window=chosen.value,
        identify=identify,
        status=CallbackStatus.PENDING.value,
        attempts=0,
        next_attempt_at=next_slot(chosen, now, tz),
        expires_at=expires_at(now, policy),
        number_ciphertext=encrypt(fernet, checked.e164),
        number_last_digits=last_two_digits(checked.e164),
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    session.commit()
    schedule(queue, request, now)
    log.info("callback %s requested (window %s)", request.id, request.window)
    return request


def cancel(session: Session, request_id: int, by: str, now: datetime | None = None) -> bool:
    """Cancel an open request and erase its number; False if it had already ended."""
    for _ in range(3):
        request = session.get(CallbackRequest, request_id, populate_existing=True)
        if request is None or not request.is_open:
            session.rollback()
            return False
        for attempt in request.history:
            if attempt.is_open:
                attempt.outcome = AttemptOutcome.CANCELLED.value
                attempt.ended_at = now or outcomes.utcnow()
        outcomes.end(request, CallbackStatus.CANCELLED, now or outcomes.utcnow())
        request.cancelled_by = by[:64]
        try:
            session.commit()
        except StaleDataError:
            # A worker or webhook moved the request meanwhile: look again.
            session.rollback()
            continue
        log.info("callback %s cancelled", request_id)
        return True
    return False


@dataclass
class SweepReport:
    enqueued: int = 0
    expired: int = 0
    lost_legs: int = 0


def sweep(
    session: Session,
    queue: Queue | None,
    now: datetime,
    *,
    config: CallbackConfig,
    tz: tzinfo,
    redis: Redis | None = None,
) -> SweepReport:
    """Expire overdue requests, settle legs whose webhooks never came, re-enqueue lost jobs.

    Safe to run in several processes at once: every change is a compare-and-set on the row's
    version, and enqueueing uses the state's unique job id.
    """
    report = SweepReport()
    pending = CallbackStatus.PENDING.value
    for request in _open_rows(session, CallbackRequest.expires_at < now, pending):
        outcomes.end(request, CallbackStatus.EXPIRED, now)
        if _commit(session):
            report.expired += 1
            log.info("callback %s expired", request.id)

    dialing = CallbackStatus.DIALING.value
    for request in _open_rows(session, CallbackRequest.lease_until < now, dialing):
        leg = outcomes.open_leg(request)
        moved: str | None
        if leg is None:
            moved = outcomes.reschedule_lost(request, now, config, tz)
        else:
            moved = outcomes.settle(request, leg, AttemptOutcome.LOST, now, config, tz, redis)
        if moved is not None and _commit(session):
            report.lost_legs += 1
            log.warning("callback %s: leg lost (no webhook); moved on", request.id)
            schedule(queue, request, now)

    if queue is not None:
        for request in _open_rows(session, CallbackRequest.next_attempt_at <= now, pending):
            if _job_missing(queue.connection, job_id(request)) and schedule(queue, request, now):
                report.enqueued += 1
                log.info("callback %s: job was missing; enqueued again", request.id)
        session.rollback()  # end the read transaction
    return report


def _open_rows(session: Session, condition: object, status: str) -> list[CallbackRequest]:
    rows = session.scalars(
        select(CallbackRequest)
        .where(CallbackRequest.status == status, condition)  # type: ignore[arg-type]
        .order_by(CallbackRequest.id)
        .limit(SWEEP_BATCH)
        .execution_options(populate_existing=True)
    )
    return list(rows)


def _commit(session: Session) -> bool:
    try:
        session.commit()
        return True
    except StaleDataError:
        session.rollback()  # another sweeper, worker or webhook got there first
        return False


def _job_missing(connection: Redis, jid: str) -> bool:
    """True when no job for this state exists, or it ran and left the request as it was."""
    try:
        job = Job.fetch(jid, connection=connection)
    except NoSuchJobError:
        return True
    status = job.get_status(refresh=False)
    if status in _SPENT:
        # It ran (or died) without moving the request on: clear it so the id can be used again.
        job.delete()
        return True
    return False
