"""Where call-record events wait for the database: a Redis list, or a file on this host.

The webhooks append events (hotline.calllog.journal) and go on answering the caller; a background
thread in every web process (the applier) writes them to the database in order, within
milliseconds while it is well; when it is slow or down, the events stay queued until it is back.
Only a webhook whose events go to this host's spool waits (up to WAIT_SECONDS, see below) for
them to be written. Nothing is lost while either store holds the events:
- Redis up: one list, hotline:journal, shared by every process and host (FIFO, so in order);
  one drainer at a time (a lease in Redis); `pushed` and `done` counters say how far it got.
- Redis down (or not configured): HOTLINE_SPOOL_DIR/<database>/journal.jsonl on this host,
  appended under a file lock, fsynced, and drained the same way when the database answers.
An event the database refuses for a reason other than being unreachable (a bug) is set aside in
hotline:journal:dead (or dead.jsonl) with a log line, so it cannot block the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..db import Database
from ..logs import cause
from ..lua import LuaScript
from ..models import AppliedEvent, VolunteerClaim, WebhookReply, utcnow
from ..redis_conn import RedisGate
from . import journal
from .journal import Event

log = logging.getLogger(__name__)

JOURNAL, PUSHED, DONE = "hotline:journal", "hotline:journal:pushed", "hotline:journal:done"
LEASE, DEAD = "hotline:journal:lease", "hotline:journal:dead"
BATCH = 50
LEASE_MS = 30_000
# While Redis holds the journal, no webhook waits for its events to be written: the shared list
# keeps them in order, the writer is woken at once and has them in the database within
# milliseconds, and nothing on the call path reads the records back while Redis holds the claims
# (waiting would only delay the caller's answer by the writer's round trips, and under a burst by
# everyone's records). With Redis away, the events go to this host's spool and claims are taken in
# the database, which reads the ring attempts: there a webhook waits at most WAIT_SECONDS for its
# own events (except the menu's, NOT_WAITED_FOR: nothing reads them), and gives up as soon as the
# writing stalls for STALL_SECONDS (the database is slow or down) or this process saw it slow.
WAIT_SECONDS = 2.0
NOT_WAITED_FOR = frozenset({"opened", "step"})
STALL_SECONDS = 0.75
SLOW_BATCH_SECONDS = 1.5  # a batch slower than this means the database is not well
IDLE_SECONDS = 1.0
POLL_SECONDS = 0.005
HOUSEKEEPING_SECONDS = 600


class DatabaseDown(Exception):
    """The database cannot be reached (or is too slow): keep the events and try later."""


# SQLite reports a schema behind the code (a migration not run) with OperationalError, the class
# of its real outages too: these messages mean "this write is wrong", not "try later".
_SCHEMA_REFUSALS = ("no such table", "no such column", "has no column named")


def unreachable(exc: BaseException) -> bool:
    """Whether a database error means "not reachable now" rather than "this write is wrong"."""
    if isinstance(exc, OperationalError) and any(m in str(exc.orig) for m in _SCHEMA_REFUSALS):
        return False
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def dead_connection(exc: BaseException) -> bool:
    """Whether the error is a pooled connection found closed: the pool has dropped it already."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


ApplyBatch = Callable[[Sequence[Event], Callable[[], None]], int]


def apply_batch(db: Database, items: Sequence[Event], keep_alive: Callable[[], None]) -> int:
    """Write events in order; the count written (all, or raise DatabaseDown)."""
    for attempt in range(2):
        try:
            with db.session() as session:
                journal.apply_many(session, items)
            keep_alive()
            return len(items)
        except Exception as exc:
            if attempt == 0 and dead_connection(exc):
                continue  # the server closed an idle connection (a restart): once more, afresh
            if unreachable(exc):
                raise DatabaseDown(type(exc).__name__) from None
            break  # something in the batch is refused: write them one at a time to find it
    for item in items:
        _apply_alone(db, item)
        keep_alive()
    return len(items)


def _apply_alone(db: Database, item: Event) -> None:
    for attempt in range(2):
        try:
            with db.session() as session:
                journal.apply(session, item)
            return
        except IntegrityError:
            if attempt == 0:
                continue  # another writer created the record meanwhile: once more
            _set_aside(item, "integrity")
            return
        except Exception as exc:
            if unreachable(exc):
                raise DatabaseDown(type(exc).__name__) from None
            _set_aside(item, type(exc).__name__)
            return


