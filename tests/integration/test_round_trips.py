"""What each webhook costs the database: nothing on the request, a few statements per batch after.

A statement counter (SQLAlchemy's before_cursor_execute, on the real engine) notes each statement
and the thread that ran it. The webhooks themselves run none: they queue events (Redis) and the
writer thread applies them in batches, where one call's events and forty calls' events cost the
same statements on PostgreSQL (no second lookup of a record, no lazy load of its attempts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import create_engine, event, select, text
from support import ALWAYS_ON_SHIFT, TwilioWebhooks, new_call_sid
from twiml_helpers import parse

from hotline import db as db_module
from hotline.calllog import journal, spool
from hotline.calllog.journal import Event
from hotline.db import Database
from hotline.models import CallRecord
from hotline.routing.roster_file import parse_roster_text
from hotline.routing.roster_import import import_roster

ROSTER = f"""volunteers:
  - handle: v0
    display_name: V0
    phone: "+77018880001"
    roles: [lawyer]
    topics: [labor]
    languages: [ru]
    shifts:{ALWAYS_ON_SHIFT}"""


class Statements:
    """Every statement run on `engine`, with the thread that ran it."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.seen: list[tuple[int, str]] = []
        event.listen(engine, "before_cursor_execute", self._note)

    def _note(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seen.append((threading.get_ident(), statement.split(None, 1)[0].upper()))

    def on_thread(self, ident: int) -> list[str]:
        return [kind for thread, kind in self.seen if thread == ident]

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


def statements_applying(db: Database, items: list[Event]) -> list[str]:
    counter = Statements(db.engine)
    try:
        with db.session() as session:
            assert journal.apply_many(session, items) == len(items)
    finally:
        counter.close()
    return [kind for _, kind in counter.seen]


def first_webhook(sid: str) -> list[Event]:
    return [
        journal.event("opened", sid, caller_key="k" * 64, key_version=1),
        journal.event("step", sid, visited=["greeting"]),
    ]


def menu_step(sid: str) -> list[Event]:
    return [journal.event("step", sid, visited=["language", "language:2"], language="ru")]


def route_step(sid: str) -> list[Event]:
    return [
        journal.event("routing", sid, language="ru", topic="labor"),
        journal.event("ring", sid, seq=0, volunteer=7),
    ]


def conference_route_step(sid: str) -> list[Event]:
    """The route step when the volunteer is rung through the REST API: their leg is kept."""
    return [*route_step(sid), journal.event("leg", sid, leg=new_call_sid())]


def test_the_webhooks_of_a_call_run_no_statement_while_the_caller_waits(app: Any) -> None:
    with app.extensions["db"].session() as session:
        import_roster(session, parse_roster_text(ROSTER), app.extensions["fernet"])
    app.extensions["snapshot_keeper"].refreshed()  # (a fresh worker loads it in the background)
    twilio = TwilioWebhooks(app.test_client())
    counter = Statements(app.extensions["db"].engine)
    try:
        params = twilio.call_params()
        twilio.post("/twilio/voice", params)
        twilio.post("/twilio/voice/step?node=language&tries=0", params, Digits="2")
        root = parse(twilio.post("/twilio/voice/step?node=topic&lang=ru&tries=0", params,
                                 Digits="3").data)  # fmt: skip
        assert root.find("Redirect") is not None
        answer = parse(twilio.post("/twilio/route?topic=labor&lang=ru", params).data)
        assert answer.find("Dial/Number").text == "+77018880001"
        assert counter.on_thread(threading.get_ident()) == []
    finally:
        counter.close()
    # ...and the writer thread has written the call meanwhile.
    with app.extensions["db"].session() as session:
        record = session.scalar(select(CallRecord).where(CallRecord.call_sid == params["CallSid"]))
        assert record is not None and record.topic == "labor" and len(record.attempts) == 1


@pytest.mark.parametrize(
    ("webhook", "prepare", "expected"),
    [
        # which were applied, the records (none yet); the new records, the applied ids
        (first_webhook, None, ["SELECT", "SELECT", "INSERT", "INSERT"]),
        # which were applied, the records; their update, the applied ids
        (menu_step, first_webhook, ["SELECT", "SELECT", "UPDATE", "INSERT"]),
        # ... and the records' ring attempts, read in one query and added in one
        (route_step, first_webhook, ["SELECT", "SELECT", "SELECT", "UPDATE", "INSERT", "INSERT"]),
        # ... and which of the placed legs are kept already, then the new ones in one insert
        (
            conference_route_step,
            first_webhook,
            ["SELECT", "SELECT", "SELECT", "SELECT", "UPDATE", "INSERT", "INSERT", "INSERT"],
        ),
    ],
)
def test_forty_calls_events_cost_the_statements_of_one(
    database: Database, webhook: Any, prepare: Any, expected: list[str]
) -> None:
    costs = []
    for calls in (1, 40):
        sids = [new_call_sid() for _ in range(calls)]
        if prepare is not None:
            statements_applying(database, [e for sid in sids for e in prepare(sid)])
        costs.append(statements_applying(database, [e for sid in sids for e in webhook(sid)]))
    one, forty = costs
    assert sorted(one) == sorted(expected)
    if database.engine.dialect.name == "postgresql":
        assert sorted(forty) == sorted(expected)
    else:
        # SQLite (a file in this process, no round trips) inserts new rows one at a time; the
        # reads stay the same: no second lookup, no lazy load per record.
        assert forty.count("SELECT") == one.count("SELECT")
        assert len(forty) <= len(expected) + 40


def test_an_event_applied_twice_in_one_batch_writes_once(database: Database) -> None:
    sid = new_call_sid()
    step = menu_step(sid)[0]
    with database.session() as session:
        assert journal.apply_many(session, [*first_webhook(sid), step, step]) == 3
    with database.session() as session:
        assert journal.apply_many(session, [step]) == 0
        record = session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
        assert record is not None
        assert record.ivr_path == ["greeting", "language", "language:2"]


def test_a_write_the_schema_refuses_is_set_aside_not_taken_for_an_outage(sqlite_url: str) -> None:
    # SQLite says "no such table" with an OperationalError, the class its real outages use too
    # (a locked or unreadable file): a migration not run must not hold every later event back.
    database = Database(sqlite_url)
    try:
        with database.engine.begin() as connection:
            connection.execute(text("DROP TABLE twilio_placed_legs"))
        sid = new_call_sid()
        leg = journal.event("leg", sid, leg="CA" + "8" * 32)
        spool._take_dead_letters()
        assert spool.apply_batch(database, [*first_webhook(sid), leg], lambda: None) == 3
        assert [item["id"] for item in spool._take_dead_letters()] == [leg["id"]]
        with database.session() as session:
            record = session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
            assert record is not None and record.ivr_path == ["greeting"]
    finally:
        database.dispose()


def _terminate_other_connections(url: str) -> None:
    admin = create_engine(url)
    with admin.connect() as connection:
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ))  # fmt: skip
        connection.commit()
    admin.dispose()


