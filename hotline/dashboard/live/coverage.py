"""Coverage: for the next 7 days, each topic x language x hour with nobody on shift."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from flask import current_app, render_template

from ...db import get_session
from ...models.roster import Volunteer
from ...routing.policy import (
    LANGUAGES,
    TOPICS,
    RoutingPolicy,
    RoutingPolicyError,
    load_policy,
    on_shift,
)
from ..accounts.access import supervisor_only
from ..roster.read import active_volunteers, specs
from ..web.clock import now
from ..web.formatting import hotline_tz
from ..web.periods import local_today
from . import bp

log = logging.getLogger(__name__)
DAYS_AHEAD = 7
# Sampled every quarter hour: shifts are set in minutes, and a 15-minute hole strands callers too.
QUARTERS = (0, 15, 30, 45)
COVERED, PARTIAL, NOBODY = "covered", "partial", "nobody"


@dataclass(frozen=True)
class Gap:
    topic: str
    language: str
    start: datetime  # local
    end: datetime  # local


def routing_policy() -> RoutingPolicy:
    """The policy routing uses (config/routing.yaml), or the defaults when it cannot be read."""
    loaded = current_app.extensions.get("routing_policy")
    if isinstance(loaded, RoutingPolicy):
        return loaded
    path = current_app.config["SETTINGS"].config_dir / "routing.yaml"
    try:
        return load_policy(path) if path.exists() else RoutingPolicy()
    except RoutingPolicyError:
        log.warning("coverage: routing policy unreadable, using the defaults")
        return RoutingPolicy()


def can_take(volunteer: Volunteer, topic: str, language: str, policy: RoutingPolicy) -> bool:
    """Whether routing would ring this volunteer for a call on topic in language."""
    roles = set(policy.roles_for(topic))
    return (
        topic in volunteer.topics
        and language in volunteer.languages
        and bool(roles.intersection(volunteer.roles))
    )


def grid(
    volunteers: list[Volunteer], first: date, tz: tzinfo, policy: RoutingPolicy
) -> dict[tuple[str, str], list[list[str]]]:
    """(topic, language) -> [day][hour] -> covered / partial / nobody."""
    result = {
        (t, lang): [[COVERED] * 24 for _ in range(DAYS_AHEAD)] for t in TOPICS for lang in LANGUAGES
    }
    able = {
        key: {v.id for v in volunteers if can_take(v, key[0], key[1], policy)} for key in result
    }
    shifts = {v.id: specs(v.shifts) for v in volunteers}
    for offset in range(DAYS_AHEAD):
        day = first + timedelta(days=offset)
        for hour in range(24):
            present = [
                {vid for vid, own in shifts.items() if on_shift(own, _at(day, hour, q, tz), tz)}
                for q in QUARTERS
            ]
            for key, ids in able.items():
                covered = sum(1 for here in present if here & ids)
                if covered < len(QUARTERS):
                    result[key][offset][hour] = NOBODY if covered == 0 else PARTIAL
    return result


def _at(day: date, hour: int, minute: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def gaps_ahead(
    cells: dict[tuple[str, str], list[list[str]]],
    first: date,
    start: datetime,
    hours: int,
    tz: tzinfo,
) -> list[Gap]:
    """Runs of hours without full cover in the `hours` after start (local), per topic x language."""
    found: list[Gap] = []
    begin = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    for (topic, language), days in cells.items():
        run_start: datetime | None = None
        for step in range(hours + 1):
            at = begin + timedelta(hours=step)
            index = (at.date() - first).days
            open_hour = step < hours and 0 <= index < DAYS_AHEAD and days[index][at.hour] != COVERED
            if open_hour and run_start is None:
                run_start = at
            elif not open_hour and run_start is not None:
                found.append(Gap(topic, language, run_start, at))
                run_start = None
    return sorted(found, key=lambda gap: (gap.start, gap.topic, gap.language))


@bp.get("/coverage")
@supervisor_only
def coverage() -> str:
    """The next 7 days as a grid, and the gaps of the next 24 hours spelled out."""
    tz = hotline_tz()
    at = now()
    first = local_today(at, tz)
    cells = grid(active_volunteers(get_session()), first, tz, routing_policy())
    return render_template(
        "live/coverage.html",
        cells=cells,
        days=[first + timedelta(days=i) for i in range(DAYS_AHEAD)],
        gaps=gaps_ahead(cells, first, at, 24, tz),
        topics=TOPICS,
        languages=LANGUAGES,
    )
