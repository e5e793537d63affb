"""Sign-in floods against a real gunicorn (four worker processes), PostgreSQL and Redis, sent from
several client processes at once, as an attacker would. Each password check writes one
`login_failed` audit row (the refusals are only counted), so the rows say how many passwords the
hotline actually checked.

The client address is set with X-Forwarded-For, with HOTLINE_PROXY_COUNT=1 as behind one proxy.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from callback_world import callback_redis_url, postgres_database
from redis import Redis
from sqlalchemy import create_engine, text
from support import test_env

from hotline.dashboard.accounts.lockout import LIMIT
from hotline.dashboard.accounts.throttle import ADDRESS
from hotline.devserver import free_port, gunicorn_server
from hotline.settings import normalize_database_url

PASSWORD = "tulpar kumys zhel aspan"
REDIS_DB = 9  # this module's own database on the test Redis
FLOOD_SECONDS = 20
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Site:
    base_url: str
    database_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("login_floods")
    redis_url = callback_redis_url(REDIS_DB)
    Redis.from_url(redis_url).flushdb()
    with postgres_database("hotline_login_floods") as database_url:
        port = free_port()
        env = {
            **os.environ,
            **test_env(
                DATABASE_URL=database_url,
                REDIS_URL=redis_url,
                PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                HOTLINE_PROXY_COUNT="1",
            ),
        }
        hotline = str(Path(sys.executable).parent / "hotline")
        subprocess.run([hotline, "db", "upgrade"], env=env, check=True, capture_output=True)
        for username in ("boss", "mira"):
            subprocess.run(
                [hotline, "users", "create", username, "--role", "supervisor"],
                input=PASSWORD + "\n",
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
        with gunicorn_server(env, port, workers=4, log_path=tmp / "gunicorn.log"):
            yield Site(f"http://127.0.0.1:{port}", database_url)
    Redis.from_url(redis_url).flushdb()


def attempt(
    base_url: str, username: str, password: str, address: str, http: requests.Session | None = None
) -> int:
    """One sign-in as a browser makes it: the form (CSRF token), then the POST; the status."""
    http = http or requests.Session()
    page = http.get(f"{base_url}/dashboard/login", timeout=30)
    token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    answer = http.post(
        f"{base_url}/dashboard/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers={"X-Forwarded-For": address},
        allow_redirects=False,
        timeout=30,
    )
    return answer.status_code


def flood(args: tuple[str, str, int, float]) -> list[int]:
    """One attacking process: wrong guesses until the deadline, known usernames or not."""
    base_url, address, seed, deadline = args
    http = requests.Session()
    statuses = []
    n = 0
    while time.time() < deadline:
        username = "mira" if n % 2 else f"nobody{seed}-{n}"
        statuses.append(attempt(base_url, username, f"guess {seed}-{n}", address, http))
        n += 1
    return statuses


def guess_at_once(args: tuple[str, str, str, multiprocessing.synchronize.Barrier]) -> int:
    base_url, address, password, barrier = args
    http = requests.Session()
    page = http.get(f"{base_url}/dashboard/login", timeout=30)
    token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    barrier.wait(timeout=60)  # every process posts at the same moment
    return http.post(
        f"{base_url}/dashboard/login",
        data={"username": "boss", "password": password, "csrf_token": token},
        headers={"X-Forwarded-For": address},
        allow_redirects=False,
        timeout=30,
    ).status_code


def audit_count(site: Site, action: str, **where: str) -> int:
    engine = create_engine(normalize_database_url(site.database_url))
    try:
        clauses = "".join(f" AND {column} = :{column}" for column in where)
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(f"SELECT count(*) FROM audit_events WHERE action = :action{clauses}"),
                    {"action": action, **where},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def refused_counted(site: Site, ip: str) -> list[int]:
    engine = create_engine(normalize_database_url(site.database_url))
    try:
        with engine.connect() as connection:
            details = connection.execute(
                text(
                    "SELECT detail FROM audit_events WHERE action = 'login_throttled'"
                    " AND ip = :ip AND object_id IS NULL"  # the address's rows, not an account's
                ),
                {"ip": ip},
            ).scalars()
            return [int(detail.split(" ", 1)[0]) for detail in details]
    finally:
        engine.dispose()


def test_a_flood_from_one_address_in_four_processes_gets_about_30_checks_a_minute(
    site: Site,
) -> None:
    address = "198.51.100.20"
    started = time.time()
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        results = pool.map(
            flood, [(site.base_url, address, seed, started + FLOOD_SECONDS) for seed in range(4)]
        )
    elapsed = time.time() - started
    statuses = [status for result in results for status in result]
    checks = audit_count(site, "login_failed", ip=address)
    refused = statuses.count(429)
    per_minute = checks / elapsed * 60
    print(
        f"\nflood: {len(statuses)} attempts in {elapsed:.1f} s from one address, 4 processes:"
        f" {checks} password checks ({per_minute:.0f} a minute), {refused} refused;"
        f" audit rows: {checks} login_failed + {len(refused_counted(site, address))} counted"
    )
    assert len(statuses) > 3 * checks  # the flood was a flood
    assert set(statuses) <= {200, 429}
    # Every check is answered 200 and audited once; so is a guess at the account once it is
    # paused (LIMIT wrong passwords), without a check.
    assert checks <= statuses.count(200) <= checks + statuses.count(200) - min(checks, LIMIT)
    assert audit_count(site, "login_failed", username="mira") <= LIMIT
    # The bucket: 5 at once, then one every 2 s; "about 30 a minute".
    assert checks <= ADDRESS.burst + elapsed / ADDRESS.interval + 1
    # The refusals: a row per minute at most, with the count (exact but for a flood's last
    # second, which each web process rewrites at most once a second).
    counted = refused_counted(site, address)
    assert 1 <= len(counted) <= int(elapsed // 60) + 2
    assert 0.9 * refused <= sum(counted) <= refused


def test_sixteen_guesses_at_once_at_one_account_check_the_password_five_times(
    site: Site,
) -> None:
    # The owner signs in before the attack: their browser is known to the hotline.
    owner = requests.Session()
    assert attempt(site.base_url, "boss", PASSWORD, "203.0.113.5", owner) == 302
    owner.cookies.pop("hotline_session", None)
    # A check against the account's real hash is audited "wrong password" (a refusal is not).
    before = audit_count(site, "login_failed", detail="wrong password")
    context = multiprocessing.get_context("fork")
    barrier = context.Manager().Barrier(16)
    with context.Pool(16) as pool:
        statuses = pool.map(
            guess_at_once,
            [(site.base_url, f"10.20.0.{n}", f"wrong guess {n:02d}", barrier) for n in range(16)],
        )
    checks = audit_count(site, "login_failed", detail="wrong password") - before
    print(f"\n16 parallel guesses at one account: the password was checked {checks} times")
    assert statuses == [200] * 16  # the same answer for all: checked or not
    assert checks == LIMIT  # never more than the per-account limit
    # The account is paused now, for anyone; the owner's own browser still gets in.
    stranger = requests.Session()
    assert attempt(site.base_url, "boss", PASSWORD, "203.0.113.6", stranger) == 200
    assert attempt(site.base_url, "boss", PASSWORD, "203.0.113.5", owner) == 302
