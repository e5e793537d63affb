"""Callbacks end to end below the IVR: real Redis, RQ SimpleWorker, SQLite and PostgreSQL, and a
fake Twilio on a local port driving the legs' webhooks.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import zlib
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import TwilioWebhooks, redis_test_url, test_env
from privacy_scan import contains_number, scan_database, scan_lines
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from support import ALWAYS_ON_SHIFT
from twilio_fake import CallbackLegs, FakeTwilio
from twiml_helpers import all_speech, ends_call, played, query

from hotline import create_app, queues
from hotline.callbacks import attempts, service
from hotline.models import CallbackAttempt, CallbackRequest, Volunteer
from hotline.models.base import utcnow
from hotline.routing import claims, wrap_up
from hotline.routing.roster_file import parse_roster_text
from hotline.routing.roster_import import import_roster
from hotline.settings import Settings
from hotline.telephony import callback_calls
from workers.callbacks import schedule_sweep

SURVIVOR = "+77017654321"
HOTLINE = "+77270000000"
ROSTER = f"""
volunteers:
  - handle: dana
    display_name: Dana
    phone: "+77011110001"
    roles: [psychologist]
    topics: [violence, trafficking]
    languages: [ru, kk]
    shifts:{ALWAYS_ON_SHIFT}
  - handle: erlan
    display_name: Erlan
    phone: "+77011110002"
    roles: [lawyer]
    topics: [violence, trafficking, labor]
    languages: [ru]
    shifts:{ALWAYS_ON_SHIFT}
"""
DANA, ERLAN = "+77011110001", "+77011110002"


# --- fixtures ------------------------------------------------------------------------------------


# Its own database: these tests flush it, and other suites' runs flush theirs.
CALLBACKS_REDIS_URL = urlunsplit(urlsplit(redis_test_url())._replace(path="/12"))


@pytest.fixture
def cb_redis():
    """A real Redis on database 12, flushed before and after the test."""
    client = Redis.from_url(CALLBACKS_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def cb_app(database_url: str, cb_redis: Redis, fake_twilio: FakeTwilio):
    settings = Settings.from_env(
        test_env(
            DATABASE_URL=database_url,
            REDIS_URL=CALLBACKS_REDIS_URL,
            TWILIO_API_BASE_URL=fake_twilio.base_url,
        )
    )
    app = create_app(settings)
    if "twilio_callback" not in app.blueprints:  # until webhooks.init_app registers it
        callback_calls.init_app(app)
    app.config["TESTING"] = True
    with app.app_context():
        with app.extensions["db"].session() as session:
            import_roster(session, parse_roster_text(ROSTER), app.extensions["fernet"])
        yield app
    app.extensions["db"].dispose()


class Hotline:
    """The callback side of the hotline, as a test uses it."""

    def __init__(self, app: Any, redis: Redis, fake: FakeTwilio) -> None:
        self.app = app
        self.redis = redis
        self.fake = fake
        self.rt = callback_calls.runtime()
        self.twilio = TwilioWebhooks(app.test_client())

    def request(self, number: str = SURVIVOR, queue: Queue | None = None, **overrides: Any):
        fields = {
            "number_e164": number,
            "topic": "violence",
            "language": "ru",
            "window": "any",
            "identify": False,
            "call_record_id": None,
        }
        fields.update(overrides)
        with self.rt.sessions() as session:
            return service.request_callback(
                session,
                self.rt.fernet,
                self.rt.queue if queue is None else queue,
                now=utcnow(),
                tz=self.rt.tz,
                policy=self.rt.config.retry,
                **fields,
            )

    def work(self) -> None:
        """Run every job that is due, in this process, like `hotline worker --burst`."""
        worker = SimpleWorker(
            [Queue(name, connection=self.redis) for name in queues.ALL], connection=self.redis
        )
        worker.work(burst=True, with_scheduler=False)

    def sweep(self, queue: Queue | None = None) -> service.SweepReport:
        with self.rt.sessions() as session:
            return service.sweep(
                session,
                self.rt.queue if queue is None else queue,
                utcnow(),
                config=self.rt.config,
                tz=self.rt.tz,
                redis=self.redis,
            )

    def row(self, request_id: int) -> CallbackRequest:
        with self.rt.sessions() as session:
            row = session.get(CallbackRequest, request_id)
            assert row is not None
            row.history  # noqa: B018 - load the legs before the session closes
            return row

    def report(self, request_id: int) -> None:
        """The volunteer of the request's last leg submits its outcome report: wrap-up ends."""
        leg = self.row(request_id).history[-1]
        assert leg.volunteer_id is not None
        wrap_up.finish(self.redis, leg.volunteer_id, wrap_up.callback_owner(leg.id))

    def legs(self, index: int = -1) -> CallbackLegs:
        return CallbackLegs(self.twilio, self.fake.created[index])


