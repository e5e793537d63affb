"""Latency of one IVR step under gunicorn: signed POST, engine, call record write, TwiML.

Prints the median and p99 of a menu step (pressing 2 at the language menu) and, as a baseline
measured in the same run, of GET /healthz (gunicorn + Flask with no work), and their ratio.

    .venv/bin/python bench/ivr_step.py [--requests 2000] [--postgres] [--redis-url URL]

--postgres measures against a throwaway PostgreSQL database made from the admin URL in
HOTLINE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres), dropped after.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from hotline.devserver import free_port, gunicorn_server  # noqa: E402
from hotline.settings import normalize_database_url  # noqa: E402
from hotline.simulate import new_call_sid  # noqa: E402
from hotline.telephony.signature import sign  # noqa: E402

TOKEN = "bench-auth-token-0123456789"


@contextmanager
def database(postgres: bool, tmp: str, prefix: str = "hotline_bench") -> Iterator[str]:
    """A fresh SQLite file, or a throwaway PostgreSQL database dropped afterwards."""
    if not postgres:
        yield f"sqlite:///{tmp}/{prefix}-{uuid.uuid4().hex[:6]}.db"
        return
    admin_url = normalize_database_url(
        os.environ.get("HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(
    conn: http.client.HTTPConnection, method: str, path: str, body: str, headers: dict
) -> float:
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status}")
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp, database(args.postgres, tmp) as database_url:
        env = {
            "TWILIO_ACCOUNT_SID": "AC" + "2" * 32,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "HOTLINE_PHONE_NUMBER": "+77270000000",
            "PUBLIC_BASE_URL": base,
            "SECRET_KEY": "bench-secret-key-0123456789",
            "PSEUDONYM_KEY": "bench-pseudonym-key-0123456789",
            "CALLBACK_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis_url,
            "LOG_LEVEL": "WARNING",
        }
        with gunicorn_server(env, port, workers=2, log_path=Path(tmp) / "gunicorn.log"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            step_ms: list[float] = []
            health_ms: list[float] = []
            path = "/twilio/voice/step?node=language&tries=0"
            for i in range(args.requests + 50):
                params = {
                    "CallSid": new_call_sid(),
                    "From": "+77015550123",
                    "To": "+77270000000",
                    "CallStatus": "in-progress",
                    "Digits": "2",
                }
                body = urllib.parse.urlencode(params)
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": sign(base + path, params, TOKEN),
                }
                step = timed(conn, "POST", path, body, headers)
                health = timed(conn, "GET", "/healthz", "", {})
                if i >= 50:  # warm-up: imports, connection pools, SQLite page cache
                    step_ms.append(step)
                    health_ms.append(health)

    backend = "postgresql" if args.postgres else "sqlite"
    step_median, health_median = statistics.median(step_ms), statistics.median(health_ms)
    print(f"IVR step under gunicorn (2 workers, {backend}, {args.requests} requests, one client)")
    print(f"  menu step  median {step_median:6.2f} ms   p99 {percentile(step_ms, 99):6.2f} ms")
    print(f"  /healthz   median {health_median:6.2f} ms   p99 {percentile(health_ms, 99):6.2f} ms")
    print(f"  ratio (step / healthz medians): {step_median / health_median:.1f}x")


if __name__ == "__main__":
    main()
