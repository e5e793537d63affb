"""Make the database match a parsed roster file: create, update, deactivate, never delete."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..account_links import disable_volunteer_accounts
from ..crypto import decrypt, encrypt
from ..models.base import utcnow
from ..models.roster import Shift, Volunteer
from .policy import DAYS, ShiftSpec
from .roster_file import Roster, VolunteerSpec

ShiftKey = tuple[tuple[str, ...], str, int, int]


@dataclass(frozen=True)
class ImportReport:
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deactivated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    accounts_disabled: tuple[str, ...] = ()  # dashboard logins of the deactivated

    @property
    def changed(self) -> bool:
        """Whether the import changed anything at all."""
        return bool(self.created or self.updated or self.deactivated)

    def summary(self) -> str:
        """One line for the terminal, handles only."""
        parts = []
        for label, handles in (
            ("created", self.created),
            ("updated", self.updated),
            ("deactivated", self.deactivated),
        ):
            if handles:
                parts.append(f"{label} {len(handles)} ({', '.join(handles)})")
        parts.append(f"unchanged {len(self.unchanged)}")
        if self.accounts_disabled:
            parts.append(f"dashboard accounts disabled {len(self.accounts_disabled)}")
        return "; ".join(parts)


def import_roster(session: Session, roster: Roster, fernet: MultiFernet) -> ImportReport:
    """Apply the roster in the session's transaction; the caller commits (Database.session() does).

    All or nothing: the roster was fully validated when parsed, and any error here propagates
    before the commit, so the caller's rollback leaves the roster as it was. Idempotent: a second
    import of the same file writes nothing.
    """
    existing = {
        volunteer.handle: volunteer
        for volunteer in session.scalars(select(Volunteer).options(selectinload(Volunteer.shifts)))
    }
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    for spec in roster.volunteers:
        volunteer = existing.get(spec.handle)
        if volunteer is None:
            session.add(_new_volunteer(spec, fernet))
            created.append(spec.handle)
        elif _apply(volunteer, spec, fernet):
            updated.append(spec.handle)
        else:
            unchanged.append(spec.handle)

    in_file = {spec.handle for spec in roster.volunteers}
    deactivated: list[str] = []
    for handle, volunteer in sorted(existing.items()):
        if handle not in in_file and volunteer.active:
            volunteer.active = False
            volunteer.updated_at = utcnow()
            deactivated.append(handle)
    # Off the roster, off the dashboard: the same as the dashboard's Deactivate.
    disabled = disable_volunteer_accounts(session, [existing[h].id for h in deactivated])
    session.flush()
    return ImportReport(
        created=tuple(created),
        updated=tuple(updated),
        deactivated=tuple(deactivated),
        unchanged=tuple(unchanged),
        accounts_disabled=tuple(disabled),
    )


def _new_volunteer(spec: VolunteerSpec, fernet: MultiFernet) -> Volunteer:
    return Volunteer(
        handle=spec.handle,
        display_name=spec.display_name,
        phone_encrypted=encrypt(fernet, spec.phone),
        phone_last_digits=spec.phone[-2:],
        roles=list(spec.roles),
        topics=list(spec.topics),
        languages=list(spec.languages),
        active=True,
        shifts=[_new_shift(shift) for shift in spec.shifts],
    )


def _apply(volunteer: Volunteer, spec: VolunteerSpec, fernet: MultiFernet) -> bool:
    """Update the volunteer to match spec, touching only what differs; True if anything did."""
    changed = False
    wanted = {
        "display_name": spec.display_name,
        "roles": list(spec.roles),
        "topics": list(spec.topics),
        "languages": list(spec.languages),
        "active": True,  # back in the file: reactivated
    }
    for name, value in wanted.items():
        if getattr(volunteer, name) != value:
            setattr(volunteer, name, value)
            changed = True
    # Fernet tokens differ on every encryption, so compare plaintexts, not tokens.
    if _stored_phone(volunteer, fernet) != spec.phone:
        volunteer.phone_encrypted = encrypt(fernet, spec.phone)
        volunteer.phone_last_digits = spec.phone[-2:]
        changed = True
    if sorted(map(_row_key, volunteer.shifts)) != sorted(map(_spec_key, spec.shifts)):
        # Replaced wholesale: shifts have no identity of their own in the file.
        volunteer.shifts = [_new_shift(shift) for shift in spec.shifts]
        changed = True
    if changed:
        # Set by hand: onupdate does not fire when only the shifts changed.
        volunteer.updated_at = utcnow()
    return changed


def _stored_phone(volunteer: Volunteer, fernet: MultiFernet) -> str | None:
    try:
        return decrypt(fernet, volunteer.phone_encrypted)
    except InvalidToken:
        # Encrypted with a key no longer configured: the file's number replaces it.
        return None


def _new_shift(spec: ShiftSpec) -> Shift:
    return Shift(
        days=_ordered_days(spec.days) if spec.days is not None else None,
        on_date=spec.date,
        start_minute=spec.start,
        end_minute=spec.end,
    )


def _ordered_days(days: frozenset[str] | list[str]) -> list[str]:
    return [day for day in DAYS if day in days]


def _row_key(shift: Shift) -> ShiftKey:
    days = tuple(_ordered_days(shift.days)) if shift.days is not None else ()
    on_date = shift.on_date.isoformat() if shift.on_date else ""
    return (days, on_date, shift.start_minute, shift.end_minute)


def _spec_key(spec: ShiftSpec) -> ShiftKey:
    days = tuple(_ordered_days(spec.days)) if spec.days is not None else ()
    on_date = spec.date.isoformat() if spec.date else ""
    return (days, on_date, spec.start, spec.end)
