"""Roster reads shared by the live view, the coverage grid and the roster pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ...models.roster import Shift, Volunteer
from ...routing.policy import DAYS, ShiftSpec, on_shift
from ...routing.roster_queries import shift_spec


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


def specs(shifts: Sequence[Shift]) -> tuple[ShiftSpec, ...]:
    """Every stored shift as a ShiftSpec."""
    return tuple(shift_spec(shift) for shift in shifts)


def on_shift_now(volunteers: Sequence[Volunteer], at: datetime, tz: tzinfo) -> list[Volunteer]:
    """Those whose shifts cover the instant `at`, with the policy's own rule."""
    return [v for v in volunteers if on_shift(specs(v.shifts), at, tz)]


def hhmm(minute: int) -> str:
    """Minutes since midnight as HH:MM ("24:00" for the end of the day)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def describe_days(shift: Shift) -> list[str]:
    """The shift's weekday ids in week order, or [] for a one-off shift."""
    return [day for day in DAYS if shift.days and day in shift.days]
