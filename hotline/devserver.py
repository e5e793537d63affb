"""Start a real gunicorn serving the hotline, for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_pair(low: int = 20000, high: int = 32000) -> int:
    """A port P with P and P+1 both free, below Linux's ephemeral range (32768-60999): a port
    from that range may be taken as the local end of any outgoing connection (a health check, a
    Redis client) before a server binds it, which is how `./dev run`'s PORT+1 was lost once."""
    for _ in range(200):
        port = random.randrange(low, high - 1)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no two free neighbouring ports between {low} and {high}")


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@contextmanager
def gunicorn_server(
    env: Mapping[str, str],
    port: int,
    workers: int = 2,
    log_path: Path | None = None,
    app: str = "hotline:create_app()",
    threads: int = 1,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `hotline db upgrade`, then gunicorn serving `app` on 127.0.0.1:port until the end."""
    full_env = {**os.environ, **env}
    subprocess.run(
        [_bin("hotline"), "db", "upgrade"], env=full_env, check=True, capture_output=True
    )
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [
            _bin("gunicorn"),
            "--config",
            str(PROJECT_ROOT / "config" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *(["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []),
            app,
        ],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        if log_path:
            log.close()  # type: ignore[union-attr]


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - localhost only
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer {url} within {seconds} s")
