"""Volunteer claims on a real Redis: one owner per volunteer, across processes and threads."""

# ruff: noqa: F811  (fixtures imported from _fixtures are used as test parameters)

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest
from _fixtures import connect_redis, routing_redis  # noqa: F401 (fixture)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from redis import Redis

from hotline.routing.claims import (
    claim,
    claim_first_free,
    claim_free,
    claim_key,
    claimed_ids,
    extend,
    force_release,
    release,
)

CALL_A, CALL_B = "CA" + "a" * 32, "CA" + "b" * 32


def test_a_claimed_volunteer_cannot_be_claimed_again(routing_redis: Redis) -> None:
    assert claim(routing_redis, 7, CALL_A, 80)
    assert not claim(routing_redis, 7, CALL_B, 80)
    assert not claim(routing_redis, 7, CALL_A, 80)  # not even by the same call: never ring twice
    assert routing_redis.get(claim_key(7)) == CALL_A.encode()
    assert 0 < routing_redis.ttl(claim_key(7)) <= 80


def test_only_the_owner_releases(routing_redis: Redis) -> None:
    claim(routing_redis, 7, CALL_A, 80)
    assert not release(routing_redis, 7, CALL_B)
    assert claimed_ids(routing_redis, [7]) == {7}
    assert release(routing_redis, 7, CALL_A)
    assert claimed_ids(routing_redis, [7]) == set()
    assert not release(routing_redis, 7, CALL_A)  # twice is harmless
    assert claim(routing_redis, 7, CALL_B, 80)


def test_a_claim_expires_by_itself(routing_redis: Redis) -> None:
    assert claim(routing_redis, 7, CALL_A, 1)
    time.sleep(1.2)
    assert claimed_ids(routing_redis, [7]) == set()
    assert not release(routing_redis, 7, CALL_A)  # the late release does not free someone else's
    assert claim(routing_redis, 7, CALL_B, 80)
    assert not release(routing_redis, 7, CALL_A)
    assert claimed_ids(routing_redis, [7]) == {7}


def test_extend_is_for_the_owner_only(routing_redis: Redis) -> None:
    claim(routing_redis, 7, CALL_A, 80)
    assert not extend(routing_redis, 7, CALL_B, 14460)
    assert routing_redis.ttl(claim_key(7)) <= 80
    assert extend(routing_redis, 7, CALL_A, 14460)
    assert routing_redis.ttl(claim_key(7)) > 14000
    assert not extend(routing_redis, 8, CALL_A, 14460)  # nothing to extend


def test_claim_first_free_takes_the_first_free_in_order(routing_redis: Redis) -> None:
    claim(routing_redis, 3, CALL_B, 80)
    claim(routing_redis, 1, CALL_B, 80)
    assert claim_first_free(routing_redis, [3, 1, 2, 4], CALL_A, 80) == 2
    assert claimed_ids(routing_redis, [1, 2, 3, 4]) == {1, 2, 3}
    assert routing_redis.get(claim_key(2)) == CALL_A.encode()
    assert claim_first_free(routing_redis, [3, 1, 2], CALL_A, 80) is None
    assert claim_first_free(routing_redis, [], CALL_A, 80) is None


def test_a_long_list_is_claimed_in_growing_chunks(routing_redis: Redis) -> None:
    ids = list(range(1, 2001))
    for busy in ids[:1500]:  # past the 16 + 64 + 256 + 256 + ... first chunks
        claim(routing_redis, busy, CALL_B, 80)
    calls: list[int] = []
    original = routing_redis.evalsha

    def counting_evalsha(*args: object) -> object:
        calls.append(int(args[1]) - 1)  # claim keys: the first key is the owner's set
        return original(*args)

    routing_redis.evalsha = counting_evalsha  # type: ignore[method-assign]
    assert claim_first_free(routing_redis, ids, CALL_A, 80) == 1501
    assert calls == [16, 64, 256, 256, 256, 256, 256, 256]  # 1616 keys, 8 round trips
    calls.clear()
    assert claim_free(routing_redis, ids, CALL_A, 80, limit=3) == [1502, 1503, 1504]
    assert claim_free(routing_redis, ids[:3], CALL_A, 80, limit=3) == []
    assert claim_free(routing_redis, ids, CALL_A, 80, limit=0) == []


