"""Callbacks with every process real: gunicorn, `hotline worker`, PostgreSQL, Redis, and Twilio's
REST API played by tests/twilio_fake.py on a local port.

CallbackWorld is what the end-to-end and fault tests share: it starts the web server with the
test environment, imports a roster with `hotline roster import`, starts and kill -9s workers,
walks callers through the IVR consent (hotline.simulate, signed like Twilio), plays Twilio's
side of a callback's legs over HTTP (twilio_fake.CallbackLegs), and reads the database, Redis
and the logs for the privacy scans. Every wait has a deadline: a failure fails, never hangs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from integration.test_callbacks import redis_values
from privacy_scan import contains_number, scan_database, scan_lines
from redis import Redis
from rq import Worker
from rq.job import Job
from rq.registry import FinishedJobRegistry
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload, sessionmaker
from support import AUTH_TOKEN, POSTGRES_ADMIN_URL, REDIS_URL, TwilioWebhooks, test_env
from twilio_fake import CallbackLegs, CreatedCall, FakeTwilio
from twiml_helpers import query

from hotline import queues
from hotline.devserver import free_port, gunicorn_server
from hotline.devtools.room_phones import RoomPhones
from hotline.models import CallbackRequest, CallRecord
from hotline.settings import PROJECT_ROOT, normalize_database_url
from hotline.simulate import Heard, SimulatedCall

HOTLINE = "+77270000000"  # HOTLINE_PHONE_NUMBER in support.test_env


def is_callback(created: CreatedCall) -> bool:
    """A call placed for a callback request (its volunteer leg), by its webhook's URL."""
    return "request" in query(created.params.get("Url", ""))


SWEEP_SECONDS = 10  # config/callbacks.yaml's sweeper.interval_seconds, at its minimum
T = TypeVar("T")
_MASK = "[redacted-number]"

ALWAYS = '[{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}]'


def roster_yaml(phones: list[str], topics: str = "[violence]", languages: str = "[ru]") -> str:
    """A roster of volunteers on shift around the clock, one per phone, in this order."""
    lines = ["volunteers:"]
    for n, phone in enumerate(phones, start=1):
        lines.append(
            f"  - {{handle: v{n}, display_name: V{n}, phone: '{phone}', roles: [psychologist],"
            f" topics: {topics}, languages: {languages}, shifts: {ALWAYS}}}"
        )
    return "\n".join(lines) + "\n"


def wait_until(check: Callable[[], T], what: str, timeout: float = 30.0, every: float = 0.1) -> T:
    """Poll `check` until it returns something truthy (returned); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# --- Twilio's REST API, able to be slow ----------------------------------------------------------


class SlowTwilio(FakeTwilio):
    """FakeTwilio whose Calls.create answers can be held back.

    While `hold()` is in effect, a create is recorded on arrival (Twilio has placed the call) and
    its 201 answer waits until `release()` (or `max_hold` seconds): a worker waiting on Twilio is
    then at a known point of its job when a test kills it.
    """

    def __init__(self, max_hold: float = 8.0) -> None:
        # Below rest_client.REQUEST_TIMEOUT_SECONDS (10 s): the worker must still be waiting.
        self.max_hold = max_hold
        self._gate = threading.Event()
        self._gate.set()
        self.unanswered = 0  # 201s that found the client gone (a killed worker)
        super().__init__()

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def reset(self) -> None:
        with self._lock:
            self.created.clear()
            self.added.clear()
            self.failures.clear()
            self.deleted.clear()
            self.delete_failures.clear()
        self.unanswered = 0
        self.release()

    def _handler(self) -> type:
        base = super()._handler()
        fake = self

        class Handler(base):  # type: ignore[misc, valid-type]
            def _json(self, status: int, body: dict[str, Any]) -> None:
                if status == 201:
                    fake._gate.wait(fake.max_hold)
                try:
                    super()._json(status, body)
                except OSError:  # the worker was killed while it waited
                    fake.unanswered += 1

        return Handler


# --- webhooks over HTTP ---------------------------------------------------------------------------


@dataclass
class HttpAnswer:
    status_code: int
    data: bytes


class HttpClient:
    """The two methods of Flask's test client that support.TwilioWebhooks uses, over real HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def post(self, path: str, data: dict[str, str], headers: dict[str, str]) -> HttpAnswer:
        response = self.http.post(self.base_url + path, data=data, headers=headers, timeout=15)
        return HttpAnswer(response.status_code, response.content)


