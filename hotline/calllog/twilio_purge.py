"""Twilio forgets the numbers: delete each ended call's Twilio resources, every leg of it.

Twilio keeps a call's log, both numbers included, for about 13 months. After a call has ended
(plus a delay: Twilio refuses to delete a call it has only just ended, error 20009), its first
leg is queued here as a TwilioCallPurge row; a job lists that leg's children (the volunteers'
legs of an incoming call, the survivor's leg of a callback try), adds the legs we placed for it
through the REST API (PlacedLeg: Twilio does not count those as its children), deletes each,
then the leg itself (`DELETE /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json`). A failed try
is retried later, RETRY_MINUTES apart. Like callbacks, the database says what is to do and RQ
only when: the sweeper enqueues every due row whose job is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError
from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..job_presence import job_missing
from ..models.call import CallRecord
from ..models.callback import CallbackAttempt
from ..models.twilio_purge import PlacedLeg, PurgeSource, PurgeStatus, TwilioCallPurge

log = logging.getLogger(__name__)

PURGE_JOB = "workers.twilio_purge.purge_twilio_call"
JOB_TIMEOUT_SECONDS = 120  # a list and a few deletes, each with a 10 s timeout
# After each failed try; then the row is marked failed (and reported). A call still in progress
# (a long conversation) answers 20009 and simply comes back later.
RETRY_MINUTES = (5, 15, 60, 180, 720, 1440, 2880)
# A call whose final status never came is over by then: <Dial timeLimit> is 4 h at most.
LONGEST_CALL = timedelta(hours=4, minutes=10)
DISCOVER_BATCH = 500


class PurgeError(Exception):
    """Twilio refused or could not be reached; `code` says why ("twilio:20009", "network")."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class TwilioCallResources(Protocol):
    """Twilio's Calls resource as the purge needs it (twilio-python in production)."""

    def child_call_sids(self, parent_sid: str) -> list[str]:
        """The sids of the calls whose parent is `parent_sid` (the legs it dialed)."""
        ...

    def delete_call(self, sid: str) -> bool:
        """Delete the call's record; False when Twilio has no such call (already deleted)."""
        ...


@dataclass
class PurgeSweep:
    queued: int = 0  # ended calls given a purge row
    enqueued: int = 0  # due rows whose job was missing


def queue_ended_calls(
    session: Session,
    now: datetime,
    delay: timedelta,
    lookback: timedelta | None,
    commit: bool = True,
) -> int:
    """Give every call that ended at least `delay` ago a purge row (once); how many were new.

    `lookback` bounds the scan to calls started since then (the sweeper looks back two days;
    `hotline purge` looks at everything, to catch up after an outage).
    """
    ended = now - delay
    since = now - lookback if lookback else None
    known = exists().where(TwilioCallPurge.call_sid == CallRecord.call_sid)
    calls = select(CallRecord.call_sid).where(
        or_(
            CallRecord.ended_at <= ended,
            CallRecord.ended_at.is_(None) & (CallRecord.started_at <= now - LONGEST_CALL),
        ),
        ~known,
    )
    legs_known = exists().where(TwilioCallPurge.call_sid == CallbackAttempt.volunteer_call_sid)
    legs = select(CallbackAttempt.volunteer_call_sid).where(
        CallbackAttempt.volunteer_call_sid.is_not(None),
        or_(
            CallbackAttempt.ended_at <= ended,
            CallbackAttempt.started_at <= now - LONGEST_CALL,
        ),
        ~legs_known,
    )
    if since is not None:
        calls = calls.where(CallRecord.started_at >= since)
        legs = legs.where(CallbackAttempt.started_at >= since)
    found = [(sid, PurgeSource.CALL) for sid in session.scalars(calls.limit(DISCOVER_BATCH))]
    found += [
        (sid, PurgeSource.CALLBACK)
        for sid in session.scalars(legs.limit(DISCOVER_BATCH))
        if sid is not None
    ]
    added = _insert(session, found, now)
    if commit:
        session.commit()
    return added


