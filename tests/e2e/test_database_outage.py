"""PostgreSQL stopped for half a minute under calls: nothing is lost, and callers still reach
on-shift volunteers. A private PostgreSQL (stopped and started by the test), Redis, gunicorn."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from faults import (
    PrivatePostgres,
    TimedCall,
    accept_and_finish,
    always_on_shift_roster,
    dialed,
    import_roster,
    parse_twiml,
    wait_for,
    walk_to_routing,
    webhook_pool,
)
from redis import Redis
from sqlalchemy import create_engine, select
from support import AUTH_TOKEN, config_without_wrap_up, redis_test_url, test_env

from hotline.calllog.spool import JOURNAL
from hotline.devserver import free_port
from hotline.models import CallRecord, RingAttempt

VOLUNTEERS = [f"+7701666{n:04d}" for n in range(4)]
REDIS_DB = 8  # this module's own database on the test Redis
OUTAGE_SECONDS = 30


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, PrivatePostgres, Redis]]:
    tmp = tmp_path_factory.mktemp("db_outage")
    postgres = PrivatePostgres()
    postgres.start()
    database = postgres.create_database()
    redis_url = redis_test_url().rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    port = free_port()
    env = test_env(
        DATABASE_URL=database,
        REDIS_URL=redis_url,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        HOTLINE_SPOOL_DIR=str(tmp / "spool"),
        HOTLINE_CONFIG_DIR=config_without_wrap_up(tmp),
    )
    try:
        with webhook_pool(env, workers=2, port=port, log_path=tmp / "gunicorn.log") as url:
            import_roster(env, always_on_shift_roster(VOLUNTEERS), tmp)
            yield url, database, postgres, redis
    finally:
        redis.flushdb()
        postgres.remove()


def records(database: str) -> dict[str, tuple[CallRecord, list[RingAttempt]]]:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(CallRecord.__table__)).all()
            attempts = connection.execute(
                select(RingAttempt.__table__).order_by(RingAttempt.seq)
            ).all()
    finally:
        engine.dispose()
    by_call: dict[int, list] = {}
    for attempt in attempts:
        by_call.setdefault(attempt.call_id, []).append(attempt)
    return {row.call_sid: (row, by_call.get(row.id, [])) for row in rows}


def test_with_postgresql_stopped_calls_reach_volunteers_and_every_record_arrives(world):
    base_url, database, postgres, redis = world
    # Before the outage: a call connects (the roster snapshot is loaded by then), and a
    # conversation that will still be going on when the database stops.
    warm = TimedCall(base_url, AUTH_TOKEN, caller="+77016660001")
    accept_and_finish(warm, walk_to_routing(warm))
    talking = TimedCall(base_url, AUTH_TOKEN, caller="+77016660002")
    talking_root = walk_to_routing(talking)
    assert dialed(talking_root)
    accept_and_finish(talking, talking_root, talk=False)

    time.sleep(3)  # every worker has noticed the imported roster (within a second or so)
    postgres.stop()
    stopped_at = time.monotonic()
    # The conversation ends during the outage: the caller hears a goodbye, not "nobody can answer".
    _, after_talk = talking.post(
        talking_root.find("./Dial").get("action"),
        {"DialCallStatus": "completed", "DialBridged": "true", "DialCallDuration": "120"},
    )
    assert parse_twiml(after_talk).find("./Hangup") is not None
    assert "Say" not in after_talk
    talking.post("/twilio/status", {"CallStatus": "completed", "CallDuration": "150"})

    during: list[TimedCall] = []
    while time.monotonic() - stopped_at < OUTAGE_SECONDS - 8:
        call = TimedCall(base_url, AUTH_TOKEN, caller=f"+770166601{len(during):02d}")
        root = walk_to_routing(call)
        assert dialed(root), "a caller during the outage reached nobody"
        last = accept_and_finish(call, root)
        assert parse_twiml(last).find("./Hangup") is not None
        during.append(call)
    # One more call starts during the outage and ends after it.
    spanning = TimedCall(base_url, AUTH_TOKEN, caller="+77016660003")
    spanning_root = walk_to_routing(spanning)
    assert dialed(spanning_root)
    while time.monotonic() - stopped_at < OUTAGE_SECONDS:
        time.sleep(0.5)
    postgres.start()
    accept_and_finish(spanning, spanning_root)

    calls = [warm, talking, *during, spanning]
    print(f"\nPostgreSQL down {OUTAGE_SECONDS} s: {len(during) + 1} calls started during it, all "
          f"reached a volunteer")  # fmt: skip
    wait_for(lambda: redis.llen(JOURNAL) == 0, "the queued events to reach the database", 60)
    found = records(database)
    lost = [call.sid for call in calls if call.sid not in found]
    assert lost == []
    for call in calls:
        row, attempts = found[call.sid]
        assert row.twilio_status == "completed" and row.ended_at is not None, call.sid
        assert row.outcome == "connected" and row.answered_by_id is not None
        assert [a.outcome for a in attempts] == ["accepted"]
        assert row.ivr_path[:1] == ["greeting"] and "routing" in row.ivr_path
    assert found[talking.sid][0].duration_seconds == 150
    assert len(during) >= 3
    slowest = max(seconds for call in calls for _, seconds in call.times)
    print(f"{len(calls)} calls, {len(found)} records, 0 lost; slowest webhook {slowest:.2f} s")
    assert slowest < 5
