"""Dashboard pages on PostgreSQL with 1,000,000 call records: median and p95 response times.

Seeds a throwaway database with COPY (a year of calls, 200,000 distinct callers, 50 volunteers),
then times the call log and the statistics pages through the Flask test client (the whole view:
session check, CSRF token, SQL, template), signed in as a supervisor.

    .venv/bin/python bench/dashboard_pages.py [--calls 1000000] [--runs 30]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--keep]
        [--extra-indexes]   also time with the composite indexes suggested for call_records
        [--shuffled]        rows in random time order instead of the order calls arrive in
        [--generate-series] seed in the database with generate_series (5,000,000 rows in minutes)
        [--name NAME]       the database's name (default: hotline_bench_<random>)
        [--reuse NAME]      time an existing database (seeded by an earlier --keep run) as it is
        [--csv-rows N]      also export about N rows as CSV: first byte, total time, peak RSS

The admin URL defaults to HOTLINE_TEST_POSTGRES_URL; Redis: HOTLINE_BENCH_REDIS_URL, else
HOTLINE_TEST_REDIS_URL (database 13).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from hotline.settings import Settings, normalize_database_url  # noqa: E402

TOPICS = (["violence"] * 50) + (["trafficking"] * 20) + (["labor"] * 25) + ([None] * 5)
LANGUAGES = (["ru"] * 55) + (["kk"] * 37) + (["en"] * 8)
OUTCOMES = (
    ["connected"] * 60
    + ["nobody_available"] * 8
    + ["no_answer"] * 5
    + ["declined_by_all"] * 3
    + ["callback_requested"] * 7
    + ["abandoned_waiting"] * 6
    + ["abandoned_in_menu"] * 6
    + ["emergency_info"] * 4
    + ["failed"] * 1
)
# Composite indexes worth having at this size (see the report printed at the end).
EXTRA_INDEXES = [
    # The call log filtered by topic or outcome, newest first: a range scan in the right order.
    "CREATE INDEX ix_bench_topic_started ON call_records (topic, started_at)",
    "CREATE INDEX ix_bench_outcome_started ON call_records (outcome, started_at)",
    # "3rd call in 30 days": one caller's calls in a window, without visiting other callers' rows.
    "CREATE INDEX ix_bench_caller_started ON call_records (caller_key, started_at)",
    # Statistics read only these columns over a date range: an index-only scan.
    "CREATE INDEX ix_bench_started_covering ON call_records (started_at) "
    "INCLUDE (topic, language, outcome, wait_seconds)",
]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed(url: str, calls: int, now: datetime, shuffled: bool = False) -> float:
    """COPY `calls` records spread over the last 365 days; returns the seconds it took.

    In time order, as the hotline writes them (so a month of calls sits in a month of pages);
    shuffled=True scatters them over the whole table, the worst case for date-range queries.
    """
    import psycopg

    rng = random.Random(7)
    keys = [uuid.uuid4().hex + uuid.uuid4().hex for _ in range(200_000)]
    started = time.perf_counter()
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        columns = (
            "call_sid, caller_key, caller_key_version, language, topic, ivr_path, outcome, "
            "started_at, routed_at, connected_at, ended_at, duration_seconds, wait_seconds, "
            "answered_by_id"
        )
        with cursor.copy(f"COPY call_records ({columns}) FROM STDIN") as copy:
            for i in range(calls):
                copy.write_row(_row(rng, keys, now, i, calls, shuffled))
    with psycopg.connect(conninfo, autocommit=True) as connection:
        # What autovacuum does soon after a bulk load; index-only scans need the visibility map.
        connection.execute("VACUUM ANALYZE call_records")
    return time.perf_counter() - started


SERIES_SEED = """
WITH s AS (
  SELECT g,
    CASE WHEN g % 20 = 0 THEN NULL WHEN g % 20 < 5 THEN 'trafficking'
         WHEN g % 20 < 10 THEN 'labor' ELSE 'violence' END AS topic,
    CASE WHEN (g * 13) % 100 < 60 THEN 'connected' WHEN (g * 13) % 100 < 68 THEN 'nobody_available'
         WHEN (g * 13) % 100 < 73 THEN 'no_answer' WHEN (g * 13) % 100 < 76 THEN 'declined_by_all'
         WHEN (g * 13) % 100 < 83 THEN 'callback_requested'
         WHEN (g * 13) % 100 < 89 THEN 'abandoned_waiting'
         WHEN (g * 13) % 100 < 95 THEN 'abandoned_in_menu'
         WHEN (g * 13) % 100 < 99 THEN 'emergency_info' ELSE 'failed' END AS outcome,
    :now - make_interval(secs => (:calls - g) * 31536000.0 / :calls) AS at
  FROM generate_series(1, :calls) AS g
)
INSERT INTO call_records (call_sid, caller_key, caller_key_version, language, topic, ivr_path,
  outcome, started_at, routed_at, connected_at, ended_at, duration_seconds, wait_seconds,
  answered_by_id)