def _insert(session: Session, found: Iterable[tuple[str, PurgeSource]], now: datetime) -> int:
    added = 0
    for sid, source in found:
        try:
            with session.begin_nested():
                session.add(TwilioCallPurge(call_sid=sid, source=source.value, due_at=now))
            added += 1
        except IntegrityError:
            pass  # another sweeper queued it a moment ago
    return added


def job_id(row: TwilioCallPurge) -> str:
    """The RQ job id of the row's current try."""
    return f"twilio-purge-{row.id}-{row.tries}"


def schedule(queue: Queue, row: TwilioCallPurge) -> bool:
    """Enqueue the row's current try; False if Redis failed (the next sweep tries again)."""
    try:
        queue.enqueue(
            PURGE_JOB,
            row.id,
            job_id=job_id(row),
            unique=True,
            job_timeout=JOB_TIMEOUT_SECONDS,
            failure_ttl=7 * 24 * 3600,
        )
    except DuplicateJobError:
        return True
    except (RedisError, OSError) as exc:
        log.warning("twilio purge %s: not enqueued (%s)", row.id, type(exc).__name__)
        return False
    return True


def sweep(session: Session, queue: Queue | None, now: datetime, delay: timedelta) -> PurgeSweep:
    """Queue calls that ended, then enqueue each due purge whose job is missing."""
    report = PurgeSweep(queued=queue_ended_calls(session, now, delay, timedelta(days=2)))
    if queue is None:
        return report
    due = session.scalars(
        select(TwilioCallPurge)
        .where(TwilioCallPurge.status == PurgeStatus.PENDING.value, TwilioCallPurge.due_at <= now)
        .order_by(TwilioCallPurge.due_at)
        .limit(DISCOVER_BATCH)
    )
    for row in list(due):
        if job_missing(queue.connection, job_id(row)) and schedule(queue, row):
            report.enqueued += 1
    session.rollback()  # end the read transaction
    return report


def purge_call(session: Session, twilio: TwilioCallResources, purge_id: int, now: datetime) -> str:
    """Delete one call's legs at Twilio (children first); what happened, for the job's result."""
    row = session.get(TwilioCallPurge, purge_id)
    if row is None or row.status != PurgeStatus.PENDING.value:
        return "not_pending"
    if row.due_at > now + timedelta(seconds=5):
        return "not_due"
    # Legs we placed through the REST API for this call are no children of it at Twilio.
    placed = list(
        session.scalars(select(PlacedLeg.leg_sid).where(PlacedLeg.call_sid == row.call_sid))
    )
    try:
        children = twilio.child_call_sids(row.call_sid)
        for sid in [*children, *(leg for leg in placed if leg not in children)]:
            if twilio.delete_call(sid):
                row.children_deleted += 1
            else:
                row.already_gone += 1
        if twilio.delete_call(row.call_sid):
            row.parent_deleted = 1
        else:
            row.already_gone += 1
    except PurgeError as exc:
        row.tries += 1
        row.last_error = exc.code[:64]
        if row.tries >= len(RETRY_MINUTES):
            row.status = PurgeStatus.FAILED.value
            outcome = "failed"
        else:
            row.due_at = now + timedelta(minutes=RETRY_MINUTES[row.tries - 1])
            outcome = "retry"
        log.warning("twilio purge %s: try %s failed (%s)", row.id, row.tries, exc.code)
        return outcome if _commit(session) else "lost_race"
    row.status = PurgeStatus.DONE.value
    row.done_at = now
    if placed:
        session.execute(delete(PlacedLeg).where(PlacedLeg.call_sid == row.call_sid))
    row.last_error = None
    if not _commit(session):
        return "lost_race"
    log.info(
        "twilio purge %s: %s legs deleted, %s already gone",
        row.id,
        row.parent_deleted + row.children_deleted,
        row.already_gone,
    )
    return "done"


def _commit(session: Session) -> bool:
    try:
        session.commit()
        return True
    except StaleDataError:
        session.rollback()  # another run of the same try recorded it first
        return False
