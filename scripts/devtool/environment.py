"""The local development environment: var/dev.env (made on first use), the shell's variables over
it, and what a running `./dev run` publishes in var/dev-run.json for the other commands."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import secrets
import urllib.parse
from pathlib import Path

from .common import ROOT, VAR, VENV, VENV_BIN, DevError, say, tcp_open

DEV_ENV_FILE = VAR / "dev.env"
# Written by `./dev run` once everything is up, removed when it stops: where the running hotline
# listens and what it was started with, so `./dev simulate` and `./dev hotline` reach that one.
RUN_STATE_FILE = VAR / "dev-run.json"
RUN_SETTINGS = ("PUBLIC_BASE_URL", "REDIS_URL", "TWILIO_API_BASE_URL")
DEFAULT_PORT = 5000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def generated_settings(port: int) -> dict[str, str]:
    """Fresh local-only values for every required setting (never for production)."""
    return {
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "HOTLINE_PHONE_NUMBER": "+77000000000",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PSEUDONYM_KEY": secrets.token_urlsafe(48),
        # A Fernet key is 32 random bytes, url-safe base64: no need for `cryptography` here.
        "CALLBACK_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }


ENV_FILE_HEADER = """\
# Local development settings for ./dev, made on {date}.
# Secrets generated for this machine only: never use them in production.
# A variable set in your shell wins over this file. To take real Twilio calls, put your
# account's TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and HOTLINE_PHONE_NUMBER here, and set
# PUBLIC_BASE_URL to the public https URL that forwards to this machine (e.g. a tunnel).
# DATABASE_URL defaults to sqlite:///var/hotline.db; REDIS_URL unset = embedded Redis.
"""


def ensure_dev_env_file() -> dict[str, str]:
    """Create var/dev.env on first use (and add any setting it lacks); return its values."""
    VAR.mkdir(exist_ok=True)
    port = port_from(os.environ)
    existing = read_env_file(DEV_ENV_FILE) if DEV_ENV_FILE.exists() else None
    fresh = generated_settings(port)
    if existing is None:
        say(f"writing {DEV_ENV_FILE.relative_to(ROOT)} with generated local secrets")
        text = ENV_FILE_HEADER.format(date=dt.date.today().isoformat())
        text += "".join(f"{key}={value}\n" for key, value in fresh.items())
        _write_private(DEV_ENV_FILE, text)
        return fresh
    missing = {k: v for k, v in fresh.items() if k not in existing}
    if missing:
        say(f"adding {', '.join(missing)} to {DEV_ENV_FILE.relative_to(ROOT)}")
        text = DEV_ENV_FILE.read_text()
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(f"{key}={value}\n" for key, value in missing.items())
        _write_private(DEV_ENV_FILE, text)
        existing.update(missing)
    return existing


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines (comments, blank lines, `export ` and quotes allowed)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise DevError(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def dev_environment(for_run: bool = False) -> dict[str, str]:
    """The environment for the hotline's processes: the shell's, then var/dev.env, then .venv.

    For every command but `./dev run` itself, a running `./dev run` comes before var/dev.env:
    its PUBLIC_BASE_URL (so PORT=5001 ./dev run, then ./dev simulate, reaches port 5001), its
    embedded Redis and its Twilio stand-in, unless the shell sets them.
    """
    file_values = ensure_dev_env_file()
    env = dict(os.environ)
    running = None if for_run else running_dev_run()
    if running is not None:
        say(f"with the ./dev run running on port {running['port']}")
        for key in RUN_SETTINGS:
            if not env.get(key, "").strip() and running.get(key):
                env[key] = running[key]
    for key, value in file_values.items():
        if not env.get(key, "").strip():
            env[key] = value
    if running is None:
        _follow_port(env)
    return with_venv_path(env)


def _follow_port(env: dict[str, str]) -> None:
    port = port_from(env)
    base = env["PUBLIC_BASE_URL"].rstrip("/")
    parsed = urllib.parse.urlsplit(base)
    if (
        not os.environ.get("PUBLIC_BASE_URL")
        and parsed.hostname in LOCAL_HOSTS
        and (parsed.port or 80) != port
    ):
        # The generated local URL follows PORT, so that signatures and simulate keep matching.
        env["PUBLIC_BASE_URL"] = f"{parsed.scheme}://{parsed.hostname}:{port}"
        say(f"PORT={port}: using PUBLIC_BASE_URL={env['PUBLIC_BASE_URL']}")


def is_local(url: str) -> bool:
    """Whether `url` is this machine (Twilio cannot reach it: nothing real can call back)."""
    return urllib.parse.urlsplit(url).hostname in LOCAL_HOSTS


def publish_run(port: int, env: dict[str, str]) -> None:
    """Say where this `./dev run` listens, for the other ./dev commands (var/dev-run.json)."""
    state = {"pid": os.getpid(), "port": port, **{k: env.get(k, "") for k in RUN_SETTINGS}}
    RUN_STATE_FILE.write_text(json.dumps(state, indent=1) + "\n")


def unpublish_run() -> None:
    """Remove var/dev-run.json if this process wrote it."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(RUN_STATE_FILE.read_text()).get("pid") == os.getpid():
            RUN_STATE_FILE.unlink()


def running_dev_run() -> dict[str, str] | None:
    """What a `./dev run` running now published (its port and settings), or None."""
    with contextlib.suppress(OSError, ValueError, TypeError):
        state = json.loads(RUN_STATE_FILE.read_text())
        pid, port = int(state["pid"]), int(state["port"])
        os.kill(pid, 0)  # raises when no such process
        if tcp_open("127.0.0.1", port, 0.5):
            return {
                "pid": str(pid),
                "port": str(port),
                **{k: state.get(k, "") for k in RUN_SETTINGS},
            }
    return None


def with_venv_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with .venv/bin first on PATH, unbuffered Python output."""
    env = dict(env)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONHOME", None)
    return env


def port_from(env: dict[str, str] | os._Environ[str]) -> int:
    """PORT from `env` (default 5000), checked."""
    raw = env.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DevError(f"PORT must be a TCP port number, got {raw!r}")
    return int(raw)