@pytest.fixture
def hotline(cb_app, cb_redis: Redis, fake_twilio: FakeTwilio) -> Hotline:
    return Hotline(cb_app, cb_redis, fake_twilio)


class RawLines(logging.Handler):
    """Every log line as written, before the app's redacting filter masks digit runs: the test
    proves the code never logs a number, not merely that the filter would hide it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")


@pytest.fixture
def raw_logs(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    handler = RawLines()
    root = logging.getLogger()
    root.handlers.insert(0, handler)  # first: it sees each record before any filter rewrites it
    yield handler.lines
    root.removeHandler(handler)


def redis_values(client: Redis) -> list[bytes]:
    """Every key and value in the test database, RQ's compressed job data decompressed."""
    found: list[bytes] = []
    for key in client.scan_iter():
        found.append(key)
        kind = client.type(key)
        if kind == b"string":
            found.append(client.get(key) or b"")
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                found += [field, value]
                with contextlib.suppress(zlib.error):
                    found.append(zlib.decompress(value))
        elif kind == b"list":
            found += client.lrange(key, 0, -1)
        elif kind == b"set":
            found += list(client.smembers(key))
        elif kind == b"zset":
            found += client.zrange(key, 0, -1)
        elif kind == b"stream":
            for _id, entry in client.xrange(key):
                for field, value in entry.items():
                    found += [field, value]
    return found


# --- commit, then enqueue -----------------------------------------------------------------------


def test_consent_commits_the_row_before_the_job_is_enqueued(hotline: Hotline) -> None:
    seen_at_enqueue: list[str] = []

    class WatchingQueue(Queue):
        def enqueue(self, f, *args, **kwargs):  # type: ignore[no-untyped-def]
            # Another connection must already see the row: it was committed first.
            with hotline.rt.sessions() as other:
                row = other.get(CallbackRequest, args[0])
                seen_at_enqueue.append(row.status if row else "missing")
            return super().enqueue(f, *args, **kwargs)

    queue = WatchingQueue(queues.CALLBACKS, connection=hotline.redis)
    request = hotline.request(queue=queue)
    assert seen_at_enqueue == ["pending"]
    job = Job.fetch(service.job_id(request), connection=hotline.redis)
    assert job.args == (request.id,) and job.kwargs == {}  # ids only, never a number
    row = hotline.row(request.id)
    assert row.number_ciphertext and row.number_last_digits == "21"
    assert hotline.rt.fernet.decrypt(row.number_ciphertext.encode()).decode() == SURVIVOR


def test_redis_down_at_consent_still_commits_and_the_sweeper_enqueues_later(
    hotline: Hotline,
) -> None:
    dead = Queue(queues.CALLBACKS, connection=Redis(port=1, socket_connect_timeout=0.2))
    request = hotline.request(queue=dead)  # no exception reaches the IVR
    assert hotline.row(request.id).status == "pending"
    assert not Job.exists(service.job_id(request), connection=hotline.redis)

    report = hotline.sweep()
    assert report.enqueued == 1
    hotline.work()
    assert [c.params["To"] for c in hotline.fake.created] == [DANA]


def test_after_flushall_every_pending_request_is_enqueued_again_and_rung_exactly_once(
    hotline: Hotline,
) -> None:
    ids = [hotline.request(number=f"+7701765432{n}").id for n in range(3)]
    hotline.redis.flushdb()  # Redis lost everything (FLUSHALL, scoped to the test database)
    assert hotline.sweep().enqueued == 3
    assert hotline.sweep().enqueued == 0  # a second sweeper finds the jobs already there
    hotline.work()
    # Two volunteers: two requests ring now, the third waits for one of them to be free.
    for index in range(2):
        hotline.legs(index).full_call()
        hotline.report(ids[index])  # or the wrap-up time passes: both are free again
    third = hotline.row(ids[2])
    assert third.status == "pending"
    attempts.run_attempt(hotline.rt, ids[2], now=third.next_attempt_at)
    hotline.legs(2).full_call()
    hotline.sweep()
    hotline.work()
    rung = [query(c.params["Url"])["request"] for c in hotline.fake.created]
    assert sorted(int(r) for r in rung) == ids  # each request exactly once
    assert {hotline.row(i).status for i in ids} == {"completed"}


# --- exactly one call per state ---------------------------------------------------------------