def test_simultaneous_ringing_claims_several_in_one_call(routing_redis: Redis) -> None:
    claim(routing_redis, 2, CALL_B, 80)
    assert claim_free(routing_redis, [1, 2, 3, 4, 5], CALL_A, 80, limit=3) == [1, 3, 4]
    assert claimed_ids(routing_redis, range(1, 6)) == {1, 2, 3, 4}


def test_claimed_ids_and_force_release(routing_redis: Redis) -> None:
    assert claimed_ids(routing_redis, []) == set()
    claim(routing_redis, 5, CALL_A, 80)
    assert claimed_ids(routing_redis, range(1, 10)) == {5}
    assert force_release(routing_redis, 5)
    assert claimed_ids(routing_redis, range(1, 10)) == set()


def test_the_scripts_survive_a_script_cache_flush(routing_redis: Redis) -> None:
    claim(routing_redis, 1, CALL_A, 80)
    routing_redis.script_flush()
    assert release(routing_redis, 1, CALL_A)
    routing_redis.script_flush()
    assert claim_first_free(routing_redis, [1], CALL_B, 80) == 1


@pytest.mark.parametrize("owner", ["+77011234567", "8 701 123 45 67", "87011234567", ""])
def test_a_phone_number_is_never_an_owner(routing_redis: Redis, owner: str) -> None:
    with pytest.raises(ValueError, match="never a phone number"):
        claim(routing_redis, 1, owner, 80)
    with pytest.raises(ValueError, match="never a phone number"):
        claim_first_free(routing_redis, [1], owner, 80)
    assert routing_redis.dbsize() == 0


