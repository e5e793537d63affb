"""The app's logging as a process sets it up: every handler masks numbers, in tracebacks too."""

from __future__ import annotations

import os
import subprocess
import sys

from support import test_env

from workers.callbacks import JobFailed

SID = "CA" + "0123456789abcdef" * 2

# A fresh interpreter, as gunicorn's workers and `hotline worker` are: create_app configures the
# root logger; then a failure whose message, cause and frame arguments hold a caller's number.
PROGRAM = f"""
import logging
from hotline import create_app

create_app()
log = logging.getLogger("hotline.telephony.dialing")

def route(caller):
    raise ValueError(f"no route for {{caller}}")

try:
    try:
        route("+77015550123")
    except ValueError as cause:
        raise RuntimeError("dial failed, From=%2B77015550123") from cause
except RuntimeError as exc:
    log.error("call %s: routing failed (%s)", "{SID}", exc, exc_info=exc)
"""


def test_a_logged_failure_keeps_its_message_traceback_and_callsid_but_not_the_number(tmp_path):
    env = {**os.environ, **test_env(DATABASE_URL=f"sqlite:///{tmp_path}/x.db")}
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert f"call {SID}: routing failed (dial failed, From=[redacted-number])" in log
    assert "Traceback (most recent call last)" in log and ", in route" in log
    assert "ValueError: no route for [redacted-number]" in log  # the cause, with its message
    assert "5550123" not in log and "555 01 23" not in log


def test_a_failed_jobs_stored_message_is_masked_too():
    # RQ keeps a failed job's exception in Redis, where no logging filter runs.
    failed = JobFailed(ValueError("Twilio refused +7 701 555 01 23"))
    assert str(failed) == "ValueError: Twilio refused [redacted-number]"
