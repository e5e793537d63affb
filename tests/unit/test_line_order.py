"""The waiting line's order and matching: longest-waiting first, one offer per caller, by topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.routing import line
from hotline.routing.line import LineSettings, WaitingCaller
from hotline.routing.policy import RoutingPolicyError, load_policy, parse_policy

T0 = datetime(2026, 6, 5, 22, 0, tzinfo=UTC)
CONFIG = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"


def caller(sid: str, seconds_ago: int, topic: str = "violence", language: str = "ru", **kw):
    return WaitingCaller(sid, topic, language, T0 - timedelta(seconds=seconds_ago), **kw)


def test_the_line_is_longest_waiting_first_whatever_order_redis_returns():
    callers = [caller("CAb", 10), caller("CAa", 90), caller("CAc", 40)]
    assert [c.call_sid for c in line.in_order(callers)] == ["CAa", "CAc", "CAb"]


def test_equal_join_times_are_ordered_the_same_way_in_every_process():
    callers = [caller("CAz", 5), caller("CAy", 5)]
    assert [c.call_sid for c in line.in_order(callers)] == ["CAy", "CAz"]


def test_the_place_in_line_counts_only_callers_who_need_the_same_topic():
    callers = [caller("CA1", 90, "labor"), caller("CA2", 60), caller("CA3", 30)]
    assert line.position(callers, "CA2") == 1  # the labor caller ahead waits for a lawyer
    assert line.position(callers, "CA3") == 2
    assert line.position(callers, "CA1") == 1
    assert line.position(callers, "CAgone") is None


def test_a_free_volunteer_is_offered_the_longest_waiting_caller_they_fit():
    callers = [caller("CAen", 120, language="en"), caller("CAru1", 60), caller("CAru2", 30)]
    speaks_ru = lambda c: c.language == "ru"  # noqa: E731
    assert line.first_fit(callers, speaks_ru).call_sid == "CAru1"


def test_a_caller_already_being_offered_is_not_offered_to_a_second_volunteer():
    callers = [caller("CA1", 90, offered_to=7), caller("CA2", 30)]
    assert line.first_fit(callers, lambda c: True).call_sid == "CA2"
    assert [c.call_sid for c in line.waiting_to_offer(callers)] == ["CA2"]


def test_nobody_fits_means_no_offer():
    assert line.first_fit([caller("CA1", 10, "labor")], lambda c: c.topic == "violence") is None


def test_the_wait_times_out_at_the_maximum_unless_a_volunteer_is_being_rung():
    settings = LineSettings(max_wait_seconds=180)
    assert not line.timed_out(caller("CA1", 179), T0, settings)
    assert line.timed_out(caller("CA1", 180), T0, settings)
    assert not line.timed_out(caller("CA1", 400, offered_to=3), T0, settings)


def test_the_shipped_routing_file_has_a_quiet_three_minute_line():
    settings = load_policy(CONFIG).line
    assert settings.enabled and settings.max_wait_seconds == 180
    assert 30 <= settings.message_interval_seconds <= 45
    assert settings.hold_music_url is None  # music can be heard in the room


def test_line_settings_default_when_the_file_has_none():
    assert parse_policy({}).line == LineSettings()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_wait_seconds": 2}, "line.max_wait_seconds: 2 is outside 5..1800"),
        ({"message_interval_seconds": "35"}, "line.message_interval_seconds: expected a whole"),
        ({"hold_music_url": "http://x/m.mp3"}, "line.hold_music_url: expected an https://"),
        ({"enabled": "yes"}, "line.enabled: expected true or false"),
        ({"musik": 1}, "line.musik: unknown setting"),
        ("on", "line: expected a mapping"),
    ],
)
def test_bad_line_settings_stop_start_up_with_the_field_named(raw, message):
    with pytest.raises(RoutingPolicyError, match=message.replace(".", r"\.")):
        parse_policy({"line": raw})


def test_a_direct_caller_being_connected_takes_no_place_in_line_from_those_behind():
    callers = [caller("CAd", 20, offered_to=7, direct=True), caller("CAw", 10)]
    assert callers[0].connecting() and not callers[1].connecting()
    assert line.position(callers, "CAw") == 1  # not behind a call that is being put through
    given_back = caller("CAd", 20, tried=(7,), direct=True)  # nobody free took them: they wait
    assert not given_back.connecting()
    assert line.position([given_back, callers[1]], "CAw") == 2


def test_only_a_direct_callers_ring_list_runs_out():
    direct = caller("CAd", 20, tried=(7, 8), direct=True)
    assert line.exhausted(direct, fitting=0, attempts_left=1)  # everyone who fits was tried
    assert line.exhausted(direct, fitting=2, attempts_left=0)  # the policy's attempts are spent
    assert not line.exhausted(direct, fitting=2, attempts_left=1)
    waiting = caller("CAw", 20, tried=(7, 8))
    assert not line.exhausted(waiting, fitting=0, attempts_left=0)  # waits for its maximum
