"""How a request moves on after each leg: the one place that applies the retry policy to a row.

These functions change rows only; their caller commits (a version compare-and-set) and then, if
the request is pending again, enqueues its job (service.schedule).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo

from redis import Redis
from redis.exceptions import RedisError

from ..logs import cause
from ..models.callback import AttemptOutcome, CallbackAttempt, CallbackRequest, CallbackStatus
from ..routing import claims
from .config import CallbackConfig
from .retry import NextShiftStart, Outcome, give_up_status, next_attempt

log = logging.getLogger(__name__)

_RETRY_OUTCOME = {
    AttemptOutcome.CALLER_BUSY: Outcome.CALLER_UNREACHED,
    AttemptOutcome.CALLER_NO_ANSWER: Outcome.CALLER_UNREACHED,
    AttemptOutcome.CALLER_MACHINE: Outcome.CALLER_UNREACHED,
    AttemptOutcome.CALLER_FAILED: Outcome.CALLER_UNREACHED,
    AttemptOutcome.DECLINED: Outcome.VOLUNTEER_UNAVAILABLE,
    AttemptOutcome.VOLUNTEER_NO_ANSWER: Outcome.VOLUNTEER_UNAVAILABLE,
    AttemptOutcome.VOLUNTEER_FAILED: Outcome.DIAL_ERROR,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def claim_owner(request_id: int) -> str:
    """The owner of a volunteer's claim while they handle this callback."""
    return f"callback:{request_id}"


def end(request: CallbackRequest, status: CallbackStatus, now: datetime) -> None:
    """Close the request for good and erase the caller's number (set to NULL, not flagged)."""
    request.status = status.value
    request.number_ciphertext = None
    request.next_attempt_at = None
    request.lease_until = None
    request.ended_at = now


def open_leg(request: CallbackRequest) -> CallbackAttempt | None:
    """The volunteer leg in progress, if any."""
    return next((leg for leg in reversed(request.history) if leg.is_open), None)


def find_leg(request: CallbackRequest, attempt_id: int) -> CallbackAttempt | None:
    """The request's leg with this id (webhook URLs carry both ids; they must agree)."""
    return next((leg for leg in request.history if leg.id == attempt_id), None)


def settle(
    request: CallbackRequest,
    leg: CallbackAttempt,
    outcome: AttemptOutcome,
    now: datetime,
    config: CallbackConfig,
    tz: tzinfo,
    redis: Redis | None,
) -> str | None:
    """Close the leg with outcome and move the request on; its new status, or None if nothing
    changed (the leg was already closed: Twilio repeats webhooks, and several report one end)."""
    if not leg.is_open:
        return None
    was_accepted = leg.outcome == AttemptOutcome.ACCEPTED.value
    leg.outcome = outcome.value
    leg.ended_at = now
    if outcome is not AttemptOutcome.CALLER_CONNECTED:
        # Connected: the volunteer is on the call; their claim goes when their leg ends.
        release_claim(redis, request.id, leg.volunteer_id)
    if not request.is_open:
        return None  # cancelled meanwhile: the number is gone already
    if outcome is AttemptOutcome.CALLER_CONNECTED:
        end(request, CallbackStatus.COMPLETED, now)
        return request.status
    if outcome is AttemptOutcome.LOST:
        # After acceptance the caller's phone may have rung: count it, never call too often.
        retry = Outcome.CALLER_UNREACHED if was_accepted else Outcome.VOLUNTEER_UNAVAILABLE
    else:
        retry = _RETRY_OUTCOME.get(outcome, Outcome.DIAL_ERROR)
    if retry is Outcome.CALLER_UNREACHED:
        request.attempts += 1
    elif retry is Outcome.VOLUNTEER_UNAVAILABLE and _recent_legs(request, now, config) >= (
        config.max_volunteers_per_round
    ):
        retry = Outcome.ALL_BUSY
    return reschedule(request, retry, now, config, tz)


def reschedule(
    request: CallbackRequest,
    outcome: Outcome,
    now: datetime,
    config: CallbackConfig,
    tz: tzinfo,
    next_shift_start: NextShiftStart = None,
) -> str:
    """Pending again at the policy's next time, or ended (failed/expired) when it gives up."""
    at = next_attempt(request, outcome, now, tz, config.retry, next_shift_start)
    if at is None:
        status = CallbackStatus(give_up_status(request, config.retry))
        end(request, status, now)
        log.info("callback %s %s (%s)", request.id, status.value, outcome.value)
        return status.value
    request.status = CallbackStatus.PENDING.value
    request.next_attempt_at = at
    request.lease_until = None
    request.updated_at = now
    return request.status


def reschedule_lost(
    request: CallbackRequest, now: datetime, config: CallbackConfig, tz: tzinfo
) -> str:
    """A dialing request without an open leg (should not happen): try again as if declined."""
    return reschedule(request, Outcome.VOLUNTEER_UNAVAILABLE, now, config, tz)


def recently_tried(request: CallbackRequest, now: datetime, config: CallbackConfig) -> set[int]:
    """Volunteers rung for this request within the decline cooldown: not rung again yet."""
    since = now - config.decline_cooldown
    return {
        leg.volunteer_id
        for leg in request.history
        if leg.volunteer_id is not None and leg.started_at >= since
    }


def _recent_legs(request: CallbackRequest, now: datetime, config: CallbackConfig) -> int:
    since = now - config.decline_cooldown
    return sum(1 for leg in request.history if leg.started_at >= since)


def release_claim(redis: Redis | None, request_id: int, volunteer_id: int | None) -> None:
    """Free the volunteer for other calls; a failure is harmless (the claim expires by itself)."""
    if redis is None or volunteer_id is None:
        return
    try:
        claims.release(redis, volunteer_id, claim_owner(request_id))
    except RedisError as exc:
        log.warning("callback %s: claim release failed (%s)", request_id, cause(exc), exc_info=exc)
