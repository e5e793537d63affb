"""Roster reads for routing: candidates for the policy, and a volunteer's number at dial time."""

from __future__ import annotations

from datetime import datetime

from cryptography.fernet import MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..crypto import decrypt
from ..models.roster import Shift, Volunteer
from .policy import Candidate, ShiftSpec


class VolunteerNotFound(LookupError):
    """No active volunteer has this id (removed from the roster, or never existed)."""


def load_candidates(session: Session) -> list[Candidate]:
    """Every active volunteer as a routing Candidate, shifts included, in two queries."""
    volunteers = session.scalars(
        select(Volunteer)
        .where(Volunteer.active.is_(True))
        .options(selectinload(Volunteer.shifts))
        .order_by(Volunteer.id)
    )
    return [to_candidate(volunteer) for volunteer in volunteers]


def to_candidate(volunteer: Volunteer) -> Candidate:
    """The routing view of a volunteer: ids, vocabularies and shifts, no name, no number."""
    return Candidate(
        id=volunteer.id,
        roles=frozenset(volunteer.roles),
        topics=frozenset(volunteer.topics),
        languages=frozenset(volunteer.languages),
        shifts=tuple(_to_spec(shift) for shift in volunteer.shifts),
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


def _to_spec(shift: Shift) -> ShiftSpec:
    return ShiftSpec(
        start=shift.start_minute,
        end=shift.end_minute,
        days=frozenset(shift.days) if shift.days is not None else None,
        date=shift.on_date,
    )
