"""Dashboard pages on PostgreSQL with 1,000,000 call records: median and p95 response times.

Seeds a throwaway database with COPY (a year of calls, 200,000 distinct callers, 50 volunteers),
then times the call log and the statistics pages through the Flask test client (the whole view:
session check, CSRF token, SQL, template), signed in as a supervisor.

    .venv/bin/python bench/dashboard_pages.py [--calls 1000000] [--runs 30]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--keep]
        [--extra-indexes]   also time with the composite indexes suggested for call_records
        [--shuffled]        rows in random time order instead of the order calls arrive in

The admin URL defaults to HOTLINE_TEST_POSTGRES_URL.
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
    args = parser.parse_args()

    admin_url = normalize_database_url(args.admin_url)
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    if args.keep:
        print(f"database {name} (kept)")
    try:
        return run(url, args)
    finally:
        if not args.keep:
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

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    now = datetime.now(UTC)
    print(f"seeding {args.calls:,} call records with COPY ...", flush=True)
    seconds = seed(url, args.calls, now, args.shuffled)
    print(f"seeded in {seconds:.1f} s ({args.calls / seconds:,.0f} rows/s)")

    key = Fernet.generate_key().decode()
    settings = Settings.from_env(
        test_env(
            DATABASE_URL=url, CALLBACK_ENCRYPTION_KEYS=key, REDIS_URL="redis://127.0.0.1:6379/13"
        )
    )
    app = create_app(settings)
    with app.extensions["db"].session() as session:
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
        create_user(session, "bench", "bench passphrase 123", "supervisor")
    client = app.test_client()
    token = CSRF.search(client.get("/dashboard/login").text).group(1)
    client.post(
        "/dashboard/login",
        data={"username": "bench", "password": "bench passphrase 123", "csrf_token": token},
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
    app.extensions["db"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
