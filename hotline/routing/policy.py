"""Who should take a call: shifts, the routing policy, and the ordered list of volunteers to ring.

Pure Python: nothing here knows about Flask, Twilio, SQLAlchemy or Redis.

Ordering rule of pick_volunteers (most important first):
1. language: everyone who speaks the caller's language, then (only after all of them) those who
   speak the fallback language. A caller who chose Russian must hear Russian; the claim step skips
   busy volunteers in list order, so the fallback is reached only when nobody who speaks the
   caller's language is free.
2. role: the topic's role order (violence: psychologist, then lawyer). A volunteer with several
   roles ranks by the best of them.
3. fairness: longest idle first (never had a call, then the oldest last_call_ended_at).
4. id, so equal candidates always come out in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..yaml_errors import read_yaml
from .line import LineSettings

ROLES = ("lawyer", "psychologist", "social_worker")
TOPICS = ("violence", "trafficking", "labor")
LANGUAGES = ("kk", "ru", "en")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
MINUTES_PER_DAY = 24 * 60

# Answering, hearing the whisper (topic, language) and pressing 1 takes a volunteer 15-30 s;
# 60 s covers a repeat of the prompt. Added to the ring timeout for a ringing leg's claim.
WHISPER_ALLOWANCE_SECONDS = 60
# A released-never claim on a connected call outlives the call by this much, not more.
CLAIM_MARGIN_SECONDS = 60

DEFAULT_TOPIC_ROLES: Mapping[str, tuple[str, ...]] = {
    "violence": ("psychologist", "lawyer"),
    "trafficking": ("lawyer", "psychologist"),
    "labor": ("lawyer",),
}


class Strategy(StrEnum):
    SEQUENTIAL = "sequential"  # ring one volunteer at a time
    SIMULTANEOUS = "simultaneous"  # ring up to simultaneous_max at once; the first to accept wins


class RoutingPolicyError(Exception):
    """The routing policy file is unreadable or invalid; the message names the file and fields."""


@dataclass(frozen=True)
class ShiftSpec:
    """A shift in the hotline's time zone: weekly on `days`, or once on `date`.

    Minutes since midnight; end may be 1440 ("24:00"); end < start crosses midnight and the shift
    belongs to the day it starts on (a Friday 22:00-06:00 shift covers Saturday 03:00).
    """

    start: int
    end: int
    days: frozenset[str] | None = None
    date: date | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A volunteer as routing sees it: no name, no number."""

    id: int
    roles: frozenset[str]
    topics: frozenset[str]
    languages: frozenset[str]
    shifts: tuple[ShiftSpec, ...] = ()
    last_call_ended_at: datetime | None = None
    active: bool = True
    available: bool = True


@dataclass(frozen=True)
class RoutingPolicy:
    topic_roles: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_TOPIC_ROLES)
    )
    fallback_language: str | None = "ru"
    strategy: Strategy = Strategy.SEQUENTIAL
    simultaneous_max: int = 3
    ring_timeout_seconds: int = 20
    max_attempts: int = 3  # volunteers rung in total before the caller is offered a callback
    call_time_limit_seconds: int = 14400  # Dial timeLimit; Twilio's default is 4 hours
    # Not rung again for this long after a connected call, or until the report (wrap_up.py).
    wrap_up_seconds: int = 120
    line: LineSettings = field(default_factory=LineSettings)

    def roles_for(self, topic: str) -> tuple[str, ...]:
        """The roles that take calls on this topic, in the order they are tried."""
        try:
            return self.topic_roles[topic]
        except KeyError:
            raise ValueError(f"the routing policy has no topic {topic!r}") from None

    def ring_batch_size(self, attempts_so_far: int) -> int:
        """How many volunteers to ring next: 1 (sequential) or up to N, never past max_attempts."""
        batch = 1 if self.strategy is Strategy.SEQUENTIAL else self.simultaneous_max
        return max(0, min(batch, self.max_attempts - attempts_so_far))

    @property
    def ringing_claim_ttl(self) -> int:
        """Seconds a claim lasts while the volunteer's phone rings and the whisper plays."""
        return self.ring_timeout_seconds + WHISPER_ALLOWANCE_SECONDS

    @property
    def connected_claim_ttl(self) -> int:
        """Seconds a claim lasts once the volunteer accepted (extend() to this)."""
        return self.call_time_limit_seconds + CLAIM_MARGIN_SECONDS


def on_shift(shifts: Iterable[ShiftSpec], at: datetime, tz: tzinfo) -> bool:
    """Whether any of the shifts covers the instant `at` (aware), read on the wall clock in tz."""
    return _covers_any(shifts, _Clock.at(at, tz))


