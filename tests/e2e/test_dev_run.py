"""`./dev run` as a developer runs it, in a checkout of its own (a copy of the project's top level
sharing this .venv), so its var/ (dev.env, SQLite file, embedded Redis) is the test's alone.

A broken flow stops it with the list of problems and nothing else. A working one starts the
embedded Redis, the local stand-in for Twilio's REST API, gunicorn and a worker on another PORT;
`./dev simulate`, run without PORT, finds that port; a callback requested in the call is placed by
the worker through the stand-in and answered by the simulator, the volunteer's phone first, then
the caller's, end to end; the call's record holds its real duration. Ctrl-C stops it all, warmly.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from privacy_scan import scan_lines

from hotline.devserver import free_port_pair
from hotline.settings import PROJECT_ROOT

CALLER = "+77010000000"  # hotline simulate's default caller
VOLUNTEER = "+77011110077"
HOTLINE = "+77000000000"  # HOTLINE_PHONE_NUMBER in a generated var/dev.env
# Variables a developer's shell might set that would point this run elsewhere.
UNSET = (
    "PORT", "PUBLIC_BASE_URL", "REDIS_URL", "DATABASE_URL", "TWILIO_API_BASE_URL",
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "HOTLINE_PHONE_NUMBER", "SECRET_KEY",
    "PSEUDONYM_KEY", "CALLBACK_ENCRYPTION_KEYS", "HOTLINE_FLOWS_DIR", "HOTLINE_CONFIG_DIR",
    "WEB_CONCURRENCY", "LOG_LEVEL",
)  # fmt: skip
ROSTER = f"""
volunteers:
  - handle: zarina
    display_name: Zarina
    phone: "{VOLUNTEER}"
    roles: [psychologist]
    topics: [violence]
    languages: [ru]
    shifts:
      - days: [mon, tue, wed, thu, fri, sat, sun]
        start: "00:00"
        end: "24:00"