def test_events_reach_the_database_after_it_closed_the_pooled_connection(
    postgres_database: str,
) -> None:
    database = Database(postgres_database)
    try:
        sid = new_call_sid()
        assert spool.apply_batch(database, first_webhook(sid), lambda: None) == 2
        _terminate_other_connections(postgres_database)  # a database restart, say
        # Used a moment ago, so not pinged: the write fails once and is retried afresh.
        assert spool.apply_batch(database, menu_step(sid), lambda: None) == 1
        with database.session() as session:
            record = session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
            assert record is not None and "language:2" in record.ivr_path
    finally:
        database.dispose()


def test_a_connection_idle_long_enough_is_checked_before_use(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)
    database = Database(postgres_database)
    try:
        with database.session() as session:
            session.execute(text("SELECT 1"))
        _terminate_other_connections(postgres_database)
        # No retry here: the check on checkout found the connection dead and opened another.
        with database.session() as session:
            assert session.execute(text("SELECT 2")).scalar() == 2
    finally:
        database.dispose()


def _written_with_attempt(app: Any, sid: str) -> CallRecord | None:
    with app.extensions["db"].session() as session:
        record = session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
        return record if record is not None and len(record.attempts) == 1 else None


def _wait_until_written(app: Any, sid: str) -> None:
    deadline = time.monotonic() + 60
    while _written_with_attempt(app, sid) is None:
        assert time.monotonic() < deadline, "the call's events were never written"
        time.sleep(0.05)


def test_a_webhook_behind_a_burst_answers_without_waiting_and_its_events_are_written(
    app: Any,
) -> None:
    """A number shown on television: thousands of events queued ahead of this call's. Its route
    step answers at once (it waited for the writer to reach its events, up to 2 s); its record is
    written when the writer gets there."""
    recorder = app.extensions["recorder"]
    redis = app.extensions["redis_gate"].client()
    burst = [item for _ in range(2500) for item in first_webhook(new_call_sid())]
    spool.push(redis, burst)
    sid = new_call_sid()
    started = time.monotonic()
    recorder.record(route_step(sid))
    assert time.monotonic() - started < 0.3
    assert spool.done_count(redis) < len(burst)  # (the writer was still behind)
    _wait_until_written(app, sid)


