"""When the next suitable volunteer comes on shift, for a callback that found nobody. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from ..routing.policy import DAYS, Candidate, RoutingPolicy, ShiftSpec, on_shift, pick_volunteers

# Weekly shifts repeat every 7 days; one more day catches a shift that started yesterday.
_LOOKAHEAD_DAYS = 8
_ALWAYS = ShiftSpec(start=0, end=24 * 60, days=frozenset(DAYS))


def eligible_candidates(
    candidates: Sequence[Candidate],
    topic: str,
    language: str | None,
    policy: RoutingPolicy,
    now: datetime,
    tz: tzinfo,
) -> list[Candidate]:
    """The volunteers who could take this callback at some shift (topic, role, language)."""
    # The routing policy is asked with every shift made "always", so eligibility rules live in
    # one place (routing) and only the shift check is left out.
    by_id = {c.id: c for c in candidates}
    always = [replace(c, shifts=(_ALWAYS,)) for c in candidates]
    return [by_id[c.id] for c in pick_volunteers(always, topic, language, now, policy, tz=tz)]


def next_shift_start(shifts: Iterable[ShiftSpec], after: datetime, tz: tzinfo) -> datetime | None:
    """`after` if any shift covers it, else the earliest shift start after it (aware UTC)."""
    shifts = list(shifts)
    if on_shift(shifts, after, tz):
        return after
    local_day = after.astimezone(tz).date()
    starts = [start for shift in shifts for start in _starts(shift, local_day, tz) if start > after]
    return min(starts, default=None)


def _starts(shift: ShiftSpec, from_day: date, tz: tzinfo) -> list[datetime]:
    if shift.date is not None:
        days = [shift.date]
    else:
        days = [from_day + timedelta(days=n) for n in range(_LOOKAHEAD_DAYS)]
        days = [d for d in days if shift.days is not None and DAYS[d.weekday()] in shift.days]
    starts = []
    for day in days:
        minute = shift.start
        wall = datetime.combine(day, time(minute // 60, minute % 60), tz)
        starts.append(datetime.fromtimestamp(wall.timestamp(), UTC))
    return starts