SELECT 'CA' || lpad(to_hex(g), 32, '0'),
  md5((g % 200000)::text) || md5((g % 200000)::text || 'k'), 1,
  (ARRAY['ru','ru','ru','ru','ru','kk','kk','kk','kk','en'])[1 + (g * 7) % 10],
  topic,
  CASE WHEN topic IS NULL THEN '["greeting", "language:2"]'::json
       ELSE json_build_array('greeting', 'language:2', 'topic:' || topic, 'route:' || topic) END,
  outcome, at,
  CASE WHEN topic IS NOT NULL THEN at + interval '30 seconds' END,
  CASE WHEN outcome = 'connected' AND topic IS NOT NULL
       THEN at + make_interval(secs => 35 + g % 116) END,
  at + make_interval(secs => 160 + g % 2281),
  CASE WHEN outcome = 'connected' THEN 120 + g % 2281 END,
  CASE WHEN outcome = 'connected' THEN 5 + g % 116 END,
  CASE WHEN outcome = 'connected' THEN 1 + g % 50 END
FROM s
"""


def seed_in_database(url: str, calls: int, now: datetime) -> float:
    """`calls` records over the last 365 days in time order, made by PostgreSQL itself (the
    indexes are built after the rows, as a restore does); returns the seconds it took."""
    from hotline.models import CallRecord

    started = time.perf_counter()
    engine = create_engine(url)
    indexes = list(CallRecord.__table__.indexes)
    with engine.begin() as connection:
        for index in indexes:
            index.drop(connection)
        connection.execute(text(SERIES_SEED), {"now": now, "calls": calls})
        for index in indexes:
            index.create(connection)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE call_records"))
    engine.dispose()
    return time.perf_counter() - started


def _row(
    rng: random.Random, keys: list[str], now: datetime, i: int, calls: int, shuffled: bool
) -> tuple:
    year = 365 * 86400
    offset = rng.randint(60, year) if shuffled else year - (year * i) // calls + rng.randint(0, 59)
    at = now - timedelta(seconds=offset)
    topic, language, outcome = rng.choice(TOPICS), rng.choice(LANGUAGES), rng.choice(OUTCOMES)
    path = ["greeting", "language:2"] + ([f"topic:{topic}", f"route:{topic}"] if topic else [])
    routed = at + timedelta(seconds=30) if topic else None
    connected = outcome == "connected"
    wait = rng.randint(5, 120) if connected else None
    duration = rng.randint(120, 2400) if connected else None
    return (
        f"CA{i:032x}",
        rng.choice(keys),
        1,
        language,
        topic,
        json.dumps(path),
        outcome,
        at,
        routed,
        routed + timedelta(seconds=wait) if connected and routed else None,
        at + timedelta(seconds=(duration or 60) + 40),
        duration,
        wait,
        rng.randint(1, 50) if connected else None,
    )


def timed(client, path: str, runs: int) -> tuple[float, float, int]:
    """(median ms, p95 ms, status) of GET path, after one warm-up request."""
    status = client.get(path).status_code
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        response = client.get(path)
        response.get_data()
        samples.append((time.perf_counter() - begin) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)]
    return statistics.median(samples), p95, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--extra-indexes", action="store_true")
    parser.add_argument(
        "--shuffled", action="store_true", help="insert in random time order (the worst case)"
    )
    parser.add_argument("--generate-series", action="store_true")
    parser.add_argument("--name", default=f"hotline_bench_{uuid.uuid4().hex[:8]}")
    parser.add_argument("--reuse", metavar="NAME")
    parser.add_argument("--csv-rows", type=int, default=0)
    args = parser.parse_args()

    admin_url = normalize_database_url(args.admin_url)
    name = args.reuse or args.name
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    if not args.reuse:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    if args.keep or args.reuse:
        print(f"database {name} (kept)")
    try:
        return run(url, args)
    finally:
        if not (args.keep or args.reuse):
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, args: argparse.Namespace) -> int:
    from support import test_env

    from hotline import create_app
    from hotline.crypto import encrypt, make_fernet
    from hotline.dashboard.accounts.users import create_user
    from hotline.db import make_engine
    from hotline.models import Base, Volunteer

    now = datetime.now(UTC)
    if args.reuse:
        with create_engine(url).connect() as connection:
            args.calls = int(connection.execute(text("SELECT count(*) FROM call_records")).scalar())
        print(f"reusing {args.calls:,} call records")
    else:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        how = "generate_series" if args.generate_series else "COPY"
        print(f"seeding {args.calls:,} call records with {how} ...", flush=True)
        if args.generate_series:
            seconds = seed_in_database(url, args.calls, now)
        else:
            seconds = seed(url, args.calls, now, args.shuffled)
        print(f"seeded in {seconds:.1f} s ({args.calls / seconds:,.0f} rows/s)")

    key = Fernet.generate_key().decode()
    settings = Settings.from_env(
        test_env(DATABASE_URL=url, CALLBACK_ENCRYPTION_KEYS=key, REDIS_URL=_redis_url())
    )
    app = create_app(settings)
    with app.extensions["db"].session() as session:
        session.execute(text("DELETE FROM dashboard_users WHERE username = 'bench'"))
        session.execute(text("DELETE FROM volunteers WHERE handle LIKE 'v%'"))
        fernet = make_fernet((key,))
        for n in range(1, 51):
            phone = f"+7701{n:07d}"
            session.add(
                Volunteer(
                    handle=f"v{n}",
                    display_name=f"Volunteer {n}",
                    phone_encrypted=encrypt(fernet, phone),
                    phone_last_digits=phone[-2:],
                    roles=["lawyer"],
                    topics=["violence"],
                    languages=["ru"],
                )
            )
        session.flush()
        create_user(session, "bench", "quiet lantern orchard 47", "supervisor")
    client = app.test_client()
    token = CSRF.search(client.get("/dashboard/login").text).group(1)
    client.post(
        "/dashboard/login",
        data={"username": "bench", "password": "quiet lantern orchard 47", "csrf_token": token},
    )

    today = now.date()
    month_end = today.replace(day=1) - timedelta(days=1)
    last_month = f"from={month_end.replace(day=1)}&to={month_end}"
    pages = [
        ("call log, newest first", "/dashboard/calls"),
        ("call log, page 200", "/dashboard/calls?page=200"),
        (
            "call log, trafficking unanswered last month",
            f"/dashboard/calls?topic=trafficking&outcome=unanswered&{last_month}",
        ),
        ("call log, sorted by wait", "/dashboard/calls?sort=-wait_seconds"),
        ("statistics, last 30 days", "/dashboard/stats"),
        ("statistics, trafficking last month", f"/dashboard/stats?topic=trafficking&{last_month}"),
        (
            "statistics, last 365 days",
            f"/dashboard/stats?from={today - timedelta(days=364)}&to={today}",
        ),
        ("funders' report, last month", f"/dashboard/report?{last_month}"),
    ]
    rounds = [("indexes of the models", [])]
    if args.extra_indexes:
        rounds.append(("plus composite indexes", EXTRA_INDEXES))
    for title, statements in rounds:
        if statements:
            with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
                for statement in statements:
                    connection.execute(text(statement))
                connection.execute(text("VACUUM ANALYZE call_records"))
        print(f"\n{title}: {args.runs} requests each, Flask test client, PostgreSQL")
        print(f"{'page':48} {'median ms':>10} {'p95 ms':>10}")
        for label, path in pages:
            median, p95, status = timed(client, path, args.runs)
            flag = "" if status == 200 else f"  (HTTP {status})"
            print(f"{label:48} {median:10.1f} {p95:10.1f}{flag}")
    if args.csv_rows:
        days = max(1, round(365 * args.csv_rows / args.calls))
        export_csv(client, f"/dashboard/calls.csv?from={today - timedelta(days=days - 1)}")
    app.extensions["db"].dispose()
    return 0


def _redis_url() -> str:
    raw = os.environ.get("HOTLINE_BENCH_REDIS_URL") or os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not raw:
        raise SystemExit("set HOTLINE_BENCH_REDIS_URL or HOTLINE_TEST_REDIS_URL (never 6379)")
    return raw.rsplit("/", 1)[0] + "/13" if raw.count("/") > 2 else raw.rstrip("/") + "/13"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def export_csv(client, path: str) -> None:  # type: ignore[no-untyped-def]
    """Stream one CSV export: time to the first rows, total time, rows, and RSS while it runs."""
    import threading

    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(_rss_mb())
            stop.wait(0.05)

    before = _rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    response = client.get(path, buffered=False)
    first = None
    rows = size = 0
    for piece in response.response:
        if first is None:
            first = time.perf_counter() - started
        size += len(piece)
        rows += piece.count(b"\n") if isinstance(piece, bytes) else piece.count("\n")
    response.close()
    total = time.perf_counter() - started
    stop.set()
    sampler.join()
    print(f"\nCSV export {path}: {rows - 1:,} rows, {size / 1e6:.0f} MB in {total:.1f} s "
          f"({(rows - 1) / total:,.0f} rows/s), first bytes after {first or 0:.2f} s")  # fmt: skip
    print(f"  RSS before {before:.0f} MB, peak while exporting {max(samples):.0f} MB "
          f"(+{max(samples) - before:.0f} MB), at the end {samples[-1]:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
