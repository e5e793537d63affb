"""The retry policy: backoff, attempts, windows, horizon, shifts; and its config file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline.callbacks.config import CallbackConfigError, load_config, parse_config
from hotline.callbacks.retry import (
    Outcome,
    RetryPolicy,
    expires_at,
    give_up_status,
    next_attempt,
)
from hotline.callbacks.shifts import next_shift_start
from hotline.routing.policy import ShiftSpec

ALMATY = ZoneInfo("Asia/Almaty")
POLICY = RetryPolicy()
ROOT = Path(__file__).resolve().parents[2]


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ALMATY)


@dataclass
class Req:
    window: str
    attempts: int
    expires_at: datetime


def req(window: str = "any", attempts: int = 1, created: str = "2026-03-10 10:00") -> Req:
    return Req(window, attempts, expires_at(local(created), POLICY))


@pytest.mark.parametrize(
    ("window", "attempts", "now", "expected"),
    [
        # any time: 15 min, 1 h, then give up after the 3rd
        ("any", 1, "2026-03-10 10:00", "2026-03-10 10:15"),
        ("any", 2, "2026-03-10 10:00", "2026-03-10 11:00"),
        ("any", 3, "2026-03-10 10:00", None),
        # inside the morning window: stays inside
        ("morning", 1, "2026-03-10 10:00", "2026-03-10 10:15"),
        # a retry that would fall outside the window moves to the next window start
        ("morning", 1, "2026-03-10 11:50", "2026-03-11 09:00"),
        ("morning", 2, "2026-03-10 11:30", "2026-03-11 09:00"),
        ("evening", 2, "2026-03-10 20:30", "2026-03-11 17:00"),
        # backoff ends inside the window later today
        ("evening", 2, "2026-03-10 16:30", "2026-03-10 17:30"),
    ],
)
def test_an_unreached_caller_is_tried_again_with_backoff_inside_the_window(
    window: str, attempts: int, now: str, expected: str | None
) -> None:
    result = next_attempt(
        req(window, attempts, created=now), Outcome.CALLER_UNREACHED, local(now), ALMATY, POLICY
    )
    assert result == (local(expected) if expected else None)


def test_the_last_backoff_step_repeats_when_more_attempts_are_allowed() -> None:
    policy = RetryPolicy(max_attempts=5)
    request = Req("any", 4, local("2026-03-20 00:00"))
    at = next_attempt(request, Outcome.CALLER_UNREACHED, local("2026-03-10 10:00"), ALMATY, policy)
    assert at == local("2026-03-10 13:00")  # 3 h, the last step


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        ("any", "2026-03-10 10:00", "2026-03-10 10:00"),  # at once
        ("morning", "2026-03-10 11:59", "2026-03-10 11:59"),
        ("morning", "2026-03-10 12:00", "2026-03-11 09:00"),  # the window closed meanwhile
    ],
)
def test_a_volunteer_declining_moves_to_the_next_volunteer_at_once(
    window: str, now: str, expected: str
) -> None:
    request = req(window, attempts=0, created=now)
    at = next_attempt(request, Outcome.VOLUNTEER_UNAVAILABLE, local(now), ALMATY, POLICY)
    assert at == local(expected)
    assert request.attempts == 0  # nothing used up


def test_all_volunteers_busy_waits_a_little_inside_the_window() -> None:
    request = req("morning", attempts=0, created="2026-03-10 09:00")
    assert next_attempt(
        request, Outcome.ALL_BUSY, local("2026-03-10 10:00"), ALMATY, POLICY
    ) == local("2026-03-10 10:05")
    assert next_attempt(
        request, Outcome.ALL_BUSY, local("2026-03-10 11:58"), ALMATY, POLICY
    ) == local("2026-03-11 09:00")


def test_nothing_is_scheduled_past_the_horizon() -> None:
    request = req("morning", attempts=1, created="2026-03-10 10:00")  # expires 03-13 10:00
    assert next_attempt(
        request, Outcome.CALLER_UNREACHED, local("2026-03-12 11:50"), ALMATY, POLICY
    ) == local("2026-03-13 09:00")
    assert (
        next_attempt(request, Outcome.CALLER_UNREACHED, local("2026-03-13 11:50"), ALMATY, POLICY)
        is None
    )
    assert give_up_status(request, POLICY) == "expired"
    assert give_up_status(Req("any", 3, request.expires_at), POLICY) == "failed"


WEEKDAY_EVENINGS = ShiftSpec(start=18 * 60, end=22 * 60, days=frozenset({"mon", "tue", "wed"}))
SATURDAY_NIGHTS = ShiftSpec(start=22 * 60, end=6 * 60, days=frozenset({"sat"}))


@pytest.mark.parametrize(
    ("window", "now", "shifts", "expected"),
    [
        # Tuesday 10:00, any time: tonight's shift
        ("any", "2026-03-10 10:00", [WEEKDAY_EVENINGS], "2026-03-10 18:00"),
        # evening window 17-21, shift 18-22: 18:00 is inside both
        ("evening", "2026-03-10 10:00", [WEEKDAY_EVENINGS], "2026-03-10 18:00"),
        # morning window, shifts only in the evening: never meets before the horizon
        ("morning", "2026-03-10 10:00", [WEEKDAY_EVENINGS], None),
        # Wednesday 23:00, evening window: Thursday has no shift; next is Monday 18:00... past
        # the 72 h horizon
        ("evening", "2026-03-11 23:00", [WEEKDAY_EVENINGS], None),
        # a night shift that started before the window opens still covers its start
        ("morning", "2026-03-14 12:00", [SATURDAY_NIGHTS], None),
        ("any", "2026-03-14 12:00", [SATURDAY_NIGHTS], "2026-03-14 22:00"),
        # nobody has any shift at all
        ("any", "2026-03-10 10:00", [], None),
    ],
)
def test_nobody_on_shift_waits_for_the_next_shift_start_inside_the_window(
    window: str, now: str, shifts: list[ShiftSpec], expected: str | None
) -> None:
    request = req(window, attempts=0, created=now)
    at = next_attempt(
        request,
        Outcome.NOBODY_ON_SHIFT,
        local(now),
        ALMATY,
        POLICY,
        lambda after: next_shift_start(shifts, after, ALMATY),
    )
    assert at == (local(expected) if expected else None)


def test_a_shift_running_at_window_start_is_used_at_the_window_start() -> None:
    night = ShiftSpec(start=20 * 60, end=10 * 60, days=frozenset({"tue"}))  # Tue 20:00-Wed 10:00
    request = req("morning", attempts=0, created="2026-03-10 12:00")
    at = next_attempt(
        request,
        Outcome.NOBODY_ON_SHIFT,
        local("2026-03-10 12:00"),
        ALMATY,
        POLICY,
        lambda after: next_shift_start([night], after, ALMATY),
    )
    assert at == local("2026-03-11 09:00")


def test_next_shift_start_is_now_when_someone_is_on_shift() -> None:
    now = local("2026-03-10 19:00")
    assert next_shift_start([WEEKDAY_EVENINGS], now, ALMATY) == now


def test_a_fixed_next_shift_start_is_moved_into_the_window() -> None:
    request = req("morning", attempts=0)
    at = next_attempt(
        request,
        Outcome.NOBODY_ON_SHIFT,
        local("2026-03-10 10:00"),
        ALMATY,
        POLICY,
        local("2026-03-10 13:00"),
    )
    assert at == local("2026-03-11 09:00")


def test_the_shipped_config_file_loads_with_the_documented_defaults() -> None:
    config = load_config(ROOT / "config" / "callbacks.yaml")
    assert config.retry == RetryPolicy()
    assert config.caller_id is None
    assert config.neutral_caller_id("+77270000000") == "+77270000000"
    assert config.regions == ("KZ",)


def test_config_errors_name_every_bad_field() -> None:
    with pytest.raises(CallbackConfigError) as error:
        parse_config(
            {
                "retry": {"max_attempts": 0, "backoff_minutes": [15, -1], "typo": 1},
                "caller": {"caller_id": "87011234567"},
                "extra": {},
            },
            "callbacks.yaml",
        )
    message = str(error.value)
    for expected in (
        "retry.max_attempts: 0 is outside 1..10",
        "retry.backoff_minutes",
        "retry.typo: unknown setting",
        "caller.caller_id: expected an E.164 number",
        "extra: unknown section",
    ):
        assert expected in message


def test_a_missing_config_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.yaml").retry.max_attempts == 3


def test_a_policy_without_delays_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(backoff=())
    assert expires_at(local("2026-03-10 10:00"), POLICY) - local("2026-03-10 10:00") == timedelta(
        hours=72
    )
    assert local("2026-03-10 10:00").astimezone(UTC).hour == 5