"""


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's top level, copied (./dev finds ROOT from its own path), with this .venv."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copy2(PROJECT_ROOT / "dev", root / "dev")
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")  # the venv's stamp
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("scripts", "config", "ivr_flows"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder, ignore=ignore)
    (root / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    return root


def dev_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    return {**env, **extra}


def dev(checkout: Path, *args: str, timeout: float = 120, **extra: str):
    return subprocess.run(
        [str(checkout / "dev"), *args],
        cwd=checkout,
        env=dev_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class DevRun:
    """A `./dev run` in the background; its output collected line by line."""

    def __init__(self, checkout: Path, port: int) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(checkout / "dev"), "run"],
            cwd=checkout,
            env=dev_env(PORT=str(port)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C is sent to it alone, as a terminal would
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from ./dev run:\n" + "\n".join(self.lines))
            time.sleep(0.2)

    def ctrl_c(self, timeout: float = 90) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout)
        self.reader.join(10)
        return code

    def stop(self) -> None:
        """After a failed test: Ctrl-C, so ./dev stops its children (each in a session of its own,
        which a kill of ./dev would leave running); a kill only if that does not end it."""
        if self.process.poll() is not None:
            return
        try:
            self.ctrl_c()
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def running(checkout: Path) -> Iterator[tuple[DevRun, int]]:
    port = free_port_pair()  # PORT for the webhooks, PORT+1 for the dashboard
    run = DevRun(checkout, port)
    try:
        run.wait_for("./dev hotline users create", timeout=120)  # the banner's last command
        yield run, port
    finally:
        run.stop()  # a no-op once the test pressed Ctrl-C


def test_a_broken_flow_stops_dev_run_with_the_list_of_problems_and_nothing_else(checkout, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(PROJECT_ROOT / "ivr_flows", flows)
    broken = flows / "default.yaml"
    broken.write_text(broken.read_text().replace("next: language", "next: languag", 1))
    started = time.monotonic()
    result = dev(checkout, "run", PORT=str(free_port_pair()), HOTLINE_FLOWS_DIR=str(flows))
    assert result.returncode == 1
    assert time.monotonic() - started < 60
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    # ./dev's own notes about var/dev.env (a first run writes it) and the port it follows.
    lines = [line for line in lines if not line.startswith(("[dev] writing", "[dev] PORT="))]
    assert lines[0] == "The hotline cannot start; fix these files:", lines
    assert lines[1] == f"  - {broken}: node 'greeting': next targets unknown node 'languag'"
    assert lines[2].startswith("[dev] error: nothing was started: fix the problems above")
    assert len(lines) == 3, lines  # no traceback, no web, worker or Redis output
    assert not (checkout / "var" / "hotline.db").exists()  # not even the migrations ran


def test_a_callback_requested_in_a_local_run_rings_both_simulated_phones_end_to_end(
    checkout: Path, running: tuple[DevRun, int], tmp_path: Path
) -> None:
    run, port = running
    assert any(f"Webhooks listen on    http://127.0.0.1:{port}" in line for line in run.lines)
    # The dashboard runs in a pool of its own, on the next port.
    dashboard = f"http://127.0.0.1:{port + 1}/dashboard/"
    assert any(f"Dashboard             {dashboard}" in line for line in run.lines)
    with urllib.request.urlopen(dashboard.replace("/dashboard/", "/healthz"), timeout=5) as answer:
        assert answer.status == 200
    assert any("Twilio's REST API     http://127.0.0.1:" in line for line in run.lines)
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    imported = dev(checkout, "hotline", "roster", "import", str(roster))
    assert imported.returncode == 0, imported.stderr

    # No PORT here: ./dev simulate calls the port that runs. Nobody answers the call; the caller
    # asks for a callback, at any time, anonymously; then the simulator answers the callback.
    started = time.monotonic()
    simulated = dev(
        checkout, "simulate", "--keys", "2,1,1,1,1,2", "--volunteer-answers", "*=no-answer",
        "--answer-callback", "--talk", "1",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    out = simulated.stdout
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    assert f"Calling http://127.0.0.1:{port}/twilio/voice" in out
    assert "Консультант перезвонит вам" in out  # the callback was confirmed
    volunteer, caller = out.split("The volunteer's phone")[1].split("The caller's phone")
    assert volunteer.startswith(f" (ending in {VOLUNTEER[-2:]}) rings, from {HOTLINE}")
    assert "volunteer hears: Тема - насилие." in volunteer
    assert "volunteer hears: Абонент говорит по-русски." in volunteer
    assert "  > 1" in volunteer  # accepted
    assert caller.startswith(f" (ending in {CALLER[-2:]}) rings, from {HOTLINE}")
    assert "-- connected --" in caller

    database = sqlite3.connect(checkout / "var" / "hotline.db")
    try:
        ((status, erased),) = database.execute(
            "SELECT status, number_ciphertext IS NULL FROM callback_requests"
        ).fetchall()
        ((outcome, duration),) = database.execute(
            "SELECT outcome, duration_seconds FROM call_records"
        ).fetchall()
    finally:
        database.close()
    assert (status, erased) == ("completed", 1)  # connected, and the number destroyed
    assert outcome == "callback_requested"
    assert duration is not None and duration <= elapsed  # the call's real length, not made up

    lines = list(run.lines)
    assert any("callback 1: ringing volunteer" in line for line in lines)  # the worker placed it
    assert any(line.lstrip().startswith("twilio | CA") and "answered" in line for line in lines)
    assert scan_lines(lines, CALLER) == [] and scan_lines(lines, VOLUNTEER) == []

    assert run.ctrl_c() == 0
    assert (
        "[dev] stopped: redis stopped, twilio stopped, web stopped, dashboard stopped, "
        "worker stopped" in run.lines
    )
    assert not any("cold shut down" in line for line in run.lines)  # jobs were let finish
    assert not (checkout / "var" / "dev-run.json").exists()