def shift_check(at: datetime, tz: tzinfo) -> Callable[[Iterable[ShiftSpec]], bool]:
    """on_shift for many volunteers at one instant: the wall clock is read once."""
    clock = _Clock.at(at, tz)
    return lambda shifts: _covers_any(shifts, clock)


def rank(
    candidate: Candidate, topic: str, language: str | None, policy: RoutingPolicy
) -> tuple[int, int, int, float, int] | None:
    """The candidate's place in pick_volunteers' order, shifts aside (None: never for this call)."""
    if not (candidate.active and candidate.available) or topic not in candidate.topics:
        return None
    if language in candidate.languages:
        language_rank = 0
    elif policy.fallback_language in candidate.languages:
        language_rank = 1
    else:
        return None
    for role_rank, role in enumerate(policy.roles_for(topic)):
        if role in candidate.roles:
            ended = candidate.last_call_ended_at
            idle = (0, 0.0) if ended is None else (1, ended.timestamp())
            return (language_rank, role_rank, *idle, candidate.id)
    return None


@dataclass(frozen=True, slots=True)
class _Clock:
    """The hotline's wall clock at one instant, computed once per routing decision."""

    today: date
    yesterday: date
    today_name: str
    yesterday_name: str
    minute: int

    @classmethod
    def at(cls, instant: datetime, tz: tzinfo) -> _Clock:
        if instant.tzinfo is None:
            raise ValueError("shifts are checked against an aware datetime, got a naive one")
        # Wall-clock comparison in the hotline's zone: shifts are what the volunteer's clock says,
        # so a DST change shortens or lengthens a night shift by an hour instead of moving it.
        local = instant.astimezone(tz)
        today = local.date()
        yesterday = today - timedelta(days=1)
        return cls(
            today=today,
            yesterday=yesterday,
            today_name=DAYS[today.weekday()],
            yesterday_name=DAYS[yesterday.weekday()],
            minute=local.hour * 60 + local.minute,
        )


def _covers_any(shifts: Iterable[ShiftSpec], clock: _Clock) -> bool:
    # Written out flat: it runs for every candidate, thousands of times per decision.
    minute = clock.minute
    for shift in shifts:
        if shift.start < shift.end:
            if not shift.start <= minute < shift.end:
                continue
            started_today = True
        elif minute >= shift.start:  # crosses midnight: the evening part, started today
            started_today = True
        elif minute < shift.end:  # the morning part of the shift that started yesterday
            started_today = False
        else:
            continue
        if shift.date is not None:
            if shift.date == (clock.today if started_today else clock.yesterday):
                return True
        elif shift.days and (clock.today_name if started_today else clock.yesterday_name) in (
            shift.days
        ):
            return True
    return False


def pick_volunteers(
    candidates: Sequence[Candidate],
    topic: str,
    language: str | None,
    now: datetime,
    policy: RoutingPolicy,
    exclude: Collection[int] = (),
    *,
    tz: tzinfo,
) -> list[Candidate]:
    """Everyone who may take this call now, best first (see the module docstring for the order).

    The list is not cut to max_attempts: the claim step skips volunteers busy on other calls.
    """
    policy.roles_for(topic)  # (an unknown topic is an error, not an empty list)
    clock = _Clock.at(now, tz)
    excluded = set(exclude)
    ranked: list[tuple[tuple[int, int, int, float, int], Candidate]] = []
    for candidate in candidates:
        if candidate.id in excluded:
            continue
        # The cheap checks first: with thousands of volunteers, the shift check is the costly one.
        key = rank(candidate, topic, language, policy)
        if key is None or not _covers_any(candidate.shifts, clock):
            continue
        ranked.append((key, candidate))
    ranked.sort(key=lambda pair: pair[0])
    return [candidate for _, candidate in ranked]


def load_policy(path: str | Path) -> RoutingPolicy:
    """Read and validate config/routing.yaml; errors name the file and every bad field."""
    return parse_policy(read_yaml(path, RoutingPolicyError), str(path))


_INT_FIELDS = {
    # field: (minimum, maximum, why the bounds)
    "simultaneous_max": (1, 10, "Twilio's <Dial> rings at most 10 numbers at once"),
    "ring_timeout_seconds": (5, 60, "Twilio's minimum is 5; past 60 s every phone is in voicemail"),
    "max_attempts": (1, 20, "a caller in crisis should not wait for more"),
    "call_time_limit_seconds": (60, 86400, "Twilio's <Dial timeLimit> allows up to 24 hours"),
    "wrap_up_seconds": (0, 1800, "half an hour at most: callers are waiting"),
}


