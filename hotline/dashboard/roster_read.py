"""Roster reads shared by the live view, the coverage grid and the roster pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models.roster import Shift, Volunteer
from ..routing.policy import DAYS, ShiftSpec, on_shift


def active_volunteers(db: Session) -> list[Volunteer]:
    """Active volunteers with their shifts, by name."""
    return list(
        db.scalars(
            select(Volunteer)
            .where(Volunteer.active.is_(True))
            .options(selectinload(Volunteer.shifts))
            .order_by(Volunteer.display_name, Volunteer.id)
        )
    )


def spec(shift: Shift) -> ShiftSpec:
    """A stored shift as the routing policy reads it."""
    return ShiftSpec(
        start=shift.start_minute,
        end=shift.end_minute,
        days=frozenset(shift.days) if shift.days is not None else None,
        date=shift.on_date,
    )


def specs(shifts: Sequence[Shift]) -> tuple[ShiftSpec, ...]:
    """Every stored shift as a ShiftSpec."""
    return tuple(spec(shift) for shift in shifts)


def on_shift_now(volunteers: Sequence[Volunteer], at: datetime, tz: tzinfo) -> list[Volunteer]:
    """Those whose shifts cover the instant `at`, with the policy's own rule."""
    return [v for v in volunteers if on_shift(specs(v.shifts), at, tz)]


def hhmm(minute: int) -> str:
    """Minutes since midnight as HH:MM ("24:00" for the end of the day)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def describe_days(shift: Shift) -> list[str]:
    """The shift's weekday ids in week order, or [] for a one-off shift."""
    return [day for day in DAYS if shift.days and day in shift.days]
