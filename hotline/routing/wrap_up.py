"""Wrap-up: after a connected call a volunteer is not rung again for a while (routing.yaml's
wrap_up_seconds, 120 by default), or until they submit the call's outcome report, if sooner.

Three places know it, so every path that could ring them does:
- Redis: when the call ends, the volunteer's claim passes from the call to a wrap-up owner
  (`wrapup:<CallSid>`, `wrapup:callback-leg-<id>`) for wrap_up_seconds; claims for live calls and
  callbacks skip them like any claimed volunteer; saving the report releases it.
- The database, for claims taken there while Redis is away (db_claims.engaged): a connected leg
  that ended less than wrap_up_seconds ago and whose call has no report.
- The roster snapshot's keeper reads the same from the database every second (wrapping_up), and
  routing leaves those volunteers out before claiming.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..lua import LuaScript
from ..models import CallbackAttempt, CallRecord, OutcomeReport, RingAttempt
from . import claims

PREFIX = "wrapup:"
_ACCEPTED = "accepted"  # hotline.routing.dispatch.RingOutcome.ACCEPTED
_CALLER_CONNECTED = "caller_connected"  # hotline.models.callback.AttemptOutcome

# KEYS: the claim key, the new owner's set; ARGV: the call's owner, the wrap-up owner, seconds,
# the volunteer id. The claim passes to wrap-up only if the call still holds it (or nobody does:
# it expired), so a volunteer already claimed by another call is never taken from it.
_HAND_OVER = LuaScript(
    """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
)


def call_owner(call_sid: str) -> str:
    """The wrap-up owner after a live call (named by its CallSid)."""
    return f"{PREFIX}{call_sid}"


def callback_owner(attempt_id: int) -> str:
    """The wrap-up owner after a callback's connected leg."""
    return f"{PREFIX}callback-leg-{attempt_id}"


def begin(redis: Redis, volunteer_id: int, call_owner_: str, owner: str, seconds: int) -> bool:
    """The call `call_owner_` held the volunteer and is over: hold them for wrap-up instead."""
    if seconds <= 0:
        return False
    keys = [claims.claim_key(volunteer_id), claims.owner_key(owner)]
    return bool(_HAND_OVER(redis, keys, [call_owner_, owner, seconds, volunteer_id]))


def finish(redis: Redis, volunteer_id: int, owner: str) -> bool:
    """The report is in: the volunteer may be rung again now."""
    return claims.release(redis, volunteer_id, owner)


def in_wrap_up(redis: Redis, ids: Iterable[int]) -> set[int]:
    """Which of these volunteers are wrapping up right now (for the live view), in one MGET."""
    id_list = list(ids)
    if not id_list:
        return set()
    values = redis.mget([claims.claim_key(i) for i in id_list])
    found = set()
    for volunteer_id, value in zip(id_list, values, strict=True):
        text = value.decode() if isinstance(value, bytes) else value
        if text is not None and text.startswith(PREFIX):
            found.add(volunteer_id)
    return found


def wrapping_up(session: Session, now: datetime, seconds: int) -> set[int]:
    """Volunteers whose connected call ended less than `seconds` ago with no report yet."""
    if seconds <= 0:
        return set()
    since = now - timedelta(seconds=seconds)
    live = session.scalars(
        select(RingAttempt.volunteer_id)
        .join(CallRecord, RingAttempt.call_id == CallRecord.id)
        .outerjoin(OutcomeReport, OutcomeReport.call_record_id == CallRecord.id)
        .where(
            RingAttempt.outcome == _ACCEPTED,
            RingAttempt.ended_at > since,
            CallRecord.outcome == "connected",
            OutcomeReport.id.is_(None),
        )
    )
    legs = session.scalars(
        select(CallbackAttempt.volunteer_id)
        .outerjoin(OutcomeReport, OutcomeReport.callback_attempt_id == CallbackAttempt.id)
        .where(
            CallbackAttempt.outcome == _CALLER_CONNECTED,
            CallbackAttempt.ended_at > since,
            OutcomeReport.id.is_(None),
        )
    )
    return {i for i in [*live, *legs] if i is not None}
