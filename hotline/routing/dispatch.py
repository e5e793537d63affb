"""Choose, claim and record the next volunteers to ring for a call; settle each ring's outcome.

The glue between the pure policy, the roster in the database and the claims in Redis. Takes ids
and returns ids and decrypted numbers only to the dialing edge; it never logs a number.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from cryptography.fernet import MultiFernet
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from ..crypto import decrypt
from ..logs import cause
from ..models import CallRecord, RingAttempt
from ..models.roster import Volunteer
from . import claims
from .policy import RoutingPolicy, pick_volunteers
from .roster_queries import load_candidates, record_call_ended

log = logging.getLogger(__name__)


class RingOutcome(StrEnum):
    RINGING = "ringing"
    ACCEPTED = "accepted"  # pressed 1 in the whisper and was bridged to the caller
    DECLINED = "declined"  # answered but pressed another key or hung up in the whisper
    NO_KEY = "no_key"  # answered but pressed nothing: a voicemail, or a pocket
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"  # the caller hung up while this phone rang


# What Twilio's DialCallStatus says about a leg that was not bridged.
_DIAL_STATUS = {
    "busy": RingOutcome.BUSY,
    "no-answer": RingOutcome.NO_ANSWER,
    "failed": RingOutcome.FAILED,
    "canceled": RingOutcome.CANCELED,
    "completed": RingOutcome.DECLINED,  # completed without a bridge: the whisper hung up
}


@dataclass(frozen=True)
class Ring:
    """One volunteer leg to dial: attempt id, number (decrypted here only) and whisper language."""

    attempt_id: int
    volunteer_id: int
    phone: str
    language: str

    def __repr__(self) -> str:  # never print the number
        return f"Ring(attempt_id={self.attempt_id}, volunteer_id={self.volunteer_id})"


@dataclass(frozen=True)
class NoOneToRing:
    """Why nobody can be rung: nobody on shift for this topic/language, all busy, or all tried."""

    reason: str  # nobody_on_shift | all_busy | exhausted


def claim_owner(call_sid: str) -> str:
    return f"call:{call_sid}"


def next_rings(
    session: Session,
    redis: Redis | None,
    fernet: MultiFernet,
    policy: RoutingPolicy,
    record: CallRecord,
    now: datetime,
    tz: tzinfo,
) -> list[Ring] | NoOneToRing:
    """Claim the next volunteer(s) for this call and create their ring attempts."""
    if not record.topic:
        return NoOneToRing("nobody_on_shift")
    tried = [a.volunteer_id for a in record.attempts if a.volunteer_id is not None]
    batch = policy.ring_batch_size(len(tried))
    if batch == 0:
        return NoOneToRing("exhausted")
    ordered = pick_volunteers(
        load_candidates(session), record.topic, record.language, now, policy, tried, tz=tz
    )
    if not ordered:
        return NoOneToRing("exhausted" if tried else "nobody_on_shift")
    ids = [candidate.id for candidate in ordered]
    chosen = _claim(redis, ids, claim_owner(record.call_sid), policy.ringing_claim_ttl, batch)
    if not chosen:
        return NoOneToRing("all_busy" if not tried else "exhausted")
    volunteers = {v.id: v for v in session.query(Volunteer).filter(Volunteer.id.in_(chosen))}
    rings = []
    for volunteer_id in chosen:
        volunteer = volunteers[volunteer_id]
        attempt = RingAttempt(
            volunteer_id=volunteer_id, started_at=now, outcome=RingOutcome.RINGING
        )
        record.attempts.append(attempt)
        session.flush()
        rings.append(
            Ring(
                attempt_id=attempt.id,
                volunteer_id=volunteer_id,
                phone=decrypt(fernet, volunteer.phone_encrypted),
                language=_speaks(volunteer, record.language),
            )
        )
    return rings


def _claim(redis: Redis | None, ids: Sequence[int], owner: str, ttl: int, limit: int) -> list[int]:
    if redis is None:
        return list(ids[:limit])
    try:
        return claims.claim_free(redis, ids, owner, ttl, limit)
    except RedisError as exc:
        # Without Redis we cannot promise one call per volunteer, but a caller in danger must
        # still reach someone: ring unclaimed (a busy volunteer's phone just reports busy).
        log.error("claims unavailable (%s): ringing without a claim", cause(exc), exc_info=exc)
        return list(ids[:limit])


def _speaks(volunteer: Volunteer, caller_language: str | None) -> str:
    """The language the whisper uses: the volunteer's own first language."""
    languages = list(volunteer.languages or [])
    return languages[0] if languages else (caller_language or "ru")


