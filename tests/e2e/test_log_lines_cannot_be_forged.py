"""A request cannot write a line of its own into the logs: control characters in a path (a
URL's %0a is decoded into it) are escaped in gunicorn's access log, as in the app's log lines
(tests/unit/test_logs.py)."""

from __future__ import annotations

import time
from pathlib import Path

import requests

FORGED = "2026-12-01 00:00:00 INFO forged-by-a-caller"


def test_a_line_break_or_escape_in_a_path_is_escaped_in_the_access_log(
    server: tuple[str, dict[str, str], Path],
) -> None:
    base_url, _env, log_path = server
    path = "/twilio/nowhere%0a2026-12-01%2000:00:00%20INFO%20forged-by-a-caller%1b[2J%e2%80%a8x"
    assert requests.post(base_url + path, timeout=10).status_code == 404
    deadline = time.monotonic() + 10
    while "forged-by-a-caller" not in log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "no access log line"
        time.sleep(0.1)
    text = log_path.read_text(errors="replace")
    (line,) = [line for line in text.splitlines() if "forged-by-a-caller" in line]
    assert f'"POST /twilio/nowhere\\x0a{FORGED}\\x1b[2J' in line
    assert not any(line.startswith(FORGED) for line in text.splitlines())
    raw = log_path.read_bytes()
    # No escape, and no U+2028 (a line break to many log viewers): WSGI hands the path over as
    # latin-1, so its UTF-8 bytes arrive as C1 controls, which are escaped too.
    assert b"\x1b" not in raw and "\u2028".encode() not in raw
