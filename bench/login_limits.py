"""Sign-in limits: what a refused attempt costs compared with one whose password is checked.

The hotline's app (SQLite in a temporary folder, the Redis of REDIS_URL or the tests' Redis) is
driven in-process through Flask's test client. Measured in the same run: a bare Flask route (the
baseline), a sign-in refused by the per-address limit (429, no password check), and a wrong
password (one argon2id check, one audit row). Prints the median of each and the ratios: a flood
that the limits refuse costs the server about what a bare request costs, not an argon2 check.

    .venv/bin/python bench/login_limits.py [--attempts 200] [--redis redis://127.0.0.1:6379/8]

It flushes that Redis database before and after (8 by default, which no test uses).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from flask import Flask  # noqa: E402
from redis import Redis  # noqa: E402
from support import test_env  # noqa: E402

from hotline import create_app  # noqa: E402
from hotline.migrate import upgrade  # noqa: E402
from hotline.settings import Settings  # noqa: E402

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def timed(run: Callable[[], int], expected: int, count: int) -> list[float]:
    """Seconds per call of `run`, which must answer `expected` each time."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        status = run()
        samples.append(time.perf_counter() - started)
        assert status == expected, (status, expected)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument(
        "--redis",
        default=os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379") + "/8",
    )
    args = parser.parse_args()
    Redis.from_url(args.redis).flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        app = create_app(Settings.from_env(test_env(DATABASE_URL=url, REDIS_URL=args.redis)))
        client = app.test_client()
        bare = Flask("bare")
        bare.add_url_rule("/", "index", lambda: "ok")
        bare_client = bare.test_client()
        token = _CSRF.search(client.get("/dashboard/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]

        def sign_in(address: str) -> int:
            return client.post(
                "/dashboard/login",
                data={"username": "nobody", "password": "a wrong guess", "csrf_token": token},
                environ_base={"REMOTE_ADDR": address},
            ).status_code

        addresses = (f"10.{n // 250}.0.{n % 250}" for n in range(10**6))
        baseline = timed(lambda: bare_client.get("/").status_code, 200, args.attempts)
        for _ in range(10):  # empty the flooding address's bucket
            sign_in("198.51.100.1")
        refused = timed(lambda: sign_in("198.51.100.1"), 429, args.attempts)
        # A new address each time: under every limit, so the password is checked.
        checks = max(20, args.attempts // 10)
        checked = timed(lambda: sign_in(next(addresses)), 200, checks)
        app.extensions["db"].dispose()
    Redis.from_url(args.redis).flushdb()
    base, ref, chk = (statistics.median(s) * 1000 for s in (baseline, refused, checked))
    print(f"bare Flask request          median {base:7.3f} ms  (n={len(baseline)})")
    print(
        f"sign-in refused (429)       median {ref:7.3f} ms  (n={len(refused)})"
        f"  {ref / base:6.1f}x bare"
    )
    print(
        f"sign-in checked (argon2id)  median {chk:7.3f} ms  (n={len(checked)})"
        f"  {chk / base:6.1f}x bare, {chk / ref:5.1f}x a refusal"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