_dead_letters: list[Event] = []  # filled by _set_aside, emptied by the applier into its store


def _set_aside(item: Event, why: str) -> None:
    log.error("call event %s (%s) could not be written (%s): set aside", item.get("id"),
              item.get("kind"), why)  # fmt: skip
    _dead_letters.append(item)


# --- Redis ------------------------------------------------------------------------------------

_PUSH = LuaScript("""
local n = redis.call('INCRBY', KEYS[2], #ARGV)
for _, v in ipairs(ARGV) do redis.call('RPUSH', KEYS[1], v) end
return n
""")
# The same, once per request key (KEYS[3], kept ARGV[1] ms): a repeat of a request answered
# without a reply lease (hotline.telephony.guard) pushes nothing.
_PUSH_ONCE = LuaScript("""
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[1]) then
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
local n = redis.call('INCRBY', KEYS[2], #ARGV - 1)
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
return n
""")
SEEN, SEEN_MS = "hotline:journal:seen:", 600_000  # as long as a stored reply is kept
_POP = """
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('LTRIM', KEYS[1], tonumber(ARGV[2]), -1)
local done = redis.call('INCRBY', KEYS[2], tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[3]))
return done
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def push(redis: Redis, items: Sequence[Event], once: str | None = None) -> int:
    """Append events to the shared journal; the sequence number of the last one.

    With `once` (a request key), only the first push for that key appends anything.
    """
    payload = [json.dumps(item, separators=(",", ":")) for item in items]
    if once is None:
        return int(_PUSH(redis, [JOURNAL, PUSHED], payload))
    return int(_PUSH_ONCE(redis, [JOURNAL, PUSHED, SEEN + once], [SEEN_MS, *payload]))


def done_count(redis: Redis) -> int:
    """How many events of the shared journal have been written to the database."""
    return int(redis.get(DONE) or 0)


def drain_redis(
    redis: Redis, apply: ApplyBatch, owner: str, progressed: Callable[[int], None] = lambda _: None
) -> int:
    """Write queued events while this process holds the lease; the count written.

    `progressed` is called with the journal's done count after each batch is marked done (to
    wake this process's waiters).
    """
    written = 0
    while redis.set(LEASE, owner, nx=True, px=LEASE_MS):
        try:
            while True:
                raw = redis.lrange(JOURNAL, 0, BATCH - 1)
                if not raw:
                    break
                items = [json.loads(value) for value in raw]
                count = apply(items, lambda: _renew(redis))
                done = redis.eval(_POP, 3, JOURNAL, DONE, LEASE, owner, count, LEASE_MS)
                if not done:
                    return written  # the lease lapsed; its new holder goes on from here
                written += count
                progressed(int(done))
                for dead in _take_dead_letters():
                    redis.rpush(DEAD, json.dumps(dead))
        finally:
            redis.eval(_RELEASE, 1, LEASE, owner)
        # Events pushed after our last read found the lease still ours, so their own process's
        # writer gave up on it: they would wait for the next wake (up to IDLE_SECONDS, while
        # their webhook waited for them). Now that the lease is free, look once more.
        if not redis.llen(JOURNAL):
            break
    return written


def _renew(redis: Redis) -> None:
    redis.pexpire(LEASE, LEASE_MS)


def _take_dead_letters() -> list[Event]:
    taken = list(_dead_letters)
    del _dead_letters[: len(taken)]
    return taken


# --- this host's files ----------------------------------------------------------------------


class LocalSpool:
    """journal.jsonl on this host, for when Redis is unreachable; drained like the list."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextlib.contextmanager
    def _locked(self, name: str, block: bool = True) -> Iterator[bool]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / name, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, items: Sequence[Event]) -> int:
        """Add events durably (fsync) before the webhook answers; the last one's number."""
        with self._locked("append.lock"):
            seq = self._read_count("pushed")
            numbered = [dict(item, spool_seq=seq + n) for n, item in enumerate(items, start=1)]
            lines = "".join(json.dumps(i, separators=(",", ":")) + "\n" for i in numbered)
            with open(self.directory / "journal.jsonl", "a") as out:
                out.write(lines)
                out.flush()
                os.fsync(out.fileno())
            self._write_count("pushed", seq + len(items))
        return seq + len(items)

    def done_count(self) -> int:
        """The number of the last event written to the database (0 if none yet)."""
        return self._read_count("done")

    def _read_count(self, name: str) -> int:
        try:
            return int((self.directory / name).read_text() or 0)
        except (OSError, ValueError):
            return 0

    def _write_count(self, name: str, value: int) -> None:
        temporary = self.directory / f"{name}.tmp"
        temporary.write_text(str(value))
        temporary.replace(self.directory / name)

    def pending(self) -> bool:
        """Whether any event is still waiting in this host's files."""
        if not self.directory.is_dir():
            return False
        return any(p.name.endswith(".jsonl") and p.name != "dead.jsonl"
                   for p in self.directory.iterdir())  # fmt: skip

    def drain(self, apply: ApplyBatch) -> int:
        """Write the waiting events in order (one drainer per host); the count written."""
        if not self.pending():
            return 0
        written = 0
        with self._locked("drain.lock", block=False) as mine:
            if not mine:
                return 0
            with self._locked("append.lock"):
                current = self.directory / "journal.jsonl"
                if current.exists():
                    current.rename(self.directory / f"draining-{time.time_ns():020d}.jsonl")
            for path in sorted(self.directory.glob("draining-*.jsonl")):
                items = [json.loads(line) for line in path.read_text().splitlines() if line]
                while items:
                    try:
                        count = apply(items[:BATCH], lambda: None)
                    except DatabaseDown:
                        self._rewrite(path, items)
                        raise
                    written += count
                    last = items[count - 1].get("spool_seq") if count else None
                    if last is not None and last > self.done_count():
                        self._write_count("done", int(last))
                    items = items[count:]
                    self._write_dead(_take_dead_letters())
                path.unlink()
        return written

    def _rewrite(self, path: Path, items: Sequence[Event]) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text("".join(json.dumps(i) + "\n" for i in items))
        temporary.replace(path)

    def _write_dead(self, items: Sequence[Event]) -> None:
        if items:
            with open(self.directory / "dead.jsonl", "a") as out:
                out.write("".join(json.dumps(i) + "\n" for i in items))


