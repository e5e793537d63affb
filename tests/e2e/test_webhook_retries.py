"""Twilio's retries, played for real: the same signed request sent five times at once, to a
gunicorn of four worker processes (so the copies are answered by different processes), on
PostgreSQL and Redis. Each copy gets the same answer, and what it does happens once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from faults import (
    TimedCall,
    always_on_shift_roster,
    create_database,
    dialed,
    drop_database,
    import_roster,
    parse_twiml,
    wait_for,
    walk_to_routing,
)
from redis import Redis
from sqlalchemy import create_engine, select
from support import AUTH_TOKEN, POSTGRES_ADMIN_URL, redis_test_url, test_env

from hotline.models import CallRecord, RingAttempt
from hotline.routing.claims import KEY_PREFIX

COPIES = 5
VOLUNTEERS = [f"+7701444{n:04d}" for n in range(10)]
REDIS_DB = 9  # this module's own database on the test Redis


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Redis]]:
    from faults import webhook_pool

    tmp = tmp_path_factory.mktemp("retries")
    database = create_database(POSTGRES_ADMIN_URL)
    redis_url = redis_test_url().rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    env = test_env(DATABASE_URL=database, REDIS_URL=redis_url, HOTLINE_SPOOL_DIR=str(tmp))
    port_env = dict(env)
    from hotline.devserver import free_port

    port = free_port()
    port_env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    try:
        with webhook_pool(port_env, workers=4, port=port, log_path=tmp / "gunicorn.log") as url:
            import_roster(port_env, always_on_shift_roster(VOLUNTEERS), tmp)
            yield url, database, redis
    finally:
        redis.flushdb()
        drop_database(database)


def at_once(send, copies: int = COPIES) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """Call send() from `copies` threads released together; their results."""
    barrier = threading.Barrier(copies)
    results: list[tuple[int, str] | None] = [None] * copies

    def one(index: int) -> None:
        barrier.wait()
        results[index] = send()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def record(database: str, sid: str) -> tuple[CallRecord, list[RingAttempt]] | None:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(CallRecord.__table__).where(CallRecord.call_sid == sid)
            ).first()
            if row is None:
                return None
            attempts = connection.execute(
                select(RingAttempt.__table__)
                .where(RingAttempt.call_id == row.id)
                .order_by(RingAttempt.seq)
            ).all()
            return row, attempts
    finally:
        engine.dispose()


def claimed_by(redis: Redis, sid: str) -> list[bytes]:
    return [k for k in redis.scan_iter(f"{KEY_PREFIX}*") if redis.get(k) == f"call:{sid}".encode()]


def menus(call: TimedCall):  # type: ignore[no-untyped-def]
    """The greeting and the two menus (Russian, labor): the TwiML that redirects to routing."""
    root = parse_twiml(call.post("/twilio/voice")[1])
    for key in ("2", "3"):
        root = parse_twiml(call.post(root.find("./Gather").get("action"), {"Digits": key})[1])
    return root


@pytest.mark.parametrize("token", ["with Twilio's idempotency token", "replayed by a proxy"])
def test_the_same_route_request_five_times_at_once_rings_one_volunteer(hotline, token):
    base_url, database, redis = hotline
    call = TimedCall(base_url, AUTH_TOKEN)
    route_url = menus(call).find("./Redirect").text
    header = uuid.uuid4().hex if token.startswith("with") else None

    answers = at_once(lambda: call.post(route_url, token=header))

    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1  # the same answer to every copy
    rung = {number for _, body in answers for number in dialed(parse_twiml(body))}
    assert len(rung) == 1 and rung <= set(VOLUNTEERS)
    assert len(claimed_by(redis, call.sid)) == 1  # one volunteer held, not three
    found = wait_for(lambda: record(database, call.sid), "the call's record")
    _row, attempts = found
    assert len(attempts) == 1
    # The volunteers who were not rung are still free for the next caller.
    other = TimedCall(base_url, AUTH_TOKEN, caller="+77015550777")
    assert dialed(walk_to_routing(other)) and dialed(walk_to_routing(other)) != list(rung)


def test_one_no_answer_dial_result_five_times_rings_one_next_volunteer(hotline):
    base_url, database, redis = hotline
    call = TimedCall(base_url, AUTH_TOKEN)
    first = walk_to_routing(call)
    (first_number,) = dialed(first)
    action = first.find("./Dial").get("action")
    token = uuid.uuid4().hex

    answers = at_once(lambda: call.post(action, {"DialCallStatus": "no-answer"}, token=token))

    assert len({body for _, body in answers}) == 1
    (next_number,) = {n for _, body in answers for n in dialed(parse_twiml(body))}
    assert next_number != first_number
    assert len(claimed_by(redis, call.sid)) == 1  # the next one only; the first was freed

    def two_attempts():  # type: ignore[no-untyped-def]
        found = record(database, call.sid)
        return found if found and len(found[1]) >= 2 else None

    _row, attempts = wait_for(two_attempts, "both ring attempts")
    assert [a.outcome for a in attempts] == ["no_answer", "ringing"]


def test_the_first_webhook_five_times_records_the_ivr_path_once(hotline):
    base_url, database, _redis = hotline
    call = TimedCall(base_url, AUTH_TOKEN)
    token = uuid.uuid4().hex

    answers = at_once(lambda: call.post("/twilio/voice", token=token))

    assert len({body for _, body in answers}) == 1
    single = TimedCall(base_url, AUTH_TOKEN)
    single.post("/twilio/voice")
    once = wait_for(lambda: record(database, single.sid), "a single call's record")[0]
    repeated = wait_for(lambda: record(database, call.sid), "the repeated call's record")[0]
    assert repeated.ivr_path == once.ivr_path and len(once.ivr_path) >= 1
    assert repeated.caller_key == once.caller_key


def test_a_menu_key_sent_five_times_at_once_is_recorded_once(hotline):
    # Menu steps are answered without a lease (their answer is computed again): the events
    # carry ids made from the request, so the copies queue and write them once.
    base_url, database, _redis = hotline
    call = TimedCall(base_url, AUTH_TOKEN)
    root = parse_twiml(call.post("/twilio/voice")[1])
    action = root.find("./Gather").get("action")
    token = uuid.uuid4().hex

    answers = at_once(lambda: call.post(action, {"Digits": "2"}, token=token))

    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1
    call.post(parse_twiml(answers[0][1]).find("./Gather").get("action"), {"Digits": "3"})

    def both_keys():  # type: ignore[no-untyped-def]
        found = record(database, call.sid)
        return found if found and any(e.endswith(":3") for e in found[0].ivr_path) else None

    row, _attempts = wait_for(both_keys, "the topic key in the IVR path")
    assert sum(1 for e in row.ivr_path if e.endswith(":2")) == 1


def test_a_volunteer_pressing_1_twice_and_a_repeated_status_change_nothing_more(hotline):
    base_url, database, redis = hotline
    call = TimedCall(base_url, AUTH_TOKEN)
    root = walk_to_routing(call)
    leg = call.leg_params()
    whisper = parse_twiml(call.post(root.find("./Dial/Number").get("url"), params=leg)[1])
    answer_url = whisper.find("./Gather").get("action")
    token = uuid.uuid4().hex
    accepted = at_once(lambda: call.post(answer_url, {"Digits": "1"}, params=leg, token=token))
    assert len({body for _, body in accepted}) == 1
    status_token = uuid.uuid4().hex
    form = {"CallStatus": "completed", "CallDuration": "61"}
    statuses = at_once(lambda: call.post("/twilio/status", form, token=status_token))
    assert {status for status, _ in statuses} == {200}
    assert claimed_by(redis, call.sid) == []  # the call ended: its volunteer is free

    def finished():  # type: ignore[no-untyped-def]
        found = record(database, call.sid)
        return found if found and found[0].ended_at else None

    row, attempts = wait_for(finished, "the final status")
    assert row.duration_seconds == 61 and row.answered_by_id is not None
    assert [a.outcome for a in attempts] == ["accepted"]
    assert row.ivr_path.count("routing") == 1


def test_a_new_request_is_not_mistaken_for_a_repeat(hotline):
    # Pressing 9 (repeat the menu) twice sends two identical forms; Twilio's token tells them apart.
    base_url, database, _redis = hotline
    call = TimedCall(base_url, AUTH_TOKEN)
    root = parse_twiml(call.post("/twilio/voice")[1])
    root = parse_twiml(call.post(root.find("./Gather").get("action"), {"Digits": "2"})[1])
    action = root.find("./Gather").get("action")  # the topic menu, where 9 repeats it
    call.post(action, {"Digits": "9"}, token=uuid.uuid4().hex)
    call.post(action, {"Digits": "9"}, token=uuid.uuid4().hex)

    def two_repeats():  # type: ignore[no-untyped-def]
        found = record(database, call.sid)
        if found and sum(1 for e in found[0].ivr_path if e.endswith(":9")) == 2:
            return found
        return None

    wait_for(two_repeats, "both key presses in the IVR path")
