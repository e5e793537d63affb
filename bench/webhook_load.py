"""The webhooks under load, side by side with bare Flask and Flask + validator, in one run.

wrk (Debian's /usr/bin/wrk) drives gunicorn (2 workers, threaded as in the Procfile) with
pre-signed POSTs, a new CallSid on every request (signatures computed here beforehand, sent by
bench/webhook_load.lua). Measured, each `--runs` times, medians printed:
- req/s and p50/p99 at `--connections` (20) for: bare Flask returning constant TwiML, Flask +
  twilio's RequestValidator + VoiceResponse (bench/baseline_apps.py), the first webhook
  (/twilio/voice), a menu step, and the route step with 100 and 10,000 volunteers, on SQLite and
  on PostgreSQL; ratios to bare Flask of the same run;
- the route step with one client at 10, 100, 1,000 and 10,000 volunteers (PostgreSQL);
- RSS (and PSS: what a worker does not share with its siblings) per worker, and the time a fresh
  interpreter takes to import and build the webhook app.

The route step takes the path a call takes when a volunteer is free: it claims the volunteer, rings
them through Twilio's REST API and answers <Enqueue> (the conference). The REST API is the local
stand-in (hotline.devtools.twilio_api.LocalTwilio, in this process, TWILIO_API_BASE_URL), so that
request is really made; its notes say how many answers were the <Enqueue> and how many the <Dial>
fallback (which would mean the REST ring failed).

    .venv/bin/python bench/webhook_load.py [--runs 3] [--duration 8] [--sizes 100,10000]
        [--latency-sizes 10,100,1000,10000] [--backends sqlite,postgresql]
        [--only menu,route] [--skip-load | --skip-latency]

Redis: HOTLINE_BENCH_REDIS_URL, else HOTLINE_TEST_REDIS_URL (database 13; the claims and journal
keys it makes are deleted). PostgreSQL: throwaway databases made from HOTLINE_TEST_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

import ivr_step  # noqa: E402  (bench/, for its throwaway databases)
from cryptography.fernet import Fernet  # noqa: E402
from redis import Redis  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from hotline.devserver import free_port, gunicorn_server  # noqa: E402
from hotline.devtools.twilio_api import LocalTwilio  # noqa: E402

TOKEN = "bench-auth-token-0123456789"
ACCOUNT = "AC" + "2" * 32
WRK = "/usr/bin/wrk"
VENV_BIN = Path(sys.executable).parent
ALWAYS = '[{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}]'
VOICE = "/twilio/voice"
STEP = "/twilio/voice/step?node=language&tries=0"
ROUTE = "/twilio/route?topic=labor&lang=ru"


def redis_url(db: int) -> str:
    """Database `db` of the bench's Redis: each server its own (the journal is one list)."""
    raw = os.environ.get("HOTLINE_BENCH_REDIS_URL") or os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not raw:
        raise SystemExit("set HOTLINE_BENCH_REDIS_URL or HOTLINE_TEST_REDIS_URL (never 6379)")
    parts = urllib.parse.urlsplit(raw)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))


_redis_dbs = iter(range(1, 16))


def database(backend: str, tmp: Path) -> AbstractContextManager[str]:
    """A fresh SQLite file, or a throwaway PostgreSQL database (dropped afterwards)."""
    return ivr_step.database(backend == "postgresql", str(tmp), prefix="hotline_bench12")


# The REST API the route step rings volunteers through (started by main()).
_twilio: LocalTwilio | None = None


def base_env(port: int, database_url: str, tmp: Path, redis: str) -> dict[str, str]:
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "HOTLINE_PHONE_NUMBER": "+77270000000",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "bench-secret-key-0123456789",
        "PSEUDONYM_KEY": "bench-pseudonym-key-0123456789",
        "CALLBACK_ENCRYPTION_KEYS": KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis,
        "HOTLINE_SPOOL_DIR": str(tmp / f"spool-{port}"),
        "LOG_LEVEL": "WARNING",
        # This tree first (a copy of another commit measures that commit), then the baselines.
        "PYTHONPATH": f"{BENCH.parent}{os.pathsep}{BENCH}",
    }
    if _twilio is not None:
        env["TWILIO_API_BASE_URL"] = _twilio.base_url
    return env


