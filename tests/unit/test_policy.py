"""The routing policy: shifts on the wall clock, and who is rung first for a call."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline.routing.policy import (
    DAYS,
    LANGUAGES,
    TOPICS,
    Candidate,
    RoutingPolicy,
    RoutingPolicyError,
    ShiftSpec,
    Strategy,
    load_policy,
    on_shift,
    parse_policy,
    pick_volunteers,
)

ALMATY = ZoneInfo("Asia/Almaty")  # UTC+5 all year, no DST
BERLIN = ZoneInfo("Europe/Berlin")  # DST: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00
CONFIG = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"
POLICY = RoutingPolicy()
FRIDAY = date(2026, 6, 5)
assert FRIDAY.weekday() == 4


def hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def weekly(days: str, start: str, end: str) -> ShiftSpec:
    return ShiftSpec(start=hm(start), end=hm(end), days=frozenset(days.split()))


def once(on: str, start: str, end: str) -> ShiftSpec:
    return ShiftSpec(start=hm(start), end=hm(end), date=date.fromisoformat(on))


def almaty(day: date, clock: str) -> datetime:
    hours, minutes = clock.split(":")
    return datetime(day.year, day.month, day.day, int(hours), int(minutes), tzinfo=ALMATY)


def days_after(base: date, n: int) -> date:
    return base + timedelta(days=n)


SAT, SUN, MON, THU = (days_after(FRIDAY, n) for n in (1, 2, 3, -1))


# --- on_shift ------------------------------------------------------------------------------------

ON_SHIFT_CASES = [
    # (shift, day, local time, expected, why)
    (weekly("mon tue wed thu fri", "09:00", "18:00"), FRIDAY, "09:00", True, "start is inclusive"),
    (weekly("mon tue wed thu fri", "09:00", "18:00"), FRIDAY, "08:59", False, "before start"),
    (weekly("mon tue wed thu fri", "09:00", "18:00"), FRIDAY, "17:59", True, "last minute"),
    (weekly("mon tue wed thu fri", "09:00", "18:00"), FRIDAY, "18:00", False, "end is exclusive"),
    (weekly("mon tue wed thu fri", "09:00", "18:00"), SAT, "10:00", False, "not a shift day"),
    (weekly("fri", "22:00", "06:00"), FRIDAY, "22:00", True, "night shift starts"),
    (weekly("fri", "22:00", "06:00"), FRIDAY, "23:59", True, "before midnight"),
    (weekly("fri", "22:00", "06:00"), SAT, "00:00", True, "midnight itself"),
    (weekly("fri", "22:00", "06:00"), SAT, "03:00", True, "Friday's shift covers Saturday 03:00"),
    (weekly("fri", "22:00", "06:00"), SAT, "06:00", False, "morning end is exclusive"),
    (weekly("fri", "22:00", "06:00"), FRIDAY, "03:00", False, "Thursday night is not Friday's"),
    (weekly("fri", "22:00", "06:00"), SAT, "22:00", False, "Saturday evening is not a shift"),
    (weekly("sun", "22:00", "06:00"), MON, "03:00", True, "crosses the end of the week"),
    (weekly("mon", "20:00", "24:00"), MON, "23:59", True, "24:00 covers the last minute"),
    (weekly("mon", "20:00", "24:00"), days_after(MON, 1), "00:00", False, "24:00 ends at midnight"),
    (weekly("thu", "00:00", "24:00"), THU, "00:00", True, "all day from midnight"),
    (weekly("thu", "00:00", "24:00"), FRIDAY, "00:00", False, "all day ends at midnight"),
    (once("2026-12-31", "20:00", "24:00"), date(2026, 12, 31), "23:59", True, "one-off"),
    (once("2026-12-31", "20:00", "24:00"), date(2027, 1, 1), "00:00", False, "one-off ended"),
    (once("2026-12-31", "20:00", "24:00"), date(2026, 12, 30), "21:00", False, "other date"),
    (once("2026-12-31", "20:00", "24:00"), date(2025, 12, 31), "21:00", False, "other year"),
    (once("2026-12-31", "22:00", "02:00"), date(2027, 1, 1), "01:00", True, "one-off overnight"),
    (once("2026-12-31", "22:00", "02:00"), date(2026, 12, 31), "01:00", False, "not the night"),
]


@pytest.mark.parametrize(
    ("shift", "day", "clock", "expected"),
    [case[:4] for case in ON_SHIFT_CASES],
    ids=[case[4] for case in ON_SHIFT_CASES],
)
def test_on_shift_in_almaty(shift: ShiftSpec, day: date, clock: str, expected: bool) -> None:
    assert on_shift([shift], almaty(day, clock), ALMATY) is expected


def test_on_shift_reads_a_utc_instant_on_the_hotline_clock() -> None:
    day_shift = [weekly("fri", "09:00", "18:00")]
    assert on_shift(day_shift, datetime(2026, 6, 5, 4, 0, tzinfo=UTC), ALMATY)  # 09:00 in Almaty
    assert not on_shift(day_shift, datetime(2026, 6, 5, 3, 59, tzinfo=UTC), ALMATY)


BERLIN_CASES = [
    # (shift, instant in UTC, expected, why): wall-clock shifts across both DST changes
    (weekly("sat", "22:00", "06:00"), datetime(2026, 3, 29, 0, 30, tzinfo=UTC), True, "01:30 CET"),
    (weekly("sat", "22:00", "06:00"), datetime(2026, 3, 29, 1, 30, tzinfo=UTC), True, "03:30 CEST"),
    (weekly("sat", "22:00", "06:00"), datetime(2026, 3, 29, 3, 59, tzinfo=UTC), True, "05:59 CEST"),
    (weekly("sat", "22:00", "06:00"), datetime(2026, 3, 29, 4, 0, tzinfo=UTC), False, "06:00 CEST"),
    (weekly("mon", "09:00", "18:00"), datetime(2026, 3, 30, 16, 30, tzinfo=UTC), False, "18:30"),
    (weekly("sat", "22:00", "06:00"), datetime(2026, 10, 25, 0, 30, tzinfo=UTC), True, "02:30 #1"),
    (weekly("sat", "22:00", "06:00"), datetime(2026, 10, 25, 1, 30, tzinfo=UTC), True, "02:30 #2"),
    (weekly("sat", "22:00", "06:00"), datetime(2026, 10, 25, 4, 30, tzinfo=UTC), True, "05:30 CET"),
    (weekly("sat", "22:00", "06:00"), datetime(2026, 10, 25, 5, 0, tzinfo=UTC), False, "06:00 CET"),
    (weekly("sat", "02:30", "03:00"), datetime(2026, 3, 28, 1, 45, tzinfo=UTC), True, "no DST yet"),
]


@pytest.mark.parametrize(
    ("shift", "at", "expected"),
    [case[:3] for case in BERLIN_CASES],
    ids=[case[3] for case in BERLIN_CASES],
)
def test_on_shift_follows_the_wall_clock_across_dst(
    shift: ShiftSpec, at: datetime, expected: bool
) -> None:
    assert on_shift([shift], at, BERLIN) is expected


def test_on_shift_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        on_shift([weekly("fri", "09:00", "18:00")], datetime(2026, 6, 5, 10, 0), ALMATY)


def test_no_shifts_means_never_on_shift() -> None:
    assert not on_shift([], almaty(FRIDAY, "10:00"), ALMATY)


# --- pick_volunteers -----------------------------------------------------------------------------

ALWAYS = (ShiftSpec(start=0, end=24 * 60, days=frozenset(DAYS)),)
NOW = almaty(FRIDAY, "10:00")


def vol(
    id: int,
    roles: str,
    langs: str,
    topics: str = "violence trafficking labor",
    shifts: tuple[ShiftSpec, ...] = ALWAYS,
    last: str | None = None,
    active: bool = True,
    available: bool = True,
) -> Candidate:
    return Candidate(
        id=id,
        roles=frozenset(roles.split()),
        topics=frozenset(topics.split()),
        languages=frozenset(langs.split()),
        shifts=shifts,
        last_call_ended_at=almaty(FRIDAY, last) if last else None,
        active=active,
        available=available,
    )


def picked(
    candidates: list[Candidate],
    topic: str,
    language: str | None,
    policy: RoutingPolicy = POLICY,
    exclude: tuple[int, ...] = (),
    now: datetime = NOW,
) -> list[int]:
    return [
        c.id for c in pick_volunteers(candidates, topic, language, now, policy, exclude, tz=ALMATY)
    ]


PSY_RU, LAW_RU = vol(1, "psychologist", "ru"), vol(2, "lawyer", "ru")
NO_FALLBACK = RoutingPolicy(fallback_language=None)

PICK_CASES = [
    # (candidates, topic, language, policy, exclude, expected ids, why)
    ([LAW_RU, PSY_RU], "violence", "ru", POLICY, (), [1, 2], "violence: psychologist first"),
    ([PSY_RU, LAW_RU], "trafficking", "ru", POLICY, (), [2, 1], "trafficking: lawyer first"),
    ([PSY_RU, LAW_RU], "labor", "ru", POLICY, (), [2], "labor: lawyers only"),
    ([vol(1, "social_worker", "ru")], "violence", "ru", POLICY, (), [], "role not in the topic"),
    ([vol(1, "lawyer", "ru", topics="labor")], "violence", "ru", POLICY, (), [], "no such topic"),
    ([PSY_RU, vol(2, "lawyer", "kk")], "violence", "kk", POLICY, (), [2, 1], "language beats role"),
    ([PSY_RU, vol(2, "psychologist", "kk")], "violence", "en", POLICY, (), [1], "fallback is ru"),
    ([PSY_RU], "violence", "en", NO_FALLBACK, (), [], "fallback switched off"),
    ([PSY_RU, vol(2, "psychologist", "kk")], "violence", None, POLICY, (), [1], "no language"),
    ([vol(3, "psychologist", "kk ru"), PSY_RU], "violence", "ru", POLICY, (), [1, 3], "bilingual"),
    ([PSY_RU, LAW_RU], "violence", "ru", POLICY, (1,), [2], "already tried"),
    (
        [vol(1, "psychologist", "ru", available=False), LAW_RU],
        "violence",
        "ru",
        POLICY,
        (),
        [2],
        "toggled unavailable",
    ),
    (
        [vol(1, "psychologist", "ru", active=False), LAW_RU],
        "violence",
        "ru",
        POLICY,
        (),
        [2],
        "deactivated",
    ),
    (
        [vol(1, "psychologist", "ru", shifts=()), LAW_RU],
        "violence",
        "ru",
        POLICY,
        (),
        [2],
        "no shifts",
    ),
    (
        [vol(1, "psychologist", "ru", shifts=(weekly("fri", "12:00", "18:00"),)), LAW_RU],
        "violence",
        "ru",
        POLICY,
        (),
        [2],
        "shift starts later",
    ),
    (
        [vol(1, "lawyer psychologist", "ru"), vol(2, "psychologist", "ru", last="09:00")],
        "violence",
        "ru",
        POLICY,
        (),
        [1, 2],
        "several roles: ranked by the best",
    ),
    (
        [
            vol(1, "psychologist", "ru", last="09:30"),
            vol(2, "psychologist", "ru"),
            vol(3, "psychologist", "ru", last="08:00"),
        ],
        "violence",
        "ru",
        POLICY,
        (),
        [2, 3, 1],
        "longest idle first, never-called first of all",
    ),
    (
        [vol(3, "psychologist", "ru", last="08:00"), vol(1, "psychologist", "ru", last="08:00")],
        "violence",
        "ru",
        POLICY,
        (),
        [1, 3],
        "ties broken by id",
    ),
    (
        [vol(1, "lawyer", "ru", last="07:00"), vol(2, "psychologist", "ru", last="09:59")],
        "violence",
        "ru",
        POLICY,
        (),
        [2, 1],
        "role order beats fairness",
    ),
    (
        [vol(1, "psychologist", "ru"), vol(2, "lawyer", "kk", last="09:59")],
        "violence",
        "kk",
        POLICY,
        (),
        [2, 1],
        "a kk caller gets the kk lawyer before ru",
    ),
]


@pytest.mark.parametrize(
    ("candidates", "topic", "language", "policy", "exclude", "expected"),
    [case[:6] for case in PICK_CASES],
    ids=[case[6] for case in PICK_CASES],
)
def test_pick_volunteers(
    candidates: list[Candidate],
    topic: str,
    language: str | None,
    policy: RoutingPolicy,
    exclude: tuple[int, ...],
    expected: list[int],
) -> None:
    assert picked(candidates, topic, language, policy, exclude) == expected


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("shift_now", [True, False], ids=["on-shift", "off-shift"])
@pytest.mark.parametrize("available", [True, False], ids=["available", "unavailable"])
def test_a_matching_volunteer_is_picked_only_when_on_shift_and_available(
    topic: str, language: str, shift_now: bool, available: bool
) -> None:
    role = POLICY.roles_for(topic)[0]
    shift = weekly("fri", "09:00", "18:00") if shift_now else weekly("fri", "18:00", "09:00")
    candidate = vol(7, role, language, topics=topic, shifts=(shift,), available=available)
    assert picked([candidate], topic, language) == ([7] if shift_now and available else [])


def test_a_night_volunteer_takes_the_saturday_3am_call() -> None:
    night = vol(1, "psychologist", "ru", shifts=(weekly("fri", "22:00", "06:00"),))
    day = vol(2, "psychologist", "ru", shifts=(weekly("sat", "08:00", "24:00"),))
    assert picked([night, day], "violence", "ru", now=almaty(SAT, "03:00")) == [1]
    assert picked([night, day], "violence", "ru", now=almaty(SAT, "23:59")) == [2]


def test_pick_refuses_an_unknown_topic_and_a_naive_now() -> None:
    with pytest.raises(ValueError, match="weather"):
        picked([PSY_RU], "weather", "ru")
    with pytest.raises(ValueError, match="aware"):
        picked([PSY_RU], "violence", "ru", now=datetime(2026, 6, 5, 10, 0))


# --- the policy file -----------------------------------------------------------------------------


def test_the_shipped_routing_yaml_is_the_default_policy() -> None:
    policy = load_policy(CONFIG)
    assert policy == RoutingPolicy()
    assert policy.roles_for("violence") == ("psychologist", "lawyer")
    assert policy.roles_for("trafficking") == ("lawyer", "psychologist")
    assert policy.roles_for("labor") == ("lawyer",)
    assert (policy.fallback_language, policy.strategy) == ("ru", Strategy.SEQUENTIAL)
    assert (policy.ring_timeout_seconds, policy.max_attempts) == (20, 3)


def test_an_empty_policy_file_means_the_defaults() -> None:
    assert parse_policy(None) == RoutingPolicy()


BAD_POLICIES = [
    (
        {"topics": {"violence": ["judge"], "trafficking": ["lawyer"], "labor": ["lawyer"]}},
        "topics.violence",
        "judge",
    ),
    ({"topics": {"violence": ["lawyer"], "trafficking": ["lawyer"]}}, "topics", "labor"),
    ({"topics": {"weather": ["lawyer"]}}, "topics.weather", "unknown topic"),
    (
        {"topics": {"violence": [], "trafficking": ["lawyer"], "labor": ["lawyer"]}},
        "topics.violence",
        "non-empty",
    ),
    ({"strategy": "round_robin"}, "strategy", "round_robin"),
    ({"fallback_language": "de"}, "fallback_language", "de"),
    ({"ring_timeout_seconds": 2}, "ring_timeout_seconds", "5..60"),
    ({"ring_timeout_seconds": True}, "ring_timeout_seconds", "whole number"),
    ({"simultaneous_max": 11}, "simultaneous_max", "1..10"),
    ({"max_attempts": "3"}, "max_attempts", "whole number"),
    ({"ring_timout_seconds": 20}, "ring_timout_seconds", "unknown setting"),
]


@pytest.mark.parametrize(("data", "field", "detail"), BAD_POLICIES)
def test_a_bad_policy_names_the_file_and_the_field(data: dict, field: str, detail: str) -> None:
    with pytest.raises(RoutingPolicyError) as error:
        parse_policy(data, "config/routing.yaml")
    message = str(error.value)
    assert message.startswith("config/routing.yaml:")
    assert f"{field}:" in message and detail in message


def test_every_policy_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("strategy: loud\nmax_attempts: 0\nfallback_language: fr\n")
    with pytest.raises(RoutingPolicyError) as error:
        load_policy(path)
    message = str(error.value)
    assert str(path) in message
    assert "strategy" in message and "max_attempts" in message and "fallback_language" in message


def test_an_unreadable_or_broken_policy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RoutingPolicyError, match="missing.yaml: cannot read"):
        load_policy(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("topics: [unclosed\n")
    with pytest.raises(
        RoutingPolicyError, match=r"broken.yaml: YAML syntax error at line 2, column 1: "
    ):
        load_policy(broken)


@pytest.mark.parametrize(
    ("strategy", "tried", "expected"),
    [
        (Strategy.SEQUENTIAL, 0, 1),
        (Strategy.SEQUENTIAL, 2, 1),
        (Strategy.SEQUENTIAL, 3, 0),
        (Strategy.SIMULTANEOUS, 0, 3),
        (Strategy.SIMULTANEOUS, 2, 1),
    ],
)
def test_ring_batch_size_never_goes_past_max_attempts(
    strategy: Strategy, tried: int, expected: int
) -> None:
    policy = RoutingPolicy(strategy=strategy, simultaneous_max=4, max_attempts=3)
    assert policy.ring_batch_size(tried) == expected


def test_claim_lifetimes_follow_the_ring_timeout_and_the_call_limit() -> None:
    assert POLICY.ringing_claim_ttl == 20 + 60
    assert POLICY.connected_claim_ttl == 14400 + 60
