"""Roster reads for routing: candidates for the policy, and a volunteer's number at dial time."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from cryptography.fernet import MultiFernet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..crypto import decrypt
from ..models.roster import Shift, Volunteer
from .policy import Candidate, ShiftSpec
from .snapshot import RosterEntry


class VolunteerNotFound(LookupError):
    """No active volunteer has this id (removed from the roster, or never existed)."""


def load_candidates(session: Session) -> list[Candidate]:
    """Every active volunteer as a routing Candidate, shifts included, in two queries."""
    # Plain column rows, not ORM objects: building 10,000 Volunteer instances (with identity map
    # and change tracking) takes seconds; these rows take a fraction of that.
    shifts: dict[int, list[ShiftSpec]] = defaultdict(list)
    shift_rows = session.execute(
        select(Shift.volunteer_id, Shift.days, Shift.on_date, Shift.start_minute, Shift.end_minute)
        .join(Volunteer)
        .where(Volunteer.active.is_(True))
        .order_by(Shift.id)
    )
    for volunteer_id, days, on_date, start, end in shift_rows:
        shifts[volunteer_id].append(
            ShiftSpec(
                start=start,
                end=end,
                days=frozenset(days) if days is not None else None,
                date=on_date,
            )
        )
    volunteer_rows = session.execute(
        select(
            Volunteer.id,
            Volunteer.roles,
            Volunteer.topics,
            Volunteer.languages,
            Volunteer.last_call_ended_at,
            Volunteer.available,
        )
        .where(Volunteer.active.is_(True))
        .order_by(Volunteer.id)
    )
    return [
        Candidate(
            id=volunteer_id,
            roles=frozenset(roles),
            topics=frozenset(topics),
            languages=frozenset(languages),
            shifts=tuple(shifts.get(volunteer_id, ())),
            last_call_ended_at=last_call_ended_at,
            active=True,
            available=available,
        )
        for volunteer_id, roles, topics, languages, last_call_ended_at, available in volunteer_rows
    ]


def to_candidate(volunteer: Volunteer) -> Candidate:
    """The routing view of a volunteer: ids, vocabularies and shifts, no name, no number."""
    return Candidate(
        id=volunteer.id,
        roles=frozenset(volunteer.roles),
        topics=frozenset(volunteer.topics),
        languages=frozenset(volunteer.languages),
        shifts=tuple(shift_spec(shift) for shift in volunteer.shifts),
        last_call_ended_at=volunteer.last_call_ended_at,
        active=volunteer.active,
        available=volunteer.available,
    )


def volunteer_phone(session: Session, fernet: MultiFernet, volunteer_id: int) -> str:
    """The volunteer's E.164 number, decrypted now to dial it; never log or store the result."""
    volunteer = session.get(Volunteer, volunteer_id)
    # A volunteer deactivated between picking and dialing must not be rung.
    if volunteer is None or not volunteer.active:
        raise VolunteerNotFound(f"no active volunteer with id {volunteer_id}")
    return decrypt(fernet, volunteer.phone_encrypted)


def record_call_ended(session: Session, volunteer_id: int, ended_at: datetime) -> None:
    """Note when the volunteer's last call ended, so the fairness order puts them last."""
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is not None:
        volunteer.last_call_ended_at = ended_at


def shift_spec(shift: Shift) -> ShiftSpec:
    """A stored shift as the routing policy reads it."""
    return ShiftSpec(
        start=shift.start_minute,
        end=shift.end_minute,
        days=frozenset(shift.days) if shift.days is not None else None,
        date=shift.on_date,
    )


def load_roster_entries(session: Session) -> list[RosterEntry]:
    """Every active volunteer as a snapshot entry: the routing view and the encrypted number."""
    candidates = {candidate.id: candidate for candidate in load_candidates(session)}
    rows = session.execute(
        select(Volunteer.id, Volunteer.phone_encrypted, Volunteer.languages).where(
            Volunteer.active.is_(True)
        )
    )
    entries = []
    for volunteer_id, phone_encrypted, languages in rows:
        candidate = candidates.get(volunteer_id)
        if candidate is not None:
            first = list(languages or [])[:1]
            entries.append(RosterEntry(candidate, phone_encrypted, first[0] if first else "ru"))
    return entries


def changed_since(
    session: Session, since: datetime
) -> list[tuple[int, bool, RosterEntry, datetime | None]]:
    """Volunteers edited at or after `since`: (id, active, entry without shifts, last call end)."""
    rows = session.execute(
        select(
            Volunteer.id,
            Volunteer.active,
            Volunteer.roles,
            Volunteer.topics,
            Volunteer.languages,
            Volunteer.available,
            Volunteer.phone_encrypted,
            Volunteer.last_call_ended_at,
        ).where(Volunteer.updated_at >= since)
    )
    changed = []
    for volunteer_id, active, roles, topics, languages, available, phone, ended in rows:
        candidate = Candidate(
            id=volunteer_id,
            roles=frozenset(roles),
            topics=frozenset(topics),
            languages=frozenset(languages),
            shifts=(),
            last_call_ended_at=ended,
            active=active,
            available=available,
        )
        first = list(languages or [])[:1]
        entry = RosterEntry(candidate, phone, first[0] if first else "ru")
        changed.append((volunteer_id, bool(active), entry, ended))
    return changed


def roster_fingerprint(session: Session) -> tuple[object, ...]:
    """Changes whenever a volunteer or shift is added, removed or a volunteer is edited."""
    volunteers = session.execute(select(func.count(Volunteer.id), func.max(Volunteer.updated_at)))
    shifts = session.execute(select(func.count(Shift.id), func.max(Shift.id)))
    return (*volunteers.one(), *shifts.one())