KEY = Fernet.generate_key().decode()


def roster_yaml(size: int, seed: int = 12) -> str:
    """`size` volunteers always on shift; about 60% take labor calls in Russian."""
    rng = random.Random(seed)
    rows = []
    for i in range(size):
        roles = rng.sample(["lawyer", "psychologist", "social_worker"], rng.randint(1, 2))
        topics = sorted({"labor"} if rng.random() < 0.7 else set()) or ["violence"]
        topics = sorted(set(topics) | set(rng.sample(["violence", "trafficking"], 1)))
        languages = sorted(({"ru"} if rng.random() < 0.85 else set()) | {rng.choice(["kk", "en"])})
        rows.append(
            f'  - {{handle: v{i}, display_name: V{i}, phone: "+7701{i:07d}", '
            f"roles: [{', '.join(roles)}], topics: [{', '.join(topics)}], "
            f"languages: [{', '.join(languages)}], shifts: {ALWAYS}}}"
        )
    return "volunteers:\n" + "\n".join(rows) + "\n"


def import_roster(env: dict[str, str], size: int, tmp: Path) -> None:
    path = tmp / f"roster-{size}.yaml"
    path.write_text(roster_yaml(size))
    subprocess.run(
        [str(VENV_BIN / "hotline"), "db", "upgrade"], env={**os.environ, **env}, check=True,
        capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [str(VENV_BIN / "hotline"), "roster", "import", str(path)], env={**os.environ, **env},
        check=True, capture_output=True,
    )  # fmt: skip


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def request_file(base: str, path: str, count: int, tmp: Path, digits: str | None = None) -> Path:
    """`count` signed requests to `path`, each with a new CallSid, one per line for the Lua."""
    validator = RequestValidator(TOKEN)
    out = tmp / f"requests-{uuid.uuid4().hex[:8]}.tsv"
    lines = []
    for _ in range(count):
        params = {
            "CallSid": new_sid(),
            "AccountSid": ACCOUNT,
            "From": "+77015550123",
            "To": "+77270000000",
            "CallStatus": "in-progress",
            "Direction": "inbound",
        }
        if digits is not None:
            params["Digits"] = digits
        signature = validator.compute_signature(base + path, params)
        lines.append(f"{path}\t{urllib.parse.urlencode(params)}\t{signature}\n")
    out.write_text("".join(lines))
    return out


@dataclass
class Figures:
    rps: float
    p50: float
    p99: float
    bad: int
    dials: int
    enqueues: int
    wrapped: int
    total: int
    rings: int = 0  # REST rings the stand-in received