def accept(
    session: Session,
    redis: Redis | None,
    policy: RoutingPolicy,
    attempt: RingAttempt,
    now: datetime,
) -> None:
    """The volunteer pressed 1: the call is theirs; keep their claim for the whole call."""
    attempt.outcome = RingOutcome.ACCEPTED
    record = attempt.call
    record.answered_by_id = attempt.volunteer_id
    record.connected_at = record.connected_at or now
    start = record.routed_at or record.started_at
    record.wait_seconds = max(0, int((record.connected_at - start).total_seconds()))
    record.outcome = "connected"
    if redis is not None and attempt.volunteer_id is not None:
        _quietly(
            claims.extend,
            redis,
            attempt.volunteer_id,
            claim_owner(record.call_sid),
            policy.connected_claim_ttl,
        )


def settle_whisper(attempt: RingAttempt, outcome: RingOutcome) -> None:
    """Record that the volunteer declined or pressed nothing in the whisper."""
    if attempt.outcome == RingOutcome.RINGING:
        attempt.outcome = outcome


def settle_leg(
    session: Session,
    redis: Redis | None,
    attempts: Sequence[RingAttempt],
    dial_status: str,
    bridged: bool,
    duration_seconds: int | None,
    now: datetime,
) -> bool:
    """Close the legs of one <Dial> from its action request; True when the caller was connected.

    Releases every claim of the batch, so a volunteer is free again as soon as their leg ends.
    """
    connected = False
    for attempt in attempts:
        if attempt.ended_at is None:
            attempt.ended_at = now
            attempt.duration_seconds = max(0, int((now - attempt.started_at).total_seconds()))
        if attempt.outcome == RingOutcome.ACCEPTED and bridged:
            connected = True
            if duration_seconds is not None:
                attempt.duration_seconds = duration_seconds
            if attempt.volunteer_id is not None:
                record_call_ended(session, attempt.volunteer_id, now)
        elif attempt.outcome in (RingOutcome.RINGING, RingOutcome.ACCEPTED):
            attempt.outcome = _DIAL_STATUS.get(dial_status, RingOutcome.FAILED)
        if redis is not None and attempt.volunteer_id is not None:
            _quietly(
                claims.release, redis, attempt.volunteer_id, claim_owner(attempt.call.call_sid)
            )
    return connected


def release_all(redis: Redis | None, record: CallRecord) -> None:
    """Free every volunteer this call still holds (the call ended; a lost action request)."""
    if redis is None:
        return
    for attempt in record.attempts:
        if attempt.volunteer_id is not None:
            _quietly(claims.release, redis, attempt.volunteer_id, claim_owner(record.call_sid))


def unanswered_outcome(record: CallRecord) -> str:
    """How a call that reached nobody ends: nobody available, declined by all, or no answer."""
    if not record.attempts:
        return "nobody_available"
    if all(a.outcome == RingOutcome.DECLINED for a in record.attempts):
        return "declined_by_all"
    return "no_answer"


def _quietly(func, *args) -> None:  # type: ignore[no-untyped-def]
    """Claims expire by themselves: a failed release must not fail the webhook."""
    try:
        func(*args)
    except RedisError as exc:
        log.warning("claim update failed (%s); it will expire by itself", cause(exc), exc_info=exc)
