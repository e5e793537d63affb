"""Volunteer claims in the database, for when Redis is unreachable.

One row per claimed volunteer in volunteer_claims. A claim is taken with a single statement,
INSERT ... ON CONFLICT (volunteer_id) DO UPDATE ... WHERE the old claim has expired ... RETURNING:
PostgreSQL locks the row (a second claimer waits for the first to commit, then finds it taken),
SQLite runs it under its one writer lock, so of two calls racing for a volunteer exactly one gets
them. Each claim commits at once, before the <Dial> is answered.

A volunteer is also treated as engaged while the database shows them on a call: a ring attempt
still open (ringing, or accepted and not ended). That covers the claims taken in Redis before it
went away, whose ring attempts the journal had already written (see the README's guarantees).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import CallRecord, RingAttempt, VolunteerClaim
from .wrap_up import wrapping_up


def engaged(
    session: Session, now: datetime, window_seconds: int, wrap_up_seconds: int = 0
) -> set[int]:
    """Volunteers claimed in the database, on a ring attempt still open in it, or wrapping up
    after a connected call (hotline.routing.wrap_up)."""
    claimed = set(
        session.scalars(select(VolunteerClaim.volunteer_id).where(VolunteerClaim.expires_at > now))
    )
    open_attempts = session.scalars(
        select(RingAttempt.volunteer_id)
        .join(CallRecord)
        .where(
            RingAttempt.ended_at.is_(None),
            RingAttempt.outcome.in_(("ringing", "accepted")),
            RingAttempt.started_at > now - timedelta(seconds=window_seconds),
            CallRecord.ended_at.is_(None),
        )
    )
    on_calls = {volunteer_id for volunteer_id in open_attempts if volunteer_id is not None}
    return claimed | on_calls | wrapping_up(session, now, wrap_up_seconds)


def claim_free(
    session: Session,
    ordered_ids: Sequence[int],
    owner: str,
    ttl_seconds: int,
    limit: int,
    now: datetime,
    window_seconds: int,
    wrap_up_seconds: int = 0,
) -> list[int]:
    """Claim up to `limit` free volunteers, first free first; each claim commits at once."""
    busy = engaged(session, now, window_seconds, wrap_up_seconds)
    session.commit()
    claimed: list[int] = []
    for volunteer_id in ordered_ids:
        if len(claimed) >= limit:
            break
        if volunteer_id in busy:
            continue
        if _take(session, volunteer_id, owner, now + timedelta(seconds=ttl_seconds), now):
            claimed.append(volunteer_id)
    return claimed


def _take(
    session: Session, volunteer_id: int, owner: str, expires: datetime, now: datetime
) -> bool:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(VolunteerClaim).values(
        volunteer_id=volunteer_id, owner=owner, expires_at=expires
    )
    statement = statement.on_conflict_do_update(
        index_elements=[VolunteerClaim.volunteer_id],
        set_={"owner": owner, "expires_at": expires},
        where=VolunteerClaim.expires_at <= now,
    ).returning(VolunteerClaim.volunteer_id)
    taken = session.execute(statement).first() is not None
    session.commit()
    return taken


def extend(session: Session, volunteer_id: int, owner: str, until: datetime) -> bool:
    """Keep the owner's claim until `until` (the volunteer accepted the call)."""
    result = session.execute(
        update(VolunteerClaim)
        .where(VolunteerClaim.volunteer_id == volunteer_id, VolunteerClaim.owner == owner)
        .values(expires_at=until)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_owner(session: Session, owner: str) -> int:
    """Free every volunteer `owner` holds; how many."""
    result = session.execute(delete(VolunteerClaim).where(VolunteerClaim.owner == owner))
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def live_claims(session: Session, now: datetime) -> list[tuple[int, str, datetime]]:
    """Every claim not yet expired: (volunteer id, owner, expires at)."""
    rows = session.execute(
        select(VolunteerClaim.volunteer_id, VolunteerClaim.owner, VolunteerClaim.expires_at).where(
            VolunteerClaim.expires_at > now
        )
    )
    return [(volunteer_id, owner, expires) for volunteer_id, owner, expires in rows]
