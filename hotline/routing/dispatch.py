"""Choose and claim the next volunteers to ring for a call, from the roster snapshot.

The glue between the pure policy (through the snapshot's indexes) and the claims: in Redis when it
answers, else in the database (hotline.routing.db_claims). With neither, nobody is rung: a
volunteer who may be on another call is never put through. No database read on the way when
Redis answers; numbers are decrypted here only for the <Dial> being written, and never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from cryptography.fernet import InvalidToken, MultiFernet
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from .. import budget
from ..crypto import decrypt
from ..db import Database
from ..logs import cause
from ..redis_conn import RedisGate
from . import claims, db_claims, wrap_up
from .policy import RoutingPolicy
from .snapshot_keeper import SnapshotKeeper

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


@dataclass(frozen=True)
class Ring:
    """One volunteer leg to dial: its place among the call's attempts, number, whisper language."""

    seq: int
    volunteer_id: int
    phone: str
    language: str

    def __repr__(self) -> str:  # never print the number
        return f"Ring(seq={self.seq}, volunteer_id={self.volunteer_id})"


@dataclass(frozen=True)
class NoOneToRing:
    """Why nobody is rung: nobody_on_shift | all_busy | exhausted | claims_unavailable."""

    reason: str


class ClaimsUnavailable(Exception):
    """Neither Redis nor the database can take a claim right now."""


def claim_owner(call_sid: str) -> str:
    return f"call:{call_sid}"


@dataclass
class Claimer:
    """Claims in Redis, else in the database; see the README for what each state guarantees."""

    gate: RedisGate
    db: Database
    keeper: SnapshotKeeper
    policy: RoutingPolicy

    def claim(self, ordered: Sequence[int], owner: str, ttl: int, limit: int) -> list[int]:
        """Claim up to `limit` free volunteers, first free first."""
        redis = self.gate.client()
        if redis is not None:
            # Claims the database took while Redis was away (copied into Redis within a second).
            skip = self.keeper.db_claimed
            ids = [i for i in ordered if i not in skip] if skip else list(ordered)
            try:
                return claims.claim_free(redis, ids, owner, ttl, limit)
            except RedisError as exc:
                log.warning("claims in Redis unavailable (%s): using the database", type(exc))
                self.gate.failed(exc)
        window = self.policy.connected_claim_ttl
        try:
            return budget.run_bounded(
                self._claim_in_database, ordered, owner, ttl, limit, window,
                timeout=budget.remaining(),
            )  # fmt: skip
        except SQLAlchemyError as exc:
            raise ClaimsUnavailable(type(exc).__name__) from None
        except budget.BudgetExceeded:
            raise ClaimsUnavailable("too slow") from None

    def _claim_in_database(
        self, ordered: Sequence[int], owner: str, ttl: int, limit: int, window: int
    ) -> list[int]:
        from ..models import utcnow

        with self.db.session() as session:
            return db_claims.claim_free(
                session, ordered, owner, ttl, limit, utcnow(), window, self.policy.wrap_up_seconds
            )

    def keep(self, volunteer_id: int, owner: str, ttl: int) -> None:
        """The volunteer accepted: hold their claim for the whole call, wherever it was taken."""
        redis = self.gate.client()
        if redis is not None:
            try:
                if claims.extend(redis, volunteer_id, owner, ttl):
                    return
            except RedisError as exc:
                self.gate.failed(exc)

        def _extend() -> None:
            from ..models import utcnow

            with self.db.session() as session:
                db_claims.extend(session, volunteer_id, owner, utcnow() + timedelta(seconds=ttl))

        try:
            budget.run_bounded(_extend, timeout=min(1.0, budget.remaining()))
        except (SQLAlchemyError, budget.BudgetExceeded) as exc:
            log.warning(
                "claim not extended (%s); it lasts its ringing time", cause(exc), exc_info=exc
            )

    def wrap_up(self, volunteer_id: int, call_sid: str) -> None:
        """The volunteer's call is over: their claim passes to the wrap-up time in Redis (the
        database knows it from the call's record: wrap_up.wrapping_up)."""
        redis = self.gate.client()
        if redis is None:
            return
        try:
            wrap_up.begin(
                redis, volunteer_id, claim_owner(call_sid), wrap_up.call_owner(call_sid),
                self.policy.wrap_up_seconds,
            )  # fmt: skip
        except RedisError as exc:
            self.gate.failed(exc)

    def release_one(self, volunteer_id: int, owner: str) -> None:
        """Free one volunteer this owner holds in Redis: a ring of a call that rings them one
        after another (a late status of the last ring must not free the one ringing now)."""
        redis = self.gate.client()
        if redis is None:
            return
        try:
            claims.release(redis, volunteer_id, owner)
        except RedisError as exc:
            self.gate.failed(exc)  # claims expire by themselves

    def release(self, owner: str) -> None:
        """Free the volunteers this owner holds in Redis (the database's go with the journal)."""
        redis = self.gate.client()
        if redis is None:
            return
        try:
            claims.release_owner(redis, owner)
        except RedisError as exc:
            self.gate.failed(exc)  # claims expire by themselves


def next_rings(
    keeper: SnapshotKeeper,
    claimer: Claimer,
    fernet: MultiFernet,
    call_sid: str,
    topic: str | None,
    language: str | None,
    tried: Sequence[int],
    now: datetime,
    tz: tzinfo,
) -> list[Ring] | NoOneToRing:
    """Claim the next volunteer(s) for this call: up to the policy's batch, skipping `tried`."""
    policy = claimer.policy
    if not topic:
        return NoOneToRing("nobody_on_shift")
    batch = policy.ring_batch_size(len(tried))
    if batch == 0:
        return NoOneToRing("exhausted")
    snapshot = keeper.current()
    if snapshot is None:
        return NoOneToRing("nobody_on_shift")
    ordered = snapshot.ordered(topic, language, now, policy, tz, exclude=tried)
    if not ordered:
        # Before a caller hears that nobody can answer, make sure the roster did not just change.
        snapshot = keeper.refreshed() or snapshot
        ordered = snapshot.ordered(topic, language, now, policy, tz, exclude=tried)
    if not ordered:
        return NoOneToRing("exhausted" if tried else "nobody_on_shift")
    resting = keeper.wrapping_up
    if resting:
        # On shift and fitting, but wrapping up after their last call: busy, not absent.
        ordered = [volunteer_id for volunteer_id in ordered if volunteer_id not in resting]
        if not ordered:
            return NoOneToRing("all_busy" if not tried else "exhausted")
    budget.check("claiming a volunteer")
    try:
        chosen = claimer.claim(ordered, claim_owner(call_sid), policy.ringing_claim_ttl, batch)
    except ClaimsUnavailable as exc:
        log.error("call %s: no claims possible (%s): nobody is rung", call_sid, exc)
        return NoOneToRing("claims_unavailable")
    if not chosen:
        return NoOneToRing("all_busy" if not tried else "exhausted")
    rings: list[Ring] = []
    for volunteer_id in chosen:
        entry = snapshot.entry(volunteer_id)
        if entry is None:
            continue
        try:
            phone = decrypt(fernet, entry.phone_encrypted)
        except InvalidToken:
            log.error("volunteer %s: number cannot be decrypted (key removed?)", volunteer_id)
            continue
        rings.append(Ring(len(tried) + len(rings), volunteer_id, phone, entry.whisper_language))
    return rings or NoOneToRing("exhausted")
