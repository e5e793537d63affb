"""What every part of ./dev shares: project paths, output, errors, signals, sockets."""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent.parent
VENV = ROOT / ".venv"
VENV_BIN = VENV / "bin"
VENV_PY = VENV_BIN / "python"
VAR = ROOT / "var"
REDIS_DIR = VAR / "redis"  # the embedded Redis's data (AOF) for ./dev run


def say(message: str) -> None:
    """Print one line of ./dev's own output (on stderr: `./dev shell-env` keeps stdout clean)."""
    emit(f"[dev] {message}", sys.stderr)


def emit(line: str, stream: IO[str] | None = None) -> None:
    """Print a line; a closed stdout (e.g. `| tee` ended by Ctrl-C) must not stop the cleanup."""
    with contextlib.suppress(OSError):
        print(line, file=stream or sys.stdout, flush=True)


class DevError(Exception):
    """A problem ./dev explains to the user and exits on (status 1, or `code`)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Stop(Exception):
    """Raised in the main thread by SIGTERM / SIGHUP so that cleanup runs as for Ctrl-C."""


# --- small network helpers ---------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts a TCP connection on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def raw_redis_ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """PING a password-less Redis with a bare socket (no venv needed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, for printing."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def wait_until(check: Callable[[], bool], seconds: float, alive: Callable[[], bool]) -> bool:
    """Poll `check` until it is true, `alive` turns false, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        if not alive():
            return False
        time.sleep(0.1)
    return check()


def ignore_signal(_signum: int, _frame: object) -> None:
    """A do-nothing handler: unlike SIG_IGN, children do not inherit it."""


def install_stop_signals() -> None:
    """Make SIGINT, SIGTERM and SIGHUP unwind the main thread (and so stop the children)."""

    def _raise(signum: int, _frame: object) -> None:
        raise Stop(signal.Signals(signum).name)

    # Even when started with SIGINT ignored (a background job of a script), Ctrl-C must work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGHUP, _raise)


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (our own local server)
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (404 included) means the app is up
    except OSError:
        return False