@pytest.mark.parametrize("ttl", [0, -5, True])
def test_a_claim_needs_a_positive_lifetime(routing_redis: Redis, ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        claim(routing_redis, 1, CALL_A, ttl)


# --- concurrency ---------------------------------------------------------------------------------

VOLUNTEERS = list(range(1, 6))  # few volunteers, many callers: maximum contention
THREADS_PER_PROCESS = 8
ROUNDS_PER_THREAD = 40


def _ring_and_hang_up(worker: str) -> None:
    """One caller's loop: claim, check nobody else holds the volunteer, hang up, release."""
    redis = connect_redis()
    for round_no in range(ROUNDS_PER_THREAD):
        owner = f"CA-{worker}-{round_no}"
        volunteer = claim_first_free(redis, VOLUNTEERS, owner, ttl_seconds=30)
        while volunteer is None:  # all busy: this caller waits and tries again
            redis.incr("test:all-busy")
            time.sleep(0.0005)
            volunteer = claim_first_free(redis, VOLUNTEERS, owner, ttl_seconds=30)
        redis.incr("test:claims")
        holders = f"test:holders:{volunteer}"
        redis.sadd(holders, owner)
        if redis.scard(holders) != 1 or redis.get(claim_key(volunteer)) != owner.encode():
            redis.rpush("test:double-booked", f"{volunteer}:{owner}")
        time.sleep(0.001)  # the call
        redis.srem(holders, owner)
        if not release(redis, volunteer, owner):
            redis.rpush("test:lost-claim", f"{volunteer}:{owner}")
    redis.close()


def _process(process_no: int) -> None:
    threads = [
        threading.Thread(target=_ring_and_hang_up, args=(f"{process_no}.{n}",))
        for n in range(THREADS_PER_PROCESS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _run_in_two_processes(target: object) -> None:
    # fork: the children inherit the test module, whatever way pytest imported it.
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=target, args=(n,)) for n in range(2)]  # type: ignore[arg-type]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0


def test_two_processes_of_threads_never_share_a_volunteer(routing_redis: Redis) -> None:
    _run_in_two_processes(_process)
    claims = int(routing_redis.get("test:claims") or 0)
    assert claims == 2 * THREADS_PER_PROCESS * ROUNDS_PER_THREAD == 640
    assert int(routing_redis.get("test:all-busy") or 0) > 0  # there was contention
    assert routing_redis.lrange("test:double-booked", 0, -1) == []
    assert routing_redis.lrange("test:lost-claim", 0, -1) == []
    assert claimed_ids(routing_redis, VOLUNTEERS) == set()


CALLERS_PER_THREAD = 15


def _grab_and_hold(process_no: int) -> None:
    def grab(thread_no: int) -> None:
        redis = connect_redis()
        for n in range(CALLERS_PER_THREAD):
            owner = f"CA-{process_no}.{thread_no}.{n}-{os.getpid()}"
            volunteer = claim_first_free(redis, list(range(1, 101)), owner, ttl_seconds=60)
            if volunteer is not None:
                redis.rpush("test:won", f"{volunteer}={owner}")
        redis.close()

    threads = [threading.Thread(target=grab, args=(n,)) for n in range(THREADS_PER_PROCESS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_240_callers_racing_for_100_volunteers_get_100_distinct_ones(routing_redis: Redis) -> None:
    _run_in_two_processes(_grab_and_hold)
    won = [entry.decode().split("=") for entry in routing_redis.lrange("test:won", 0, -1)]
    assert 2 * THREADS_PER_PROCESS * CALLERS_PER_THREAD == 240
    assert len(won) == 100
    assert {int(volunteer) for volunteer, _ in won} == set(range(1, 101))
    for volunteer, owner in won:
        assert routing_redis.get(claim_key(int(volunteer))) == owner.encode()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    volunteers=st.integers(min_value=1, max_value=12),
    callers=st.integers(min_value=1, max_value=30),
    busy=st.sets(st.integers(min_value=1, max_value=12), max_size=6),
)
def test_concurrent_callers_each_get_a_different_free_volunteer(
    volunteers: int, callers: int, busy: set[int]
) -> None:
    redis = connect_redis()
    redis.flushdb()
    ids = list(range(1, volunteers + 1))
    for volunteer in busy:
        claim(redis, volunteer, "CA-busy", 60)
    results: list[int | None] = []
    lock = threading.Lock()

    def call(n: int) -> None:
        client = connect_redis()
        got = claim_first_free(client, ids, f"CA-{n}", 60)
        with lock:
            results.append(got)
        client.close()

    threads = [threading.Thread(target=call, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [volunteer for volunteer in results if volunteer is not None]
    free = [volunteer for volunteer in ids if volunteer not in busy]
    assert len(won) == len(set(won)) == min(len(free), callers)
    assert set(won) <= set(free)
    redis.flushdb()
    redis.close()


class ClaimsMachine(RuleBasedStateMachine):
    """Random claim / release / extend sequences agree with a dictionary model of who holds whom."""

    def __init__(self) -> None:
        super().__init__()
        self.redis = connect_redis()
        self.redis.flushdb()
        self.holder: dict[int, str] = {}

    volunteer = st.integers(min_value=1, max_value=5)
    owner = st.sampled_from(["CA1", "CA2", "CA3", "callback:9"])

    @rule(volunteer=volunteer, owner=owner)
    def claim_one(self, volunteer: int, owner: str) -> None:
        expected = volunteer not in self.holder
        assert claim(self.redis, volunteer, owner, 60) is expected
        self.holder.setdefault(volunteer, owner)

    @rule(order=st.permutations([1, 2, 3, 4, 5]), owner=owner)
    def claim_first(self, order: list[int], owner: str) -> None:
        expected = next((v for v in order if v not in self.holder), None)
        assert claim_first_free(self.redis, order, owner, 60) == expected
        if expected is not None:
            self.holder[expected] = owner

    @rule(volunteer=volunteer, owner=owner)
    def release_one(self, volunteer: int, owner: str) -> None:
        expected = self.holder.get(volunteer) == owner
        assert release(self.redis, volunteer, owner) is expected
        if expected:
            del self.holder[volunteer]

    @rule(volunteer=volunteer, owner=owner)
    def extend_one(self, volunteer: int, owner: str) -> None:
        assert extend(self.redis, volunteer, owner, 120) is (self.holder.get(volunteer) == owner)

    @invariant()
    def redis_agrees_with_the_model(self) -> None:
        assert claimed_ids(self.redis, range(1, 6)) == set(self.holder)
        for volunteer, owner in self.holder.items():
            assert self.redis.get(claim_key(volunteer)) == owner.encode()

    def teardown(self) -> None:
        self.redis.flushdb()
        self.redis.close()


ClaimsMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
test_claims_follow_the_model = ClaimsMachine.TestCase
