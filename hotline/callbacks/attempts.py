"""The callback job's body: pick and claim a volunteer, then ring them first.

Safe to run twice (RQ delivers at least once, the sweeper may re-enqueue): only the process whose
commit moves the row from pending to dialing (a version compare-and-set) places the call, so one
state of a request never rings two phones.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum

from redis.exceptions import RedisError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..logs import cause
from ..models.callback import AttemptOutcome, CallbackAttempt, CallbackRequest, CallbackStatus
from ..routing import claims
from ..routing.policy import WHISPER_ALLOWANCE_SECONDS, pick_volunteers
from ..routing.roster_queries import VolunteerNotFound, load_candidates, volunteer_phone
from . import outcomes
from .retry import NextShiftStart, Outcome
from .runtime import CallbackRuntime, DialError
from .service import cancel, schedule
from .shifts import eligible_candidates, next_shift_start
from .windows import in_window

log = logging.getLogger(__name__)

# RQ's scheduler may hand a job over a moment early, and clocks differ a little between hosts.
DUE_SLACK = timedelta(seconds=5)
# Beyond ring + whisper: Twilio's status callback for an unanswered leg can take a while.
LEASE_MARGIN = timedelta(seconds=120)
# After acceptance: machine detection on the caller's phone takes up to 30 s before bridging.
AMD_ALLOWANCE = timedelta(seconds=30)


class Result(StrEnum):
    """What a run did; returned by the job (shows in RQ), never containing a number."""

    NOT_PENDING = "not_pending"  # cancelled, completed, or already dialing: nothing to do
    NOT_DUE = "not_due"
    LOST_RACE = "lost_race"  # another run of the same state got there first
    RESCHEDULED = "rescheduled"  # outside the window, nobody free or on shift: later
    ENDED = "ended"  # expired or gave up
    DIALING = "dialing"  # the volunteer's phone is ringing
    DIAL_FAILED = "dial_failed"


def run_attempt(rt: CallbackRuntime, request_id: int, now: datetime | None = None) -> Result:
    """Carry out one due step of a callback request (see the module docstring)."""
    now = now or outcomes.utcnow()
    session = rt.sessions()
    try:
        return _run(rt, session, request_id, now)
    finally:
        session.close()


def _run(rt: CallbackRuntime, session: Session, request_id: int, now: datetime) -> Result:
    request = session.get(CallbackRequest, request_id)
    if request is None or request.status != CallbackStatus.PENDING.value:
        return Result.NOT_PENDING
    if request.next_attempt_at is None or request.next_attempt_at > now + DUE_SLACK:
        return Result.NOT_DUE
    if now > request.expires_at:
        outcomes.end(request, CallbackStatus.EXPIRED, now)
        return _commit_and_schedule(rt, session, request, now, Result.ENDED)
    if not in_window(request.window, now, rt.tz):
        return _later(rt, session, request, Outcome.OUTSIDE_WINDOW, now)

    candidates = load_candidates(session)
    on_shift = pick_volunteers(
        candidates, request.topic, request.language, now, rt.routing, tz=rt.tz
    )
    if not on_shift:
        eligible = eligible_candidates(
            candidates, request.topic, request.language, rt.routing, now, rt.tz
        )
        shifts = [shift for candidate in eligible for shift in candidate.shifts]
        return _later(
            rt,
            session,
            request,
            Outcome.NOBODY_ON_SHIFT,
            now,
            lambda after: next_shift_start(shifts, after, rt.tz),
        )
    tried = outcomes.recently_tried(request, now, rt.config)
    ordered = [candidate.id for candidate in on_shift if candidate.id not in tried]
    if len(tried) >= rt.config.max_volunteers_per_round or not ordered:
        return _later(rt, session, request, Outcome.ALL_BUSY, now)
    try:
        volunteer_id = _claim(rt, request.id, ordered)
    except RedisError as exc:
        log.warning("callback %s: claims unavailable (%s)", request.id, cause(exc), exc_info=exc)
        return _later(rt, session, request, Outcome.DIAL_ERROR, now)
    if volunteer_id is None:
        if _claimed_by_another_worker(rt, request.id):
            return Result.LOST_RACE
        return _later(rt, session, request, Outcome.ALL_BUSY, now)

    leg = CallbackAttempt(
        round=request.attempts + 1,
        volunteer_id=volunteer_id,
        outcome=AttemptOutcome.RINGING.value,
        started_at=now,
    )
    request.history.append(leg)
    request.status = CallbackStatus.DIALING.value
    request.volunteer_id = volunteer_id
    request.lease_until = now + _ringing_time(rt) + LEASE_MARGIN
    request.updated_at = now
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        outcomes.release_claim(rt.redis, request_id, volunteer_id)
        return Result.LOST_RACE
    return _ring(rt, session, request, leg, now)


def _ring(
    rt: CallbackRuntime,
    session: Session,
    request: CallbackRequest,
    leg: CallbackAttempt,
    now: datetime,
) -> Result:
    """Place the volunteer's leg; its webhooks (hotline.telephony.callback_calls) take over."""
    assert leg.volunteer_id is not None
    params = {"request": request.id, "attempt": leg.id}
    try:
        phone = volunteer_phone(session, rt.fernet, leg.volunteer_id)
        sid = rt.calls.call_volunteer(
            to=phone,
            url=rt.url("/volunteer", **params),
            status_callback=rt.url("/volunteer-status", **params),
            timeout=rt.config.volunteer_ring_timeout_seconds,
        )
    except (DialError, VolunteerNotFound) as exc:
        code = exc.code if isinstance(exc, DialError) else "volunteer_gone"
        log.warning("callback %s: volunteer leg not placed (%s)", request.id, exc)
        leg.error = code[:64]
        request.last_error = f"dial:{code}"[:120]
        outcome = (
            AttemptOutcome.VOLUNTEER_FAILED
            if isinstance(exc, DialError)
            else AttemptOutcome.VOLUNTEER_NO_ANSWER
        )
        outcomes.settle(request, leg, outcome, now, rt.config, rt.tz, rt.redis)
        return _commit_and_schedule(rt, session, request, now, Result.DIAL_FAILED)
    leg.volunteer_call_sid = sid
    try:
        session.commit()  # the leg row only: the request's version is untouched
    except StaleDataError:
        session.rollback()
    log.info("callback %s: ringing volunteer %s (leg %s)", request.id, leg.volunteer_id, leg.id)
    return Result.DIALING