def wrk(port: int, requests: Path, connections: int, duration: float) -> Figures:
    threads = min(2, connections)
    result = subprocess.run(
        [
            WRK, f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "15s",
            "-s", str(BENCH / "webhook_load.lua"), f"http://127.0.0.1:{port}",
            "--", str(requests), str(threads),
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lua = re.search(r"LUA bad=(\d+) dials=(\d+) enqueues=(\d+) wrapped=(\d+)", out)
    lat = re.search(r"LAT p50=([\d.]+) p99=([\d.]+)", out)
    assert lua and lat, out
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Figures(rps, float(lat.group(1)), float(lat.group(2)), *map(int, lua.groups()), total)


def worker_memory(master_pid: int) -> list[tuple[float, float]]:
    """(RSS MB, PSS MB) of each worker of a gunicorn master."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    sizes = []
    for pid in children:
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
        sizes.append((fields["Rss"] / 1024, fields["Pss"] / 1024))
    return sizes


class ClaimCleaner:
    """Frees the volunteers' claims 20 times a second, so each request finds someone to ring near
    the top of the list, whatever the roster's size (and forgets the stand-in's placed calls and
    the line's direct callers, which nobody answers here, so neither grows through the run).

    The claims are deleted by volunteer id, 1 to FREED (the roster's first ids in a fresh
    database), not found with SCAN: a SCAN walks every key, the run's replies and journal marks
    too, and cost Redis about a third of a core at 100 requests a second. The route step ranks
    those first (ties go to the lower id), and 20 connections claim about 20 of them between two
    frees. (Freeing all 10,000 every 2 s instead let some 200 claims pile up at the top: the
    roster's size then measured how many callers were ringing at once, not the pick.)"""

    FREED = 1000
    _FREE = """
for i = 1, tonumber(ARGV[1]) do redis.call('DEL', 'hotline:claim:volunteer:' .. i) end
redis.call('DEL', 'hotline:line')
"""

    def __init__(self, url: str, volunteers: int = 0) -> None:
        self.redis = Redis.from_url(url)
        self.volunteers = min(volunteers, self.FREED)
        self.interval = 0.05
        self.rings = 0  # calls placed through the stand-in while this ran
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.redis.eval(self._FREE, 0, self.volunteers)
            self._forget_rings()
            self.stop.wait(self.interval)
        self._forget_rings()

    def _forget_rings(self) -> None:
        if _twilio is not None:
            with _twilio._lock:
                self.rings += len(_twilio.created)
                _twilio.created.clear()

    def __enter__(self) -> ClaimCleaner:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def clean_redis() -> None:
    """Empty the bench's Redis databases (on the bench's own Redis server only)."""
    for db in range(1, 16):
        Redis.from_url(redis_url(db)).flushdb()


@dataclass
class Server:
    name: str
    port: int
    pid: int
    base: str
    redis: str
    volunteers: int = 0


@contextmanager
def server(
    name: str, app: str, database_url: str, tmp: Path, roster: int | None = None
) -> Iterator[Server]:
    port = free_port()
    redis = redis_url(next(_redis_dbs))
    env = base_env(port, database_url, tmp, redis)
    if roster is not None:
        import_roster(env, roster, tmp)
    with gunicorn_server(
        env, port, workers=2, app=app, threads=8, log_path=tmp / f"{name}-{port}.log"
    ) as process:
        time.sleep(1.5)  # both workers up and their roster snapshots loaded
        yield Server(name, port, process.pid, f"http://127.0.0.1:{port}", redis, roster or 0)


def import_seconds() -> float:
    """A fresh interpreter: import hotline and build the webhook app (median of three)."""
    code = (
        "import time; t = time.perf_counter(); import hotline; hotline.create_webhooks_app(); "
        "print(time.perf_counter() - t)"
    )
    scratch = Path(tempfile.mkdtemp(prefix="webhook-import-"))
    env = {**os.environ, **base_env(5000, f"sqlite:///{scratch}/import.db", scratch, redis_url(15))}
    times = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.split()[-1]))
    return statistics.median(times)


def median_figures(runs: list[Figures]) -> Figures:
    return Figures(
        statistics.median(f.rps for f in runs),
        statistics.median(f.p50 for f in runs),
        statistics.median(f.p99 for f in runs),
        sum(f.bad for f in runs),
        sum(f.dials for f in runs),
        sum(f.enqueues for f in runs),
        sum(f.wrapped for f in runs),
        sum(f.total for f in runs),
        sum(f.rings for f in runs),
    )


_BASELINES = ("bare Flask, constant TwiML", "Flask + RequestValidator + TwiML")


def load_table(args: argparse.Namespace, tmp: Path) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    targets: list[tuple[str, Server, str, str | None, int]] = []
    memory: dict[str, list[tuple[float, float]]] = {}
    results: dict[str, list[Figures]] = {}
    with ExitStack() as stack:
        scratch = stack.enter_context(database("sqlite", tmp))
        bare = stack.enter_context(server("bare", "baseline_apps:bare", scratch, tmp))
        validated = stack.enter_context(
            server("validated", "baseline_apps:validated", scratch, tmp)
        )
        targets += [(_BASELINES[0], bare, VOICE, None, 12000)]
        targets += [(_BASELINES[1], validated, VOICE, None, 8000)]
        hotline_servers = []
        for backend in args.backends.split(","):
            for size in sizes:
                url = stack.enter_context(database(backend, tmp))
                name = f"{backend} {size}"
                hotline = stack.enter_context(
                    server(name, "hotline:create_webhooks_app()", url, tmp, roster=size)
                )
                hotline_servers.append(hotline)
                if size == sizes[0]:
                    targets.append((f"{backend}: /twilio/voice (first webhook)", hotline, VOICE,
                                    None, 3000))  # fmt: skip
                    targets.append((f"{backend}: menu step", hotline, STEP, "2", 3000))
                targets.append((f"{backend}: /twilio/route, {size} volunteers", hotline, ROUTE,
                                None, 3000))  # fmt: skip
        if args.only:
            wanted = args.only.split(",")
            targets = [t for t in targets if t[0] in _BASELINES or any(w in t[0] for w in wanted)]
        for run in range(args.runs):
            for label, target, path, digits, per_second in targets:
                requests = request_file(
                    target.base, path, int(per_second * args.duration), tmp, digits
                )
                with ClaimCleaner(target.redis, target.volunteers) as cleaner:
                    figures = wrk(target.port, requests, args.connections, args.duration)
                figures.rings = cleaner.rings
                requests.unlink()
                results.setdefault(label, []).append(figures)
                print(f"  run {run + 1} {label}: {figures.rps:.0f} req/s "
                      f"p50 {figures.p50:.1f} p99 {figures.p99:.1f} ms", flush=True)  # fmt: skip
        for target in [bare, validated, *hotline_servers]:
            memory[target.name] = worker_memory(target.pid)

    print()
    print(f"Webhooks under load: wrk, {args.connections} connections, gunicorn 2 workers x 8 "
          f"threads, {args.duration:g} s each, medians of {args.runs} runs")  # fmt: skip
    print(f"{'request':48} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}  notes")
    for label, runs in results.items():
        figures = median_figures(runs)
        bare_runs = results[_BASELINES[0]]
        ratios = [f.rps / b.rps for f, b in zip(runs, bare_runs, strict=True)]
        notes = []
        if figures.bad:
            notes.append(f"{figures.bad} non-200")
        if "route" in label:
            total = max(figures.total, 1)
            notes.append(f"{figures.enqueues / total:.0%} <Enqueue>, {figures.dials / total:.0%} "
                         f"<Dial>, {figures.rings / total:.0%} rung by REST")  # fmt: skip
        if figures.wrapped:
            notes.append("CallSids repeated")
        print(f"{label:48} {figures.rps:8.0f} {figures.p50:8.1f} {figures.p99:8.1f} "
              f"{statistics.median(ratios):6.2f}  {', '.join(notes)}")  # fmt: skip
    print()
    print("Memory per worker after the load (RSS / PSS MB)")
    for name, sizes_mb in memory.items():
        shown = ", ".join(f"{rss:.0f} / {pss:.0f}" for rss, pss in sizes_mb)
        print(f"  {name:30} {shown}")


def latency_table(args: argparse.Namespace, tmp: Path) -> None:
    sizes = [int(s) for s in args.latency_sizes.split(",")]
    print()
    print(f"Route step, one client, {args.duration:g} s each, medians of {args.runs} runs "
          "(PostgreSQL)")  # fmt: skip
    for size in sizes:
        with (
            database("postgresql", tmp) as url,
            server(
                f"latency {size}", "hotline:create_webhooks_app()", url, tmp, roster=size
            ) as hotline,
        ):
            runs = []
            for _ in range(args.runs):
                requests = request_file(hotline.base, ROUTE, int(1500 * args.duration), tmp)
                with ClaimCleaner(hotline.redis, hotline.volunteers):
                    runs.append(wrk(hotline.port, requests, 1, args.duration))
                requests.unlink()
            figures = median_figures(runs)
            print(f"  {size:6d} volunteers: p50 {figures.p50:6.1f} ms  p99 {figures.p99:6.1f} ms"
                  f"  ({figures.rps:.0f} req/s)", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--latency-sizes", default="10,100,1000,10000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-load", action="store_true", help="only the one-client table")
    parser.add_argument(
        "--only", default="", help="comma-separated parts of row names to measure (and baselines)"
    )
    args = parser.parse_args()
    clean_redis()
    global _twilio
    _twilio = LocalTwilio(ACCOUNT, TOKEN).__enter__()
    try:
        with tempfile.TemporaryDirectory(prefix="webhook-load-") as tmp:
            print(f"fresh interpreter, import hotline + create_webhooks_app(): "
                  f"{import_seconds() * 1000:.0f} ms (median of 3)", flush=True)  # fmt: skip
            if not args.skip_load:
                load_table(args, Path(tmp))
            if not args.skip_latency:
                latency_table(args, Path(tmp))
    finally:
        _twilio.close()
        clean_redis()


if __name__ == "__main__":
    main()
