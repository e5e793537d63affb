"""Database access: one engine per app, one session per request (or per job), SQLAlchemy 2 style."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """The engine and session factory for one database URL."""

    def __init__(self, url: str, connect_timeout: float = 3.0) -> None:
        self.url = url
        self.engine = make_engine(url, connect_timeout)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.closed = False  # set by dispose(): background threads using it then stop
        self._closing: list[Callable[[], None]] = []

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def on_dispose(self, stop: Callable[[], None]) -> None:
        """Call `stop` (wake a background thread and wait for it to end) before disposing."""
        self._closing.append(stop)

    def dispose(self) -> None:
        self.closed = True
        for stop in self._closing:
            stop()
        self.engine.dispose()


# A pooled connection is recycled after this long, and checked (SELECT 1) on checkout only after
# sitting idle this long: a busy pool pays no ping per request, one the server may have dropped
# meanwhile (a restart, an idle timeout at a proxy) is replaced before a request can see it.
RECYCLE_SECONDS = 1800
IDLE_PING_SECONDS = 10.0


def make_engine(url: str, connect_timeout: float = 3.0) -> Engine:
    """Create an engine tuned for webhooks: fail fast when the database is down."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": connect_timeout, "check_same_thread": False}
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets gunicorn's processes read while one writes; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(connect_timeout * 1000)}")
            # An erased callback number is overwritten on disk, not just unlinked from the page.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        timeout_ms = int(connect_timeout * 1000)
        kwargs["connect_args"] = {
            # libpq's minimum is 2 s.
            "connect_timeout": max(2, int(connect_timeout)),
            # A server that vanished without closing the connection (a cut network, a killed VM)
            # is noticed in seconds, not after the kernel's two hours of keepalive defaults.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": timeout_ms,
            # A stuck query must not hold a webhook past Twilio's 15 s limit; a transaction left
            # open by a process that was killed must not hold its locks for long.
            "options": (
                f"-c statement_timeout={timeout_ms * 2} -c lock_timeout={timeout_ms} "
                "-c idle_in_transaction_session_timeout=30000"
            ),
        }
        kwargs["pool_timeout"] = connect_timeout
        kwargs["pool_recycle"] = RECYCLE_SECONDS
    engine = create_engine(url, **kwargs)
    ping_idle_connections(engine)
    return engine


def ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection on checkout only when it sat idle IDLE_PING_SECONDS or more.

    A dead one raises DisconnectionError here, which makes the pool drop it and connect afresh
    (the same as pool_pre_ping, without a round trip on every checkout of a busy pool).
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:
            raise DisconnectionError(type(exc).__name__) from exc


def init_app(app: Flask) -> None:
    """Attach the database to the app and close each request's session when it ends."""
    settings = app.config["SETTINGS"]
    app.extensions["db"] = Database(settings.database_url, settings.db_timeout_seconds)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_db() -> Database:
    return current_app.extensions["db"]


def get_session() -> Session:
    """The current request's session, created on first use."""
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    return g.db_session
