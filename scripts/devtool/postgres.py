"""PostgreSQL for the tests: a check by a real login, and a throwaway cluster from the pgserver
wheel's binaries when the machine has none."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

from .children import Child
from .common import VENV, VENV_PY, DevError, free_port, last_line, say, tcp_open, wait_until
from .venv import venv_python

# The pgserver wheel carries PostgreSQL's binaries; we use only those, not its Python module.
PGSERVER_REQUIREMENT = "pgserver>=0.1.4,<0.2"
PGSERVER_DIR = VENV / "opt" / "pgserver"
UNPRIVILEGED_USER = "nobody"  # PostgreSQL refuses to run as root


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
    return None if result.returncode == 0 else last_line(result.stderr)


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
            raise DevError(f"initdb failed: {last_line(init.stderr or init.stdout)}")
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