# --- worker processes -----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Every live descendant of `pid` (RQ's work horse, its scheduler), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _gone(pid: int) -> bool:
    """True when the process no longer runs (exited, or a zombie waiting for its reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in {"Z", "X"}


_PAUSE_AT = Path(__file__).resolve().parent / "pause_at.py"


@dataclass(frozen=True)
class Pause:
    """Where a worker stops for good (tests/pause_at.py): `module:Class.method[:after]`, in a
    call whose arguments mention `match`; it writes its pid to `marker` when it gets there."""

    point: str
    match: str
    marker: Path

    def reached(self, timeout: float = 60.0) -> int:
        """Wait until a process of the worker stopped there; its pid."""
        text = wait_until(
            lambda: self.marker.exists() and self.marker.read_text(),
            f"the pause at {self.point}",
            timeout,
        )
        return int(text)


class WorkerProcess:
    """One `hotline worker` process (RQ worker, with its scheduler process and work horses)."""

    def __init__(
        self, env: dict[str, str], log_path: Path, redis: Redis, pause: Pause | None = None
    ) -> None:
        self.log_path = log_path
        self.redis = redis
        self.pause = pause
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop() or kill9()
        command = [str(Path(sys.executable).parent / "hotline"), "worker"]
        if pause is not None:
            # The same `hotline worker`, with one breakpoint that never resumes (tests/pause_at.py).
            pause.marker.unlink(missing_ok=True)
            command = [sys.executable, str(_PAUSE_AT), pause.point, str(pause.marker), pause.match]
            command.append("worker")
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, never the test's
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the worker has registered with RQ (after loading the app and warming up)."""

        def registered() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited with {self.process.returncode}")
            return any(w.pid == self.pid for w in Worker.all(connection=self.redis))

        wait_until(registered, "the worker to register with RQ", timeout)

    def kill9(self) -> list[int]:
        """kill -9 the worker and every process it started; their pids, once all are gone.

        RQ's work horse runs in a process group of its own (os.setpgrp), so killing the worker's
        group alone would leave it running: each descendant is killed by its id instead.
        """
        pids = [self.pid, *_children(self.pid)]
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_until(lambda: all(_gone(pid) for pid in pids), "the killed processes to go", 10)
        self.log.close()
        return pids

    def stop(self) -> None:
        """A warm shutdown (SIGTERM); kill -9 for whatever of it is still running after 20 s."""
        if self.process.returncode is not None:
            return  # stopped or killed already (its pid may belong to someone else by now)
        pids = [self.pid, *_children(self.pid)]
        self.process.terminate()
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        for pid in pids:
            if not _gone(pid):  # nothing of it may outlive the test
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()


# --- the world ------------------------------------------------------------------------------------


