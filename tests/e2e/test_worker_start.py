"""Webhook workers that start warm: the Twilio pool never loads the dashboard, and a worker that is
replaced (a crash, a recycle) serves again within a moment, forked from the preloaded master."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from support import test_env

from hotline.devserver import free_port, gunicorn_server

# What only the dashboard needs: its pages, translations, password hashing and checks, forms.
DASHBOARD_ONLY = ("hotline.dashboard", "flask_babel", "babel", "argon2", "zxcvbn", "jinja2.ext")


def test_the_webhook_app_does_not_import_the_dashboard(tmp_path: Path) -> None:
    code = (
        "import sys, hotline; hotline.create_webhooks_app(); print('\\n'.join(sorted(sys.modules)))"
    )
    env = {**os.environ, **test_env(DATABASE_URL=f"sqlite:///{tmp_path / 'h.db'}")}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    modules = result.stdout.split()
    assert "hotline.telephony.webhooks" in modules
    loaded = [m for m in modules if any(m == p or m.startswith(p + ".") for p in DASHBOARD_ONLY)]
    assert loaded == []


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=0.2):  # noqa: S310 - localhost
            return True
    except OSError:
        return False


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def test_a_replaced_webhook_worker_serves_again_within_a_moment(tmp_path: Path) -> None:
    port = free_port()
    env = test_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'h.db'}",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        HOTLINE_SPOOL_DIR=str(tmp_path / "spool"),
    )
    with gunicorn_server(env, port, workers=1, app="hotline:create_webhooks_app()", threads=8,
                         log_path=tmp_path / "gunicorn.log") as process:  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        master = process.pid
        (worker,) = _workers(master)
        os.kill(worker, signal.SIGKILL)  # a crashed (or recycled) worker
        killed = time.monotonic()
        while time.monotonic() - killed < 10 and not _answers(url):
            time.sleep(0.01)
        back_after = time.monotonic() - killed
    # Building the app in the new worker takes about 0.6 s here (its imports are mostly warm: the
    # master checked the files); a fork of the preloaded master answers in well under 0.1 s.
    assert back_after < 0.3, f"the pool answered again only {back_after:.2f} s after the crash"
