"""Callbacks: how many one worker dispatches per minute, and how soon the volunteer's phone rings.

Twilio is Stoplight Prism serving Twilio's own OpenAPI spec (so every Calls.create is also
contract-checked), behind a small recording proxy that notes when each Calls.create arrives: that
instant is "the volunteer's phone starts ringing".

1. Throughput: M requests are committed and enqueued, then one `hotline worker --burst` process
   (RQ's forking Worker, as in production) dispatches them; rate = calls arriving per minute.
   Baselines in the same run: the same work in-process (RQ SimpleWorker, no fork per job), and
   bare Calls.create requests through the same client, proxy and Prism (the ceiling).
2. Latency: with a `hotline worker` process listening, K consents one after another; the time
   from just before request_callback() (commit + enqueue) to the Calls.create arriving.
   Baseline: a bare Calls.create round trip.

    .venv/bin/python bench/callbacks_throughput.py [--requests 200] [--latency-samples 100]
        [--database-url URL] [--redis-url redis://127.0.0.1:6379/11]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from prism import running_prism  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue, SimpleWorker, Worker  # noqa: E402

ACCOUNT = "AC" + "3" * 32
HOTLINE = "+77270000000"
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Recorder:
    """A proxy in front of Prism: notes when each Calls.create arrives, then forwards it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.arrivals: dict[str, float] = {}  # request id (from the Url) -> perf_counter
        self.times: list[float] = []
        self.statuses: list[int] = []
        self.arrived = threading.Condition()
        self.session = requests.Session()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait(self, key: str, timeout: float = 30.0) -> float:
        with self.arrived:
            if not self.arrived.wait_for(lambda: key in self.arrivals, timeout):
                raise TimeoutError(f"no Calls.create for request {key}")
            return self.arrivals[key]

    def reset(self) -> None:
        with self.arrived:
            self.arrivals.clear()
            self.times.clear()
            self.statuses.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                arrived = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = parse_qs(body.decode())
                key = parse_qs(urlsplit(form.get("Url", [""])[0]).query).get("request", ["?"])[0]
                upstream = recorder.session.post(
                    recorder.upstream + self.path,
                    data=body,
                    headers={
                        "Content-Type": self.headers.get("Content-Type", ""),
                        "Authorization": self.headers.get("Authorization", ""),
                    },
                )
                with recorder.arrived:
                    recorder.arrivals[key] = arrived
                    recorder.times.append(arrived)
                    recorder.statuses.append(upstream.status_code)
                    recorder.arrived.notify_all()
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

        return Handler


def environment(database_url: str, redis_url: str, api_base: str, key: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": "bench-auth-token-0123456789",
        "HOTLINE_PHONE_NUMBER": HOTLINE,
        "PUBLIC_BASE_URL": "https://hotline.example.org",
        "SECRET_KEY": "bench-secret-key-0123456789",
        "PSEUDONYM_KEY": "bench-pseudonym-key-0123456789",
        "CALLBACK_ENCRYPTION_KEYS": key,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TWILIO_API_BASE_URL": api_base,
        "LOG_LEVEL": "WARNING",
    }


def add_volunteers(app: Any, count: int) -> None:
    from hotline.crypto import encrypt
    from hotline.models import Shift, Volunteer

    fernet = app.extensions["fernet"]
    with app.extensions["db"].session() as session:
        for n in range(count):
            phone = f"+770100{n:05d}"
            volunteer = Volunteer(
                handle=f"v{n}",
                display_name=f"Volunteer {n}",
                phone_encrypted=encrypt(fernet, phone),
                phone_last_digits=phone[-2:],
                roles=["psychologist"],
                topics=["violence", "trafficking", "labor"],
                languages=["ru", "kk"],
            )
            volunteer.shifts.append(Shift(days=ALL_DAYS, start_minute=0, end_minute=1440))
            session.add(volunteer)


def consent(app: Any, n: int) -> int:
    """One caller consents: the request is committed, then enqueued (what the IVR will call)."""
    from hotline.callbacks import service
    from hotline.models.base import utcnow
    from hotline.telephony.callback_calls import runtime

    rt = runtime()
    with rt.sessions() as session:
        request = service.request_callback(
            session,
            rt.fernet,
            rt.queue,
            number_e164=f"+7702{n:07d}",
            topic="violence",
            language="ru",
            window="any",
            identify=False,
            call_record_id=None,
            now=utcnow(),
            tz=rt.tz,
            policy=rt.config.retry,
        )
    return request.id


# workers/runner.py with SweepingWorker in place of Worker: what `hotline worker` runs once the
# runner adopts it (warm-up before forking, the sweep's clock).
SWEEPING_WORKER = """
import sys
from rq import Queue
from hotline import create_app
from hotline.redis_conn import connect
from hotline.settings import Settings
from hotline import queues
from workers.callbacks import SweepingWorker
settings = Settings.from_env()
app = create_app(settings)
connection = connect(settings.redis_url, socket_timeout=None)
with app.app_context():
    queues_ = [Queue(name, connection=connection) for name in queues.ALL]
    SweepingWorker(queues_, connection=connection).work(
        with_scheduler=True, burst=sys.argv[1] == "burst"
    )
"""