# --- the applier and the webhooks' side ------------------------------------------------------


class Recorder:
    """What webhooks use: record(events); a background thread writes them to the database."""

    def __init__(self, db: Database, gate: RedisGate, spool_dir: Path) -> None:
        self.db = db
        self.gate = gate
        self.local = LocalSpool(spool_dir)
        self._healthy = True  # the database took the last batch quickly
        self._draining_since: float | None = None
        self._wake = threading.Event()
        self._pid = -1
        self._lock = threading.Lock()
        self._last_housekeeping = 0.0
        # Webhooks waiting for their events wake when this process's writer finishes a batch
        # (and poll every POLL_SECONDS for a batch written by another process).
        self._progress = threading.Condition()
        # The journal's done count as this process last saw it: its waiters share one read of
        # Redis per POLL_SECONDS (or the count its own writer just set), not one read each.
        self._done_lock = threading.Lock()
        self._done_seen, self._done_read_at = 0, 0.0

    def record(self, events: Sequence[Event]) -> None:
        """Queue the events in Redis, else in this host's spool (then wait a moment for them)."""
        if not events:
            return
        self._ensure_thread()
        redis = self.gate.client()
        if redis is not None:
            try:
                push(redis, events, once=journal.request_key())
            except RedisError as exc:
                log.warning(
                    "journal in Redis unavailable (%s): spooling here", cause(exc), exc_info=exc
                )
                self.gate.failed(exc)
            else:
                self._wake.set()
                return
        try:
            seq = self.local.append(events)
        except OSError as exc:
            log.error("call events lost: the local spool failed (%s)", cause(exc), exc_info=exc)
            return
        self._wake.set()
        if any(item["kind"] not in NOT_WAITED_FOR for item in events):
            self._wait(WAIT_SECONDS, seq, self.local.done_count)

    def settle(self) -> None:
        """Wait, as a webhook would, until the events queued so far are written (or it stalls)."""
        redis = self.gate.client()
        self._wake.set()
        if redis is not None:
            try:
                pushed = int(redis.get(PUSHED) or 0)
            except RedisError as exc:
                self.gate.failed(exc)
            else:
                self._wait(WAIT_SECONDS, pushed, lambda: self._redis_done(redis))
        if self.local.pending():
            self._wait(WAIT_SECONDS, self.local._read_count("pushed"), self.local.done_count)

    def _wait(self, cap: float, seq: int, done: Callable[[], int]) -> None:
        """Wait until event `seq` is written, at most `cap` seconds, and no more once the writing
        stalls."""
        from .. import budget  # the deadline of the webhook we are in, if any

        if cap <= 0 or not self.healthy:
            return
        until = time.monotonic() + min(cap, budget.remaining() - 0.5)
        last, moved_at = -1, time.monotonic()
        try:
            while time.monotonic() < until:
                written = done()
                if written >= seq:
                    return
                if written != last:
                    last, moved_at = written, time.monotonic()
                elif time.monotonic() - moved_at > STALL_SECONDS:
                    return  # nothing is being written: the database is slow or away
                with self._progress:
                    self._progress.wait(POLL_SECONDS)
        except RedisError as exc:
            self.gate.failed(exc)

    def _redis_done(self, redis: Redis) -> int:
        """The journal's done count, read from Redis at most once per POLL_SECONDS here."""
        with self._done_lock:
            if time.monotonic() - self._done_read_at >= POLL_SECONDS:
                self._done_seen = done_count(redis)
                self._done_read_at = time.monotonic()
            return self._done_seen

    def _progressed(self, done: int) -> None:
        with self._done_lock:
            self._done_seen = max(self._done_seen, done)
        with self._progress:
            self._progress.notify_all()

    @property
    def healthy(self) -> bool:
        """The database writes events quickly: webhooks may wait a moment for theirs."""
        started = self._draining_since
        if started is not None and time.monotonic() - started > SLOW_BATCH_SECONDS:
            return False  # a write is taking long right now
        return self._healthy

    def drain_once(self) -> int:
        """Write what is waiting, from Redis and from this host's files; the count written."""
        owner = f"{os.getpid()}-{threading.get_ident()}"
        written = 0
        started = time.monotonic()

        def apply(items: Sequence[Event], keep_alive: Callable[[], None]) -> int:
            self._draining_since = time.monotonic()
            try:
                return apply_batch(self.db, items, keep_alive)
            finally:
                self._draining_since = None

        try:
            redis = self.gate.client()
            if redis is not None:
                try:
                    written += drain_redis(redis, apply, owner, self._progressed)
                except RedisError as exc:
                    self.gate.failed(exc)
            written += self.local.drain(apply)
        except DatabaseDown:
            self._healthy = False
            raise
        if written:  # (with nothing to write, the database's health is as it was)
            batches = -(-written // BATCH)
            self._healthy = (time.monotonic() - started) / batches < SLOW_BATCH_SECONDS
        return written

    def start(self) -> None:
        """Start the background writer now (a fresh worker writes what an earlier one left)."""
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        thread = threading.Thread(target=self._run, name="hotline-applier", daemon=True)
        thread.start()

        def stop() -> None:
            self._wake.set()
            thread.join(timeout=5)

        self.db.on_dispose(stop)

    def _run(self) -> None:
        backoff = IDLE_SECONDS
        down_since: float | None = None
        while not self.db.closed:
            self._wake.wait(backoff)
            self._wake.clear()
            try:
                written = self.drain_once()
                backoff = IDLE_SECONDS
                if down_since is not None:
                    log.warning("database back after %.0f s: %d queued call events written",
                                time.monotonic() - down_since, written)  # fmt: skip
                    down_since = None
                self._housekeeping()
            except DatabaseDown as exc:
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("database unreachable (%s): call events wait in the spool", exc)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:  # the thread must outlive any surprise
                log.error("applier: %s", cause(exc), exc_info=exc)
                backoff = 5.0

    def _housekeeping(self) -> None:
        if time.monotonic() - self._last_housekeeping < HOUSEKEEPING_SECONDS:
            return
        self._last_housekeeping = time.monotonic()
        now = utcnow()
        try:
            with self.db.session() as session:
                session.execute(
                    delete(AppliedEvent).where(AppliedEvent.applied_at < now - timedelta(days=2))
                )
                session.execute(
                    delete(WebhookReply).where(WebhookReply.created_at < now - timedelta(hours=1))
                )
                session.execute(delete(VolunteerClaim).where(VolunteerClaim.expires_at < now))
        except SQLAlchemyError as exc:
            log.warning("housekeeping skipped (%s)", cause(exc), exc_info=exc)
