"""The statistics page over 30 and 365 days on PostgreSQL at 1,000,000 and 5,000,000 call
records: from the records alone, and with the daily totals (hotline.outcomes.aggregates).

Seeds a throwaway database per size with INSERT ... SELECT over generate_series (400 days of
calls, 200,000 callers, one connected call in five reported with four choices, a callback
request per call that asked for one), closes the
settled days the way the worker does, then times GET /dashboard/stats through the Flask test
client signed in as a supervisor (session check, SQL, charts, template), and a bare Flask route
in the same process as the baseline.

    .venv/bin/python bench/stats_aggregates.py [--sizes 1000000,5000000] [--runs 30]
        [--raw-runs 5] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6390/13] [--keep] [--reuse]

Databases are named hotline_bench_issue10_<size> and dropped afterwards (unless --keep);
--reuse times a database kept by an earlier run instead of seeding it again.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cryptography.fernet import Fernet  # noqa: E402
from dashboard_pages import timed  # noqa: E402 - (median, p95, status) of GET path
from flask import Flask  # noqa: E402
from sqlalchemy import create_engine, delete, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from hotline.settings import Settings, normalize_database_url  # noqa: E402

PASSWORD = "quiet meadow lantern 4812 river"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CALLBACKS = """INSERT INTO callback_requests (call_record_id, topic, language, time_window,
         identify, status, attempts, expires_at, number_last_digits, created_at, updated_at,
         version)
       SELECT id, coalesce(topic, 'violence'), language, 'any', false,
              CASE WHEN started_at > now() - interval '1 day' THEN 'pending'
                   ELSE (ARRAY['completed', 'completed', 'failed', 'expired', 'cancelled'])
                        [1 + id % 5] END,
              1, started_at + interval '72 hours', '67', started_at, started_at, 1
       FROM call_records WHERE outcome = 'callback_requested'"""
SEED = [
    # 400 days of calls, newest last, in the order the hotline writes them.
    """INSERT INTO call_records (call_sid, caller_key, caller_key_version, language, topic,
         ivr_path, outcome, started_at, ended_at, wait_seconds, answered_by_id)
       SELECT 'CA' || lpad(to_hex(g), 32, '0'),
              md5((g % 200000)::text) || md5((g % 200000)::text || 'k'), 1,
              (ARRAY['ru', 'kk', 'en'])[1 + (g * 7) % 3],
              (ARRAY['violence', 'trafficking', 'labor', NULL])[1 + (g * 13) % 4],
              '[]'::json,
              (ARRAY['connected', 'connected', 'connected', 'nobody_available',
                     'no_answer', 'callback_requested', 'abandoned_waiting',
                     'emergency_info'])[1 + (g * 31) % 8],
              now() - ((:n - g)::float / :n) * interval '400 days',
              now() - ((:n - g)::float / :n) * interval '400 days' + interval '4 minutes',
              CASE WHEN (g * 31) % 8 < 3 THEN 5 + g % 115 END,
              CASE WHEN (g * 31) % 8 < 3 THEN 1 + g % 50 END
       FROM generate_series(1, :n) AS g""",
    # A callback request per call that asked for one: ended, but those of the last day open.
    CALLBACKS,
    """INSERT INTO outcome_reports (call_record_id, volunteer_id, call_started_at, topic,
         language, caller_key, answers, created_at, updated_at, version)
       SELECT id, answered_by_id, started_at, topic, language, caller_key, '{}'::json,
              started_at, started_at, 1
       FROM call_records WHERE outcome = 'connected' AND id % 5 = 0""",
    """INSERT INTO outcome_choices (report_id, field, option)
       SELECT id, 'who_called', 'affected' FROM outcome_reports
       UNION ALL SELECT id, 'sex', (ARRAY['female', 'male', 'unknown'])[1 + id % 3]
         FROM outcome_reports
       UNION ALL SELECT id, 'harm',
         (ARRAY['physical', 'forced_labor', 'unpaid_wages', 'psychological'])[1 + id % 4]
         FROM outcome_reports
       UNION ALL SELECT id, 'referrals', (ARRAY['shelter', 'police'])[1 + id % 2]
         FROM outcome_reports""",
]


def bare_flask() -> Flask:
    app = Flask("bare")

    @app.get("/")
    def hello() -> str:
        return "ok"

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--raw-runs", type=int, default=5, help="runs from the records alone (0: none)"
    )
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6390") + "/13",
    )
    parser.add_argument("--keep", action="store_true", help="do not drop the databases")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database if any")
    args = parser.parse_args()
    admin_url = normalize_database_url(args.admin_url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    base = bare_flask().test_client()
    results = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            name = f"hotline_bench_issue10_{size}"
            with admin.connect() as connection:
                exists = connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                seed = not (args.reuse and exists)
                if seed:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            try:
                results += run(url, size, args, base, seed)
            finally:
                if not args.keep:
                    with admin.connect() as connection:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    baseline, baseline_p95, _ = timed(base, "/", args.runs * 10)
    print(f"\nbare Flask (same process, test client): median {baseline:.2f} ms", end="")
    print(f", p95 {baseline_p95:.2f} ms")
    head = ("records", "period", "read from", "median ms", "p95 ms", "x bare")
    print("\n{:>10} {:>8} {:>14} {:>10} {:>9} {:>8}".format(*head))
    for size, days, source, median, p95 in results:
        ratio = median / baseline
        print(f"{size:>10,} {days:>6} d {source:>14} {median:10.1f} {p95:9.1f} {ratio:8.0f}")
    return 0


def run(url: str, size: int, args: argparse.Namespace, base, seed: bool) -> list[tuple]:
    from support import test_env

    from hotline import create_app
    from hotline.dashboard.accounts.users import create_user
    from hotline.migrate import upgrade
    from hotline.models import (
        CallbackDay,
        ClosedDay,
        DailyCallbacks,
        DailyCalls,
        DailyOutcomes,
        DailyUnanswered,
        DailyWaits,
    )
    from hotline.outcomes import aggregates

    upgrade(url)
    engine = create_engine(url)
    started = time.perf_counter()
    if seed:
        with engine.begin() as connection:
            for statement in SEED:
                connection.execute(text(statement), {"n": size})
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
        print(f"\n{size:,} call records seeded in {time.perf_counter() - started:.1f} s")
    else:
        print(f"\n{size:,} call records: the database kept by an earlier run", flush=True)
    key = Fernet.generate_key().decode()
    settings = Settings.from_env(
        test_env(DATABASE_URL=url, CALLBACK_ENCRYPTION_KEYS=key, REDIS_URL=args.redis_url)
    )
    app = create_app(settings)
    if seed:
        with app.extensions["db"].session() as session:
            create_user(session, "figures", PASSWORD, "supervisor")
    client = app.test_client()
    token = CSRF.search(client.get("/dashboard/login").text).group(1)
    client.post(
        "/dashboard/login",
        data={"username": "figures", "password": PASSWORD, "csrf_token": token},
    )
    today = datetime.now(UTC).astimezone(settings.tz).date()
    periods = [
        (30, f"/dashboard/stats?from={today - timedelta(days=29)}&to={today}"),
        (365, f"/dashboard/stats?from={today - timedelta(days=364)}&to={today}"),
    ]
    results = []
    for days, path in periods if args.raw_runs else ():
        median, p95, status = timed(client, path, args.raw_runs)
        # Past PostgreSQL's statement_timeout (6 s, hotline.db) the page fails: say so.
        source = "records" if status == 200 else f"records {status}"
        results.append((size, days, source, median, p95))
        note = "" if status == 200 else f" (HTTP {status}: a statement passed the 6 s timeout)"
        print(f"  {days} days from the records: median {median:.0f} ms, p95 {p95:.0f} ms{note}")
    with app.extensions["db"].session() as session:
        began = time.perf_counter()
        closed = aggregates.close_days(
            session,
            settings.tz,
            aggregates.closable_through(session, datetime.now(UTC), settings.tz),
        )
        session.commit()
        print(f"  {closed} days closed in {time.perf_counter() - began:.1f} s", flush=True)
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    for days, path in periods:
        median, p95, status = timed(client, path, args.runs)
        assert status == 200, status
        results.append((size, days, "daily totals", median, p95))
        print(
            f"  {days} days with daily totals: median {median:.0f} ms, p95 {p95:.0f} ms", flush=True
        )
    with app.extensions["db"].session() as session:  # leave the tables as the seed made them
        daily = (DailyCalls, DailyUnanswered, DailyWaits, DailyOutcomes, DailyCallbacks)
        for table in (*daily, ClosedDay, CallbackDay):
            session.execute(delete(table))
        session.commit()
    app.extensions["db"].dispose()
    engine.dispose()
    return results


if __name__ == "__main__":
    raise SystemExit(main())