def test_running_the_job_twice_makes_one_call(hotline: Hotline) -> None:
    request = hotline.request()
    assert attempts.run_attempt(hotline.rt, request.id) is attempts.Result.DIALING
    assert attempts.run_attempt(hotline.rt, request.id) is attempts.Result.NOT_PENDING
    hotline.work()  # the enqueued job: a third delivery of the same state
    assert len(hotline.fake.created) == 1


def test_two_workers_racing_on_one_request_make_one_call(hotline: Hotline) -> None:
    request = hotline.request()
    barrier = threading.Barrier(4)
    results: list[attempts.Result] = []

    def run() -> None:
        barrier.wait()
        results.append(attempts.run_attempt(hotline.rt, request.id))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(attempts.Result.DIALING) == 1, results
    assert len(hotline.fake.created) == 1
    assert len(hotline.row(request.id).history) == 1


def test_a_worker_finding_everyone_claimed_leaves_the_request_to_the_worker_dialing_it(
    hotline: Hotline,
) -> None:
    # The moment between another worker's claim and its commit: that worker holds a volunteer for
    # this request, the other volunteer is on a live call. Rescheduling here would win the version
    # check against the worker about to dial, and nobody would ring.
    request = hotline.request()
    with hotline.rt.sessions() as session:
        volunteer_ids = sorted(session.scalars(select(Volunteer.id)))
    first, *others = volunteer_ids
    assert claims.claim_first_free(hotline.redis, [first], f"callback:{request.id}", 60) == first
    for other in others:
        assert claims.claim(hotline.redis, other, "CAlivecall", 60)
    version = hotline.row(request.id).version
    assert attempts.run_attempt(hotline.rt, request.id) is attempts.Result.LOST_RACE
    row = hotline.row(request.id)
    assert (row.status, row.version, row.attempts) == ("pending", version, 0)
    assert hotline.fake.created == []


@pytest.mark.parametrize("how", ["cancelled", "completed"])
def test_a_job_for_an_ended_request_does_nothing(hotline: Hotline, how: str) -> None:
    request = hotline.request()
    if how == "cancelled":
        with hotline.rt.sessions() as session:
            assert service.cancel(session, request.id, by="supervisor:aliya")
    else:
        hotline.work()
        hotline.legs().full_call()
        # The same state's job delivered again (at-least-once):
        hotline.rt.queue.enqueue(service.ATTEMPT_JOB, request.id, job_id="callback-again")
    calls_before = len(hotline.fake.created)
    hotline.work()
    assert len(hotline.fake.created) == calls_before
    row = hotline.row(request.id)
    assert row.status == how and row.number_ciphertext is None


# --- the legs ------------------------------------------------------------------------------------


def test_a_callback_rings_the_volunteer_first_then_the_survivor_and_destroys_the_number(
    hotline: Hotline, raw_logs: list[str]
) -> None:
    request = hotline.request()
    hotline.work()
    (created,) = hotline.fake.created
    assert created.params["To"] == DANA  # a Russian-speaking psychologist, for violence
    assert created.params["From"] == HOTLINE
    assert created.params["MachineDetection"] == "Enable"
    assert f"request={request.id}" in created.params["Url"]
    assert not contains_number(created.params, SURVIVOR)  # the survivor's number stays home
    dana = hotline.row(request.id).volunteer_id
    assert hotline.redis.get(claims.claim_key(dana)) == f"callback:{request.id}".encode()

    legs = hotline.legs()
    whisper = legs.volunteer_answers("human")
    heard = all_speech(whisper)
    assert "насилие" in heard and "по-русски" in heard
    assert "не называйте горячую линию" in heard  # identify: no
    assert whisper.find("./Gather").get("numDigits") == "1"

    dial = legs.volunteer_presses("1").find("./Dial")
    assert dial.get("callerId") == HOTLINE
    assert dial.get("answerOnBridge") == "true"
    number = dial.find("./Number")
    assert number.text == SURVIVOR and number.get("machineDetection") == "Enable"

    bridged = legs.caller_answers("human")
    assert len(bridged) == 0  # an empty document bridges the two legs
    row = hotline.row(request.id)
    assert row.status == "completed" and row.number_ciphertext is None
    assert ends_call(legs.dial_ends("completed", bridged=True))
    legs.volunteer_leg_ends("completed")
    # The volunteer's claim passed to their wrap-up time (routing.yaml: wrap_up_seconds).
    leg_id = hotline.row(request.id).history[-1].id
    assert hotline.redis.get(claims.claim_key(dana)) == f"wrapup:callback-leg-{leg_id}".encode()
    assert 0 < hotline.redis.ttl(claims.claim_key(dana)) <= 120

    # The survivor's number is nowhere: database, Redis (jobs included), logs.
    assert scan_database(hotline.rt.sessions.kw["bind"], SURVIVOR) == []
    assert [v for v in redis_values(hotline.redis) if contains_number(v, SURVIVOR)] == []
    assert len(raw_logs) > 20  # the worker, the client, the webhooks all logged
    assert scan_lines(raw_logs, SURVIVOR) == []