@contextmanager
def worker_process(
    env: dict[str, str], log: Path, burst: bool, sweeping: bool = True
) -> Iterator[subprocess.Popen]:
    """A worker process: `hotline worker` as it is today, or with SweepingWorker."""
    if sweeping:
        python = str(ROOT / ".venv" / "bin" / "python")
        command = [python, "-c", SWEEPING_WORKER, "burst" if burst else "forever"]
    else:
        command = [str(ROOT / ".venv" / "bin" / "hotline"), "worker", *(["--burst"] * burst)]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=out)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def rate_per_minute(times: list[float]) -> float:
    return (len(times) - 1) / (max(times) - min(times)) * 60 if len(times) > 1 else 0.0


def bare_calls(recorder: Recorder, count: int) -> list[float]:
    """Calls.create through our client, proxy and Prism, nothing else: the floor / ceiling."""
    from hotline.telephony.callback_calls import runtime

    calls = runtime().calls
    took = []
    for n in range(count):
        started = time.perf_counter()
        calls.call_volunteer(
            to="+77010000001",
            url=f"https://hotline.example.org/twilio/callback/volunteer?request=bare{n}&attempt=1",
            status_callback="https://hotline.example.org/twilio/callback/volunteer-status",
            timeout=25,
        )
        took.append(time.perf_counter() - started)
    return took


def run_phase(recorder: Recorder, redis: Redis, count: int, work: Callable[[], None]) -> float:
    redis.flushdb()  # free every claim: each request gets its own volunteer
    recorder.reset()
    app_consent = [consent(APP, n) for n in range(count)]
    work()
    for request_id in app_consent:
        recorder.wait(str(request_id))
    bad = [s for s in recorder.statuses if s >= 300]
    if bad:
        raise SystemExit(f"Prism refused {len(bad)} Calls.create requests (status {bad[0]})")
    return rate_per_minute(recorder.times)


APP: Any = None


def main() -> None:
    global APP
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()

    from hotline import create_app, queues
    from hotline.db import make_engine
    from hotline.models import Base
    from hotline.settings import Settings, normalize_database_url

    with tempfile.TemporaryDirectory() as tmp, running_prism(Path(tmp) / "prism.log") as prism:
        recorder = Recorder(prism)
        database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(normalize_database_url(database_url))
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        engine.dispose()
        env = environment(
            database_url, args.redis_url, recorder.url, Fernet.generate_key().decode()
        )
        APP = create_app(Settings.from_env(env))
        redis = Redis.from_url(args.redis_url)
        volunteers = max(args.requests, args.latency_samples)
        log = Path(tmp) / "worker.log"
        with APP.app_context():
            add_volunteers(APP, volunteers)
            bare = bare_calls(recorder, 50)
            bare_rate = 60 / statistics.mean(bare)

            def forking_worker(sweeping: bool) -> Callable[[], None]:
                def work() -> None:
                    with worker_process(env, log, burst=True, sweeping=sweeping) as process:
                        process.wait(timeout=600)

                return work

            def simple_worker() -> None:
                worker = SimpleWorker(
                    [Queue(name, connection=redis) for name in queues.ALL], connection=redis
                )
                worker.work(burst=True, with_scheduler=False, logging_level="WARNING")

            plain = run_phase(recorder, redis, args.requests, forking_worker(False))
            forked = run_phase(recorder, redis, args.requests, forking_worker(True))
            simple = run_phase(recorder, redis, args.requests, simple_worker)

            redis.flushdb()
            recorder.reset()
            latencies = []
            with worker_process(env, log, burst=False):
                deadline = time.monotonic() + 60
                while not Worker.all(connection=redis):
                    if time.monotonic() > deadline:
                        raise SystemExit("the worker did not start")
                    time.sleep(0.1)
                for n in range(args.latency_samples):
                    started = time.perf_counter()
                    request_id = consent(APP, 100000 + n)
                    latencies.append(recorder.wait(str(request_id)) - started)
                    time.sleep(0.05)
        APP.extensions["db"].dispose()
        redis.flushdb()

    ms = [x * 1000 for x in latencies]
    bare_ms = [x * 1000 for x in bare]
    db = "SQLite (file)" if not args.database_url else "the given database"
    print(f"{db}; {volunteers} volunteers on shift; Twilio = Prism behind a recording proxy")
    print(f"dispatch by one worker process, {args.requests} requests due at once:")
    print(f"  SweepingWorker (fork per job, warmed up):  {forked:6.0f} callbacks/min")
    print(f"  plain RQ Worker (no warm-up):               {plain:6.0f} callbacks/min")
    print(f"  baseline, in-process SimpleWorker:         {simple:6.0f} callbacks/min")
    print(f"  ceiling, bare Calls.create to Prism:       {bare_rate:6.0f} calls/min")
    print(f"consent -> volunteer's phone ringing, SweepingWorker ({len(ms)} samples):")
    print(f"  median {statistics.median(ms):6.1f} ms, p99 {percentile(ms, 99):6.1f} ms")
    print(
        f"  baseline, bare Calls.create round trip: median {statistics.median(bare_ms):.1f} ms,"
        f" p99 {percentile(bare_ms, 99):.1f} ms"
        f" (ratio of medians {statistics.median(ms) / statistics.median(bare_ms):.1f}x)"
    )


if __name__ == "__main__":
    main()
