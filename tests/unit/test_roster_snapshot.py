"""The in-memory roster snapshot picks exactly as the routing policy does, from its indexes."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.routing.policy import (
    DAYS,
    LANGUAGES,
    ROLES,
    TOPICS,
    Candidate,
    RoutingPolicy,
    ShiftSpec,
    pick_volunteers,
)
from hotline.routing.snapshot import RosterEntry, RosterSnapshot
from hotline.routing.snapshot_keeper import dumps, loads

TZ = ZoneInfo("Asia/Almaty")
NOW = datetime(2026, 6, 3, 10, 30, tzinfo=UTC)


def roster(seed: int, size: int) -> list[RosterEntry]:
    rng = random.Random(seed)
    entries = []
    for volunteer_id in range(1, size + 1):
        start = rng.randrange(0, 24) * 60
        shift = ShiftSpec(
            start=start,
            end=(start + rng.choice([4, 8, 12]) * 60) % 1440 or 1440,
            days=frozenset(rng.sample(DAYS, rng.randint(1, 7))),
        )
        ended = None if rng.random() < 0.3 else NOW - timedelta(minutes=rng.randrange(1, 5000))
        candidate = Candidate(
            id=volunteer_id,
            roles=frozenset(rng.sample(ROLES, rng.randint(1, 2))),
            topics=frozenset(rng.sample(TOPICS, rng.randint(1, 3))),
            languages=frozenset(rng.sample(LANGUAGES, rng.randint(1, 2))),
            shifts=(shift,),
            last_call_ended_at=ended,
            available=rng.random() > 0.1,
        )
        entries.append(RosterEntry(candidate, f"token-{volunteer_id}", "ru"))
    return entries


@pytest.mark.parametrize("seed", range(5))
def test_the_snapshot_orders_volunteers_exactly_as_pick_volunteers(seed):
    entries = roster(seed, 400)
    snapshot = RosterSnapshot(entries, NOW)
    policy = RoutingPolicy()
    candidates = [entry.candidate for entry in entries]
    for topic in TOPICS:
        for language in LANGUAGES:
            expected = [
                c.id for c in pick_volunteers(candidates, topic, language, NOW, policy, tz=TZ)
            ]
            assert snapshot.ordered(topic, language, NOW, policy, TZ) == expected
            tried = expected[:2]
            assert snapshot.ordered(topic, language, NOW, policy, TZ, exclude=tried) == expected[2:]


@pytest.mark.parametrize("seed", range(4))
def test_the_indexed_pick_stays_equal_to_pick_volunteers_as_calls_end_and_minutes_pass(seed):
    rng = random.Random(seed)
    entries = roster(seed, 600)
    snapshot = RosterSnapshot(entries, NOW)
    policy = RoutingPolicy(fallback_language=rng.choice(["ru", None]))
    ended = {entry.candidate.id: entry.candidate.last_call_ended_at for entry in entries}
    moment = NOW
    for _ in range(30):
        moment += timedelta(minutes=rng.choice([0, 0, 1, 7, 180]))
        for topic in TOPICS:
            for language in (*LANGUAGES, None):
                candidates = [replace(e.candidate, last_call_ended_at=ended[e.candidate.id])
                              for e in entries]  # fmt: skip
                expected = [c.id for c in pick_volunteers(candidates, topic, language, moment,
                                                          policy, tz=TZ)]  # fmt: skip
                assert snapshot.ordered(topic, language, moment, policy, TZ) == expected
                tried = expected[:3]
                assert (
                    snapshot.ordered(topic, language, moment, policy, TZ, exclude=tried)
                    == (expected[3:])
                )
        # A few calls end (among them volunteers already in the cached lists).
        for volunteer_id in rng.sample(sorted(ended), 5):
            at = moment + timedelta(seconds=rng.randrange(0, 30))
            previous = ended[volunteer_id]
            ended[volunteer_id] = at if previous is None else max(previous, at)
            snapshot.call_ended(volunteer_id, at)


def test_a_volunteer_whose_call_just_ended_goes_to_the_back_of_the_line():
    always = ShiftSpec(start=0, end=1440, days=frozenset(DAYS))
    entries = [
        RosterEntry(
            Candidate(id=i, roles=frozenset({"lawyer"}), topics=frozenset({"labor"}),
                      languages=frozenset({"ru"}), shifts=(always,)),
            f"token-{i}", "ru",
        )
        for i in (1, 2, 3)
    ]  # fmt: skip
    snapshot = RosterSnapshot(entries, NOW)
    policy = RoutingPolicy()
    assert snapshot.ordered("labor", "ru", NOW, policy, TZ) == [1, 2, 3]
    snapshot.call_ended(1, NOW)
    assert snapshot.ordered("labor", "ru", NOW, policy, TZ) == [2, 3, 1]
    snapshot.call_ended(2, NOW + timedelta(seconds=5))
    assert snapshot.ordered("labor", "ru", NOW, policy, TZ) == [3, 1, 2]


def test_the_next_minute_sees_shifts_that_start_then():
    local = NOW.astimezone(TZ)
    starts = local.hour * 60 + local.minute + 1  # one minute from now, hotline time
    shift = ShiftSpec(start=starts, end=starts + 60, days=frozenset(DAYS))
    candidate = Candidate(
        id=1,
        roles=frozenset({"lawyer"}),
        topics=frozenset({"labor"}),
        languages=frozenset({"ru"}),
        shifts=(shift,),
    )
    snapshot = RosterSnapshot([RosterEntry(candidate, "token", "ru")], NOW)
    policy = RoutingPolicy()
    assert snapshot.ordered("labor", "ru", NOW, policy, TZ) == []
    assert snapshot.ordered("labor", "ru", NOW + timedelta(minutes=1), policy, TZ) == [1]


def test_the_copy_kept_in_redis_reads_back_the_same_roster_with_numbers_still_encrypted():
    snapshot = RosterSnapshot(roster(3, 30), NOW)
    copy = loads(dumps(snapshot))
    policy = RoutingPolicy()
    for topic in TOPICS:
        assert copy.ordered(topic, "kk", NOW, policy, TZ) == snapshot.ordered(
            topic, "kk", NOW, policy, TZ
        )
    assert copy.entry(5).phone_encrypted == "token-5"  # what the copy holds: the ciphertext