def test_after_a_connected_callback_the_volunteer_wraps_up_and_the_next_one_is_rung(
    hotline: Hotline,
) -> None:
    first = hotline.request()
    hotline.work()
    dana = hotline.row(first.id).volunteer_id
    hotline.legs().full_call()
    assert hotline.redis.get(claims.claim_key(dana)).startswith(b"wrapup:")  # type: ignore[union-attr]
    second = hotline.request()
    hotline.work()
    assert hotline.row(second.id).volunteer_id not in (None, dana)
    assert hotline.fake.created[-1].params["To"] != DANA
    # The report is in: Dana is free at once, before the wrap-up time is over.
    wrap_up.finish(
        hotline.redis, dana, wrap_up.callback_owner(hotline.row(first.id).history[-1].id)
    )
    assert hotline.redis.get(claims.claim_key(dana)) is None


def test_identify_yes_lets_the_volunteer_say_who_is_calling(hotline: Hotline) -> None:
    hotline.request(identify=True, language="kk")
    hotline.work()
    answer = hotline.legs().volunteer_answers()
    # Dana speaks Kazakh: she hears the Kazakh audio of every piece, no Russian voice.
    assert all_speech(answer) == ""
    assert played(answer) == [
        f"/ivr-audio/audio/kk/callback_prompts.{piece}.mp3"
        for piece in ("intro", "topic_violence", "language_kk", "identify_yes", "press_one")
    ]


@pytest.mark.parametrize(("answered_by", "digits"), [("machine_start", None), ("human", "2")])
def test_a_volunteer_voicemail_or_decline_rings_the_next_volunteer_at_once(
    hotline: Hotline, answered_by: str, digits: str | None
) -> None:
    request = hotline.request()
    hotline.work()
    dana = hotline.row(request.id).volunteer_id
    legs = hotline.legs()
    root = legs.volunteer_answers(answered_by)
    if digits is None:
        assert ends_call(root) and root.find("./Say") is None  # nothing said to a voicemail
    else:
        assert "Спасибо" in all_speech(legs.volunteer_presses(digits))
    hotline.work()
    assert [c.params["To"] for c in hotline.fake.created] == [DANA, ERLAN]
    row = hotline.row(request.id)
    assert row.attempts == 0 and row.status == "dialing"  # no attempt used up
    assert hotline.redis.get(claims.claim_key(dana)) is None


def test_a_survivor_voicemail_is_hung_up_on_and_tried_again_later(hotline: Hotline) -> None:
    request = hotline.request()
    hotline.work()
    legs = hotline.legs()
    legs.volunteer_answers()
    legs.volunteer_presses("1")
    assert ends_call(legs.caller_answers("machine_end_beep"))  # no message, ever
    row = hotline.row(request.id)
    assert row.status == "pending" and row.attempts == 1
    assert row.number_ciphertext is not None
    wait = row.next_attempt_at - utcnow()
    assert timedelta(minutes=14) < wait <= timedelta(minutes=15)
    assert "не ответил" in all_speech(legs.dial_ends("completed", bridged=False))
    legs.volunteer_leg_ends("completed")
    assert hotline.row(request.id).attempts == 1  # the later reports changed nothing


def test_three_unanswered_tries_fail_the_request_and_destroy_the_number(hotline: Hotline) -> None:
    request = hotline.request()
    for n in range(3):
        row = hotline.row(request.id)
        result = attempts.run_attempt(hotline.rt, request.id, now=row.next_attempt_at)
        assert result is attempts.Result.DIALING
        legs = hotline.legs()
        legs.volunteer_answers()
        legs.volunteer_presses("1")
        legs.dial_ends("no-answer" if n % 2 else "busy", bridged=False)
        legs.volunteer_leg_ends("completed")
        hotline.redis.flushdb()  # forget claims: the test moves time, not the clock
    row = hotline.row(request.id)
    assert row.status == "failed" and row.attempts == 3
    assert row.number_ciphertext is None and row.ended_at is not None


