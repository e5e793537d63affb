"""The long-running children of ./dev (web, worker, Redis, PostgreSQL, the Twilio stand-in)."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .common import ROOT, emit, say


class Child:
    """A long-running child in its own process group, its output printed with a name prefix."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        stop_signal: int = signal.SIGTERM,
        log: IO[str] | None = None,
        quiet: bool = False,
        **popen_kwargs: object,
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.quiet = quiet
        self.stop_requested = False
        self.tail: collections.deque[str] = collections.deque(maxlen=20)  # shown if it dies
        # Its own session: Ctrl-C reaches only ./dev, which then stops children in order.
        self.process = subprocess.Popen(  # type: ignore[call-overload]
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log if log is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
            **popen_kwargs,
        )
        self._reader: threading.Thread | None = None
        if log is None:
            self._reader = threading.Thread(target=self._pump, daemon=True)
            self._reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if self.quiet:
                self.tail.append(line.rstrip())
            else:
                emit(f"{self.name:>9} | {line.rstrip()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def returncode(self) -> int | None:
        return self.process.poll()

    def request_stop(self) -> None:
        """Send the child its stop signal (gunicorn and RQ then finish what they are doing)."""
        self.stop_requested = True
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, self.stop_signal)

    def stop(self, timeout: float = 25.0) -> None:
        """Ask the child to stop, wait, then kill its whole process group: no orphans."""
        if self.alive():
            if not self.stop_requested:
                # Once only: a second SIGTERM makes RQ's worker kill the job it is running.
                self.request_stop()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                say(f"{self.name} did not stop within {timeout:.0f} s: killing it")
        # Anything left in its group (gunicorn workers, an RQ work horse...) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        if self._reader is not None:
            self._reader.join(2)

    def describe_exit(self) -> str:
        code = self.returncode()
        if code is None:
            return f"{self.name} is running"
        if self.stop_requested and code in (0, -self.stop_signal):
            return f"{self.name} stopped"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"{self.name} was killed by {signal.Signals(-code).name}"
        return f"{self.name} exited with status {code}"