def test_a_route_step_does_not_wait_for_the_writer_while_redis_holds_its_events(
    app: Any,
) -> None:
    """Another process holds the writer's lease, in the middle of a slow batch: this process
    cannot write. The route step's answer does not wait for it (it waited until the writing was
    seen stalled, 0.75 s); its events are written once the lease is free again."""
    recorder = app.extensions["recorder"]
    redis = app.extensions["redis_gate"].client()
    recorder.settle()
    redis.set(spool.LEASE, "another-process", px=spool.LEASE_MS)
    sid = new_call_sid()
    try:
        started = time.monotonic()
        recorder.record(conference_route_step(sid))
        assert time.monotonic() - started < 0.1
        time.sleep(0.3)
        assert _written_with_attempt(app, sid) is None  # (nothing could write it meanwhile)
    finally:
        redis.delete(spool.LEASE)
    recorder.record(menu_step(new_call_sid()))  # the next webhook wakes this process's writer
    _wait_until_written(app, sid)


def test_new_calls_and_calls_under_way_in_one_batch_are_each_written_as_their_events_say(
    database: Database,
) -> None:
    """New calls still in the menu are written as plain rows, the others through their records:
    both as their events say, and a replay of the batch writes nothing."""
    in_menu, routed, key_late = new_call_sid(), new_call_sid(), new_call_sid()
    batch = [
        *first_webhook(in_menu),
        journal.event("step", key_late, visited=["greeting"]),  # its "opened" comes after
        *first_webhook(routed),
        journal.event("step", in_menu, visited=["language", "language:2"], language="ru"),
        journal.event("opened", key_late, caller_key="q" * 64, key_version=2),
        *route_step(routed),
        journal.event("step", in_menu, visited=["emergency"]),
    ]
    with database.session() as session:
        assert journal.apply_many(session, batch) == len(batch)
    with database.session() as session:
        assert journal.apply_many(session, batch) == 0
    with database.session() as session:
        found = {r.call_sid: r for r in session.scalars(select(CallRecord))}
        assert set(found) == {in_menu, routed, key_late}
        menu = found[in_menu]
        assert menu.ivr_path == ["greeting", "language", "language:2", "emergency"]
        assert (menu.language, menu.outcome) == ("ru", "emergency_info")
        assert (menu.caller_key, menu.caller_key_version) == ("k" * 64, 1)
        assert menu.routed_at is None and menu.attempts == []
        late = found[key_late]
        assert (late.caller_key, late.caller_key_version, late.ivr_path) == (
            "q" * 64,
            2,
            ["greeting"],
        )
        assert late.outcome == "in_menu" and late.started_at is not None
        route = found[routed]
        assert (route.topic, route.outcome, len(route.attempts)) == ("labor", "routing", 1)
        assert route.ivr_path == ["greeting", "routing"]


class _LateArrival(Redis):
    """A real Redis whose client runs `hook` just before the writer gives its lease back: the
    moment another process pushes its events and finds the lease still taken."""

    hook: Any = None

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:  # type: ignore[override]
        if script == spool._RELEASE and self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return super().eval(script, numkeys, *keys_and_args)


def test_events_pushed_while_the_writer_lets_go_of_its_lease_are_written_at_once(
    database: Database, redis_client: Redis
) -> None:
    """Another process's webhook pushes its events after this writer's last read; that process's
    writer finds the lease taken and gives up. They were left until the next wake, up to 1 s,
    while their webhook waited for them."""
    redis = _LateArrival(connection_pool=redis_client.connection_pool)
    late_sid = new_call_sid()

    def another_process_pushes() -> None:
        spool.push(redis_client, route_step(late_sid))
        assert spool.drain_redis(redis_client, _apply(database), "other-process") == 0

    redis.hook = another_process_pushes
    spool.push(redis_client, first_webhook(new_call_sid()))
    written = spool.drain_redis(redis, _apply(database), "this-process")
    assert written == 4
    assert spool.done_count(redis_client) == 4 and redis_client.llen(spool.JOURNAL) == 0
    with database.session() as session:
        record = session.scalar(select(CallRecord).where(CallRecord.call_sid == late_sid))
        assert record is not None and len(record.attempts) == 1


def _apply(database: Database) -> Any:
    return lambda items, keep_alive: spool.apply_batch(database, items, keep_alive)