def _config_dir(tmp: Path) -> Path:
    """A copy of config/ with the sweep at its shortest interval (10 s instead of 60 s)."""
    target = tmp / "config"
    shutil.copytree(PROJECT_ROOT / "config", target)
    path = target / "callbacks.yaml"
    original = path.read_text(encoding="utf-8")
    changed = original.replace("  interval_seconds: 60", f"  interval_seconds: {SWEEP_SECONDS}")
    assert changed != original, "config/callbacks.yaml: sweeper.interval_seconds not found"
    path.write_text(changed, encoding="utf-8")
    # Callback scenarios run back to back as if each volunteer reported at once (no wrap-up).
    routing = target / "routing.yaml"
    text = routing.read_text(encoding="utf-8")
    assert "wrap_up_seconds: 120" in text, "config/routing.yaml: wrap_up_seconds not found"
    routing.write_text(text.replace("wrap_up_seconds: 120", "wrap_up_seconds: 0"))
    return target


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (migrated later by `hotline db upgrade`), dropped after."""
    admin_url = normalize_database_url(POSTGRES_ADMIN_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class CallbackWorld:
    """gunicorn, workers, PostgreSQL, Redis and a fake Twilio, wired as in production."""

    def __init__(
        self, base_url: str, env: dict[str, str], tmp: Path, fake: SlowTwilio, redis: Redis
    ) -> None:
        self.base_url = base_url
        self.env = env
        self.tmp = tmp
        self.fake = fake
        self.redis = redis
        self.gunicorn_log = tmp / "gunicorn.log"
        self.engine: Engine = create_engine(normalize_database_url(env["DATABASE_URL"]))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.twilio = TwilioWebhooks(HttpClient(base_url), base_url=base_url, auth_token=AUTH_TOKEN)
        self.workers: list[WorkerProcess] = []

    # -- processes ---------------------------------------------------------------------------

    def hotline(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `hotline` command with the world's environment."""
        return subprocess.run(
            [str(Path(sys.executable).parent / "hotline"), *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def import_roster(self, roster: str) -> None:
        path = self.tmp / "roster.yaml"
        path.write_text(roster, encoding="utf-8")
        self.hotline("roster", "import", str(path))

    def start_worker(self, pause: Pause | None = None) -> WorkerProcess:
        log_path = self.tmp / f"worker-{len(self.workers)}.log"
        worker = WorkerProcess(self.env, log_path, self.redis, pause)
        self.workers.append(worker)
        worker.wait_ready()
        return worker

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()

    def log_lines(self) -> list[str]:
        """Every line gunicorn and the workers wrote so far."""
        paths = [self.gunicorn_log, *(w.log_path for w in self.workers)]
        return [line for path in paths for line in path.read_text(errors="replace").splitlines()]

    # -- the caller's side: the IVR consent ------------------------------------------------------

    def consent(
        self, caller: str, typed: str | None = None, window: str = "1", identify: str = "2"
    ) -> tuple[SimulatedCall, list[Heard]]:
        """A caller in Russian about violence whom nobody answers is offered a callback and
        accepts it: their own number (or `typed`), a window key (1 any time), identify (2 no)."""
        keys = {
            "language": "2",  # Russian
            "topic": "1",  # violence
            "callback_offer": "1",  # a callback, please
            "callback_number": "1" if typed is None else "2",  # my own number, or another
            "callback_enter": typed,
            "callback_window": window,
            "callback_identify": identify,
        }
        asked: list[str] = []
        call = SimulatedCall(self.base_url, AUTH_TOKEN, caller=caller, to=HOTLINE)

        def answer(gather: Heard) -> str | None:
            node = query(gather.attrs.get("action", "")).get("node", "")
            assert node in keys and node not in asked, f"unexpected menu {node} after {asked}"
            asked.append(node)
            return keys[node]

        # Every volunteer rung for the live call lets it ring out (no-answer): those rung through
        # the REST API for the conference (the call waits in <Enqueue> meanwhile), and, with no
        # on_dial, those of a <Dial> (when the conference cannot be had).
        room = RoomPhones(call, self.fake.base_url, answers={"*": "no-answer"})
        room.hold_incoming()
        heard = call.run(answer, on_enqueue=room)
        assert all(e.status == 200 for e in call.exchanges), [
            (urlsplit(e.url).path, e.status) for e in call.exchanges
        ]
        expected = [node for node, key in keys.items() if key is not None]
        assert asked == expected, asked
        return call, heard

    def request_of(self, call: SimulatedCall) -> CallbackRequest:
        """The callback request the call registered."""
        with self.sessions() as session:
            record = session.scalar(select(CallRecord).where(CallRecord.call_sid == call.call_sid))
            assert record is not None and record.outcome == "callback_requested", record
            found = session.scalar(
                select(CallbackRequest).where(CallbackRequest.call_record_id == record.id)
            )
            assert found is not None
            return found

    def row(self, request_id: int) -> CallbackRequest:
        """The request as stored now, with its legs."""
        with self.sessions() as session:
            return self._row(session, request_id)

    @staticmethod
    def _row(session: Session, request_id: int) -> CallbackRequest:
        found = session.scalar(
            select(CallbackRequest)
            .where(CallbackRequest.id == request_id)
            .options(selectinload(CallbackRequest.history))
        )
        assert found is not None
        return found

    # -- Twilio's side: the legs ------------------------------------------------------------------

    def legs(self, created: CreatedCall) -> CallbackLegs:
        """Twilio's side of the call placed by `created`, posting signed webhooks to gunicorn."""
        return CallbackLegs(self.twilio, created)

    def callback_calls(self) -> list[CreatedCall]:
        """The Calls.create requests Twilio received for callbacks (not the volunteers rung for
        a live call's conference)."""
        return [c for c in self.fake.created if is_callback(c)]

    def wait_for_callbacks(self, count: int, timeout: float) -> list[CreatedCall]:
        """Block until `count` callback calls were placed; the list of them."""
        return self.fake.wait_for(count, timeout, where=is_callback)

    def calls_for(self, request_id: int) -> list[CreatedCall]:
        """The Calls.create requests Twilio received for this callback request."""
        return [
            c for c in self.callback_calls() if query(c.params["Url"])["request"] == str(request_id)
        ]

    # -- Redis and RQ ------------------------------------------------------------------------------

    def jobs(self) -> list[Job]:
        """Every RQ job stored in Redis, whatever its state."""
        ids = [
            key.decode().removeprefix("rq:job:")
            for key in self.redis.scan_iter("rq:job:*")
            if key.count(b":") == 2  # not rq:job:<id>:dependents and the like
        ]
        return [job for job in Job.fetch_many(ids, connection=self.redis) if job is not None]

    def _finished(self, queue_name: str) -> list[Job]:
        registry = FinishedJobRegistry(queue_name, connection=self.redis)
        jobs = Job.fetch_many(registry.get_job_ids(), connection=self.redis)
        return [job for job in jobs if job is not None]  # None: expired meanwhile

    def finished_results(self, queue_name: str = queues.CALLBACKS) -> dict[str, Any]:
        """job id -> return value of every finished job of the queue."""
        return {job.id: job.return_value() for job in self._finished(queue_name)}

    def sweeps_finished_since(self, since: float) -> list[str]:
        """Sweep jobs that finished after `since` (a time.time())."""
        return [
            job.id
            for job in self._finished(queues.MAINTENANCE)
            if job.ended_at is not None and job.ended_at.timestamp() > since
        ]

    # -- the privacy scan --------------------------------------------------------------------------

    def places_holding(self, number: str) -> list[str]:
        """Everywhere the number can be found: database columns, Redis keys and values (RQ's job
        data decompressed), job arguments, log lines; [] when it is nowhere."""
        found = [f"db:{hit}" for hit in scan_database(self.engine, number)]
        found += [
            f"redis:{value[:80]!r}"
            for value in redis_values(self.redis)
            if contains_number(value, number)
        ]
        for job in self.jobs():
            exposed = (job.args, job.kwargs, job.description, job.meta)
            if contains_number(exposed, number):
                found.append(f"job:{job.id}")
        found += [f"log:{line}" for line in scan_lines(self.log_lines(), number)]
        return found

    def masked_lines(self) -> list[str]:
        """Log lines where the redacting filter (hotline.logs) masked something: the filter keeps
        SIDs, job ids, times and durations whole, so what it masked may have been a number.

        The scan above reads the logs as written, after that filter; this finds what it hid.
        """
        return [line for line in self.log_lines() if _MASK in line]


def callback_redis_url(db: int) -> str:
    """The test Redis (HOTLINE_TEST_REDIS_URL) on database `db`, for one test module."""
    return urlunsplit(urlsplit(REDIS_URL)._replace(path=f"/{db}"))


@contextmanager
def callback_world(
    tmp: Path, redis_db: int, roster: str, prefix: str, **extra_env: str
) -> Iterator[CallbackWorld]:
    """The world for one test module; everything it started is stopped when the block ends."""
    redis_url = callback_redis_url(redis_db)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    with ExitStack() as stack:
        stack.callback(redis.close)
        stack.callback(redis.flushdb)
        database_url = stack.enter_context(postgres_database(prefix))
        fake = stack.enter_context(SlowTwilio())
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            **test_env(
                DATABASE_URL=database_url,
                REDIS_URL=redis_url,
                PUBLIC_BASE_URL=base_url,
                TWILIO_API_BASE_URL=fake.base_url,
                HOTLINE_CONFIG_DIR=str(_config_dir(tmp)),
                # Every line any process can write is scanned, debug lines included.
                LOG_LEVEL="DEBUG",
                **extra_env,
            ),
            "PYTHONUNBUFFERED": "1",
        }
        stack.enter_context(gunicorn_server(env, port, workers=2, log_path=tmp / "gunicorn.log"))
        world = CallbackWorld(base_url, env, tmp, fake, redis)
        stack.callback(world.engine.dispose)
        stack.callback(world.stop_workers)
        world.import_roster(roster)
        yield world
