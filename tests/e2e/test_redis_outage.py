"""Redis stopped under calls: claims move to the database, and no volunteer rings for two calls.

A private Redis (stopped by the test), PostgreSQL, and a gunicorn of four worker processes, so
four simultaneous callers really are routed in parallel. One volunteer is on a long call taken
while Redis was up; then Redis stops and three rounds of four simultaneous calls come in.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from faults import (
    PrivateRedis,
    TimedCall,
    accept_and_finish,
    always_on_shift_roster,
    create_database,
    dialed,
    drop_database,
    import_roster,
    parse_twiml,
    wait_for,
    walk_to_routing,
    webhook_pool,
)
from sqlalchemy import create_engine, select
from support import AUTH_TOKEN, POSTGRES_ADMIN_URL, config_without_wrap_up, test_env

from hotline.devserver import free_port
from hotline.models import CallRecord, RingAttempt

VOLUNTEERS = [f"+7701555{n:04d}" for n in range(6)]
ROUNDS, CALLS = 3, 4


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, PrivateRedis]]:
    tmp = tmp_path_factory.mktemp("redis_outage")
    redis = PrivateRedis(tmp / "redis")
    redis.start()
    database = create_database(POSTGRES_ADMIN_URL)
    port = free_port()
    env = test_env(
        DATABASE_URL=database,
        REDIS_URL=redis.url,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        HOTLINE_SPOOL_DIR=str(tmp / "spool"),
        HOTLINE_CONFIG_DIR=config_without_wrap_up(tmp),
    )
    try:
        with webhook_pool(env, workers=4, port=port, log_path=tmp / "gunicorn.log") as url:
            import_roster(env, always_on_shift_roster(VOLUNTEERS), tmp)
            yield url, database, redis
    finally:
        redis.stop()
        drop_database(database)


def attempts_of(database: str, sid: str) -> list[str]:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return list(
                connection.scalars(
                    select(RingAttempt.outcome)
                    .join(CallRecord)
                    .where(CallRecord.call_sid == sid)
                    .order_by(RingAttempt.seq)
                )
            )
    finally:
        engine.dispose()


def test_with_redis_stopped_four_calls_at_once_never_ring_a_volunteer_twice(world):
    base_url, database, redis = world
    # A volunteer takes a long call while Redis is up (its claim lives in Redis only).
    long_call = TimedCall(base_url, AUTH_TOKEN, caller="+77015550000")
    long_root = walk_to_routing(long_call)
    (on_the_phone,) = dialed(long_root)
    accept_and_finish(long_call, long_root, talk=False)
    wait_for(lambda: attempts_of(database, long_call.sid) == ["accepted"], "the long call's accept")

    redis.stop()
    double_rings, reached, every_call = 0, 0, [long_call]
    for round_number in range(ROUNDS):
        calls = [TimedCall(base_url, AUTH_TOKEN, caller=f"+7701555{round_number}{i}00")
                 for i in range(CALLS)]  # fmt: skip
        every_call += calls
        roots: list = [None] * CALLS
        barrier = threading.Barrier(CALLS)

        def route(index: int) -> None:
            barrier.wait()
            roots[index] = walk_to_routing(calls[index])

        threads = [threading.Thread(target=route, args=(i,)) for i in range(CALLS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Every call that reached a volunteer keeps them (accepts) until the round ends.
        for call, root in zip(calls, roots, strict=True):
            if dialed(root):
                accept_and_finish(call, root, talk=False)
        rung = Counter(number for root in roots for number in dialed(root))
        double_rings += sum(count - 1 for count in rung.values() if count > 1)
        double_rings += rung[on_the_phone]  # rung while on the long call
        reached += sum(1 for root in roots if dialed(root))
        for call, root in zip(calls, roots, strict=True):
            action = root.find("./Dial").get("action") if dialed(root) else None
            if action:
                done = {"DialCallStatus": "completed", "DialBridged": "true"}
                assert parse_twiml(call.post(action, done)[1]).find("./Hangup") is not None
            call.post("/twilio/status", {"CallStatus": "completed", "CallDuration": "40"})

    print(f"\nRedis down, {ROUNDS} rounds of {CALLS} calls at once: {double_rings} double rings, "
          f"{reached} of {ROUNDS * CALLS} callers reached a volunteer")  # fmt: skip
    assert double_rings == 0
    # Five volunteers are free in each round (one is on the long call): all four callers reach one.
    assert reached == ROUNDS * CALLS
    slowest = max(seconds for call in every_call for _, seconds in call.times)
    assert slowest < 5

    redis.start()
    long_call.post(long_root.find("./Dial").get("action"),
                   {"DialCallStatus": "completed", "DialBridged": "true"})  # fmt: skip
    long_call.post("/twilio/status", {"CallStatus": "completed", "CallDuration": "900"})