def test_a_twilio_error_is_kept_as_a_code_and_logged_with_its_message_without_the_number(
    hotline: Hotline, raw_logs: list[str]
) -> None:
    hotline.fake.fail_next(400, 21215)
    request = hotline.request()
    hotline.work()
    row = hotline.row(request.id)
    assert row.status == "pending" and row.last_error == "dial:twilio:21215"
    assert row.history[0].outcome == "volunteer_failed"
    # The operator reads what Twilio said; the number it quoted is masked before any logging.
    (line,) = [line for line in raw_logs if "volunteer leg not placed" in line]
    assert "(twilio:21215: " in line and "The 'To' number [redacted-number] is not allowed" in line
    assert scan_lines(raw_logs, DANA) == []
    assert [v for v in redis_values(hotline.redis) if contains_number(v, DANA)] == []


def test_a_cancelled_request_is_not_connected_even_mid_whisper(hotline: Hotline) -> None:
    request = hotline.request()
    hotline.work()
    assert attempts.cancel_request(hotline.rt, request.id, by="supervisor:aliya")
    assert hotline.fake.created[0].updates == [{"Status": "completed"}]  # the ringing leg hung up
    root = hotline.legs().volunteer_answers()  # had it been answered anyway
    assert ends_call(root) and "не актуальна" in all_speech(root)
    row = hotline.row(request.id)
    assert row.status == "cancelled" and row.number_ciphertext is None
    assert row.cancelled_by == "supervisor:aliya"


def test_callback_webhooks_refuse_unsigned_requests(hotline: Hotline) -> None:
    request = hotline.request()
    hotline.work()
    url = hotline.fake.created[0].params["Url"].replace("https://hotline.example.org", "")
    response = hotline.twilio.post(url, {"CallSid": "CA" + "0" * 32}, signed=False)
    assert response.status_code == 403
    assert hotline.row(request.id).history[0].outcome == "ringing"


# --- the sweeper ---------------------------------------------------------------------------------


def test_the_sweeper_settles_a_leg_whose_webhooks_never_came(hotline: Hotline) -> None:
    request = hotline.request()
    hotline.work()
    with hotline.rt.sessions() as session:
        row = session.get(CallbackRequest, request.id)
        row.lease_until = utcnow() - timedelta(seconds=1)
        session.commit()
    report = hotline.sweep()
    assert report.lost_legs == 1
    row = hotline.row(request.id)
    assert row.history[0].outcome == "lost" and row.attempts == 0
    hotline.work()
    assert [c.params["To"] for c in hotline.fake.created] == [DANA, ERLAN]


def test_the_sweeper_expires_old_requests_and_erases_their_number(hotline: Hotline) -> None:
    request = hotline.request(window="morning")
    with hotline.rt.sessions() as session:
        row = session.get(CallbackRequest, request.id)
        row.expires_at = utcnow() - timedelta(minutes=1)
        session.commit()
    assert hotline.sweep().expired == 1
    row = hotline.row(request.id)
    assert row.status == "expired" and row.number_ciphertext is None


def test_nobody_on_shift_waits_for_the_next_shift(hotline: Hotline) -> None:
    with hotline.rt.sessions() as session:
        from hotline.models import Shift

        for shift in session.scalars(select(Shift)):
            shift.days = None
            shift.on_date = (utcnow() + timedelta(days=2)).astimezone(hotline.rt.tz).date()
            shift.start_minute, shift.end_minute = 10 * 60, 11 * 60
        session.commit()
    request = hotline.request()
    assert attempts.run_attempt(hotline.rt, request.id) is attempts.Result.RESCHEDULED
    row = hotline.row(request.id)
    local = row.next_attempt_at.astimezone(hotline.rt.tz)
    assert (local.hour, local.minute) == (10, 0)
    assert hotline.fake.created == []


def test_the_sweep_is_scheduled_once_per_slot_however_many_workers_ask(hotline: Hotline) -> None:
    first = schedule_sweep(hotline.redis, 60)
    second = schedule_sweep(hotline.redis, 60)
    assert first == second
    registry = ScheduledJobRegistry(queues.MAINTENANCE, connection=hotline.redis)
    assert registry.get_job_ids() == [first]


def test_legs_are_recorded_without_numbers(hotline: Hotline) -> None:
    request = hotline.request()
    hotline.work()
    hotline.legs().full_call()
    with hotline.rt.sessions() as session:
        (leg,) = session.scalars(select(CallbackAttempt)).all()
        assert leg.request_id == request.id and leg.outcome == "caller_connected"
        assert leg.volunteer_call_sid == hotline.fake.created[0].sid
        assert leg.accepted_at is not None and leg.ended_at is not None
