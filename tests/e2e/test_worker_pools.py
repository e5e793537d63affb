"""A flood on the dashboard's login page does not slow a webhook served by the other pool.

Two gunicorns, as the Procfile runs them: `hotline:create_dashboard_app()` and
`hotline:create_webhooks_app()`, one worker each. Sixteen clients post real login attempts
(each one argon2 verification) to the dashboard while a caller's first webhook is timed. The same
flood against one pool serving both (`hotline:create_app()`) is measured in the same run, to show
what the separation saves.
"""

from __future__ import annotations

import http.cookiejar
import re
import statistics
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from faults import TimedCall, webhook_pool
from support import AUTH_TOKEN, test_env

from hotline.devserver import free_port

FLOODERS = 16
PROBES = 12
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("pools")
    return test_env(
        DATABASE_URL=f"sqlite:///{tmp / 'pools.db'}", HOTLINE_SPOOL_DIR=str(tmp / "spool")
    )


@pytest.fixture
def two_pools(env: dict[str, str], tmp_path) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    dashboard_port, webhook_port = free_port(), free_port()
    webhook_env = dict(env, PUBLIC_BASE_URL=f"http://127.0.0.1:{webhook_port}")
    # (http, so the login page's CSRF cookie is not Secure-only and the attempts are real.)
    dashboard_env = dict(env, PUBLIC_BASE_URL=f"http://127.0.0.1:{dashboard_port}")
    with webhook_pool(dashboard_env, "hotline:create_dashboard_app()", workers=1,
                      port=dashboard_port), \
            webhook_pool(webhook_env, "hotline:create_webhooks_app()", workers=1,
                         port=webhook_port):  # fmt: skip
        yield f"http://127.0.0.1:{dashboard_port}", f"http://127.0.0.1:{webhook_port}"


@pytest.fixture
def one_pool(env: dict[str, str]) -> Iterator[tuple[str, str]]:
    port = free_port()
    one_env = dict(env, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    with webhook_pool(one_env, "hotline:create_app()", workers=1, port=port) as url:
        yield url, url


def flood(dashboard: str, stop: threading.Event, latencies: list[float]) -> None:
    """Wrong passwords, each with the login page's CSRF token, as fast as the server takes them."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{dashboard}/dashboard/login", timeout=60).read().decode()
    while not stop.is_set():
        match = _TOKEN.search(page)
        form = {
            "username": "nobody",
            "password": "wrong",
            "csrf_token": match.group(1) if match else "",
        }
        started = time.monotonic()
        try:
            with opener.open(
                f"{dashboard}/dashboard/login", urllib.parse.urlencode(form).encode(), timeout=60
            ) as response:
                page = response.read().decode()
        except OSError:
            page = opener.open(f"{dashboard}/dashboard/login", timeout=60).read().decode()
            continue  # a refused attempt is not the load this test means to make
        latencies.append(time.monotonic() - started)


def webhook_times_under_flood(dashboard: str, webhooks: str) -> tuple[list[float], list[float]]:
    stop = threading.Event()
    dashboard_latencies: list[float] = []
    flooders = [
        threading.Thread(target=flood, args=(dashboard, stop, dashboard_latencies))
        for _ in range(FLOODERS)
    ]
    for thread in flooders:
        thread.start()
    time.sleep(2)  # the dashboard's queue fills up
    probe = TimedCall(webhooks, AUTH_TOKEN)
    for _ in range(PROBES):
        probe.sid = TimedCall(webhooks, AUTH_TOKEN).sid
        probe.params["CallSid"] = probe.sid
        status, _ = probe.post("/twilio/voice")
        assert status == 200
        time.sleep(0.2)
    stop.set()
    for thread in flooders:
        thread.join()
    return [seconds for _, seconds in probe.times], dashboard_latencies


def test_a_dashboard_flood_does_not_slow_the_webhook_pool(two_pools, env):
    pooled, dashboard = webhook_times_under_flood(*two_pools)
    median = statistics.median(pooled)
    flooded = statistics.median(dashboard)
    print(f"\nwebhook median {median * 1000:.0f} ms, max {max(pooled) * 1000:.0f} ms under a "
          f"dashboard flood (dashboard median {flooded * 1000:.0f} ms)")  # fmt: skip
    assert flooded > 0.3  # the flood really does fill the dashboard's pool
    assert median < 0.25 and max(pooled) < 1


def test_the_same_flood_slows_a_single_pool_serving_both(one_pool):
    shared, dashboard = webhook_times_under_flood(*one_pool)
    median = statistics.median(shared)
    print(f"\none pool for both: webhook median {median * 1000:.0f} ms under the same flood")
    # What the separate pool avoids: the webhook waits in line behind the login attempts.
    assert median > 0.25