def cancel_request(rt: CallbackRuntime, request_id: int, by: str) -> bool:
    """Cancel a request for a supervisor: erase the number and hang up a leg still ringing."""
    session = rt.sessions()
    try:
        open_sids = [
            leg.volunteer_call_sid
            for leg in getattr(session.get(CallbackRequest, request_id), "history", [])
            if leg.is_open and leg.volunteer_call_sid
        ]
        cancelled = cancel(session, request_id, by)
    finally:
        session.close()
    for sid in open_sids if cancelled else []:
        try:
            rt.calls.hang_up(sid)
        except DialError as exc:
            # The leg's webhooks still find the request cancelled and hang up themselves.
            log.warning("callback %s: leg not hung up (%s)", request_id, exc)
    return cancelled


def _claim(rt: CallbackRuntime, request_id: int, ordered: list[int]) -> int | None:
    if rt.redis is None:
        return ordered[0]
    ttl = int(_ringing_time(rt).total_seconds())
    return claims.claim_first_free(rt.redis, ordered, outcomes.claim_owner(request_id), ttl)


def _claimed_by_another_worker(rt: CallbackRuntime, request_id: int) -> bool:
    """Whether a volunteer is claimed for this very request although this worker claimed none.

    Then another worker took the same job a moment ago and is about to dial: rescheduling here
    would win the version check against it and leave nobody dialing.
    """
    if rt.redis is None:
        return False
    try:
        return bool(claims.held_by(rt.redis, outcomes.claim_owner(request_id)))
    except RedisError:
        return False


def _ringing_time(rt: CallbackRuntime) -> timedelta:
    """How long a volunteer's leg can take before they accept: ring, whisper, machine detection."""
    return (
        timedelta(seconds=rt.config.volunteer_ring_timeout_seconds + WHISPER_ALLOWANCE_SECONDS)
        + AMD_ALLOWANCE
    )


def accepted_lease(rt: CallbackRuntime, now: datetime) -> datetime:
    """The dialing lease once the volunteer accepted: the caller's ring and machine detection."""
    return (
        now
        + timedelta(seconds=rt.config.caller_ring_timeout_seconds)
        + AMD_ALLOWANCE
        + (LEASE_MARGIN)
    )


def _later(
    rt: CallbackRuntime,
    session: Session,
    request: CallbackRequest,
    outcome: Outcome,
    now: datetime,
    next_shift: NextShiftStart = None,
) -> Result:
    status = outcomes.reschedule(request, outcome, now, rt.config, rt.tz, next_shift)
    log.info("callback %s: %s, now %s", request.id, outcome.value, status)
    result = Result.RESCHEDULED if status == CallbackStatus.PENDING.value else Result.ENDED
    return _commit_and_schedule(rt, session, request, now, result)


def _commit_and_schedule(
    rt: CallbackRuntime, session: Session, request: CallbackRequest, now: datetime, result: Result
) -> Result:
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        return Result.LOST_RACE
    schedule(rt.queue, request, now)
    return result