def parse_policy(data: Any, source: str = "routing policy") -> RoutingPolicy:
    """Validate parsed YAML data into a RoutingPolicy; missing optional fields get defaults."""
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RoutingPolicyError(f"{source}: expected a mapping of settings at the top level")
    allowed = {"topics", "fallback_language", "strategy", "line", *_INT_FIELDS}
    for key in sorted(set(data) - allowed, key=str):
        problems.append(f"{key}: unknown setting (known: {', '.join(sorted(allowed))})")

    topic_roles = _parse_topics(data.get("topics"), problems)
    fallback = data.get("fallback_language", "ru")
    if fallback is not None and fallback not in LANGUAGES:
        problems.append(
            f"fallback_language: {fallback!r} is not one of {', '.join(LANGUAGES)} (or null)"
        )
    strategy_raw = data.get("strategy", Strategy.SEQUENTIAL.value)
    try:
        strategy = Strategy(strategy_raw)
    except ValueError:
        problems.append(f"strategy: {strategy_raw!r} is not 'sequential' or 'simultaneous'")
        strategy = Strategy.SEQUENTIAL
    numbers = _whole_numbers(data, _INT_FIELDS, RoutingPolicy, "", problems)
    line = _parse_line(data.get("line"), problems)
    if problems:
        raise RoutingPolicyError(f"{source}:\n  - " + "\n  - ".join(problems))
    return RoutingPolicy(
        topic_roles=topic_roles, fallback_language=fallback, strategy=strategy, line=line, **numbers
    )


_LINE_INT_FIELDS = {
    "max_wait_seconds": (5, 1800, "a caller should hear a callback offer within half an hour"),
    # Twilio's Gather timeout is at most 600 s; the place in line is worth hearing every minute.
    "message_interval_seconds": (10, 120, "the place in line is said at least every 2 minutes"),
}


def _whole_numbers(
    data: dict[str, Any],
    fields: Mapping[str, tuple[int, int, str]],
    defaults: type,
    prefix: str,
    problems: list[str],
) -> dict[str, int]:
    """The bounded whole-number settings in `data` (defaults from the class); problems named."""
    numbers: dict[str, int] = {}
    for name, (low, high, why) in fields.items():
        value = data.get(name, getattr(defaults, name))
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{prefix}{name}: expected a whole number, got {value!r}")
        elif not low <= value <= high:
            problems.append(f"{prefix}{name}: {value} is outside {low}..{high} ({why})")
        else:
            numbers[name] = value
    return numbers


def _parse_line(raw: Any, problems: list[str]) -> LineSettings:
    if raw is None:
        return LineSettings()
    if not isinstance(raw, dict):
        problems.append("line: expected a mapping (enabled, max_wait_seconds, ...)")
        return LineSettings()
    allowed = {"enabled", "hold_music_url", *_LINE_INT_FIELDS}
    for key in sorted(set(raw) - allowed, key=str):
        problems.append(f"line.{key}: unknown setting (known: {', '.join(sorted(allowed))})")
    values: dict[str, Any] = {}
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"line.enabled: expected true or false, got {enabled!r}")
    else:
        values["enabled"] = enabled
    values.update(_whole_numbers(raw, _LINE_INT_FIELDS, LineSettings, "line.", problems))
    music = raw.get("hold_music_url")
    if music is not None and not (isinstance(music, str) and music.startswith("https://")):
        problems.append("line.hold_music_url: expected an https:// URL of audio, or nothing")
    else:
        values["hold_music_url"] = music
    return LineSettings(**values)


def _parse_topics(raw: Any, problems: list[str]) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return dict(DEFAULT_TOPIC_ROLES)
    if not isinstance(raw, dict):
        problems.append("topics: expected a mapping of topic -> list of roles")
        return {}
    result: dict[str, tuple[str, ...]] = {}
    for topic, roles in raw.items():
        if topic not in TOPICS:
            problems.append(f"topics.{topic}: unknown topic (known: {', '.join(TOPICS)})")
            continue
        if not isinstance(roles, list) or not roles:
            problems.append(f"topics.{topic}: expected a non-empty list of roles")
            continue
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            problems.append(
                f"topics.{topic}: unknown role(s) {', '.join(map(str, unknown))} "
                f"(known: {', '.join(ROLES)})"
            )
        elif len(set(roles)) != len(roles):
            problems.append(f"topics.{topic}: a role is listed twice")
        else:
            result[topic] = tuple(roles)
    missing = [topic for topic in TOPICS if topic not in raw]
    if missing:
        # A topic the IVR offers but the policy lacks would leave its callers with nobody.
        problems.append(f"topics: missing {', '.join(missing)} (every IVR topic needs roles)")
    return result
