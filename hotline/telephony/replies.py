"""Webhooks safe to receive twice: a repeat gets the first answer; its effects happen once.

Twilio retries a webhook it got no answer to (with the same I-Twilio-Idempotency-Token), and a
proxy may replay one. The first copy to arrive takes a lease on the request's key and computes the
answer; every other copy, in any process, waits for that answer and returns it unchanged. The key
is an HMAC (SECRET_KEY) of the URL, the form and the idempotency token, so it says nothing about
the caller; the stored answer is Fernet-encrypted, because a <Dial> carries a volunteer's number.

Where the leases live: Redis; when Redis is unreachable, the database (webhook_replies); when both
are, a directory on this host (HOTLINE_SPOOL_DIR/replies), which serves the processes of one host.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .. import budget
from ..db import Database
from ..lua import LuaScript
from ..models import WebhookReply, utcnow
from ..redis_conn import RedisGate

log = logging.getLogger(__name__)

KEEP_SECONDS = 600  # Twilio retries within seconds; ten minutes covers any proxy replay too
LOCK_SECONDS = 20  # longer than a webhook can run: gunicorn recycles a worker stuck 15 s
POLL_SECONDS = 0.02
KEY_PREFIX = "hotline:reply:"


@dataclass(frozen=True)
class Reply:
    status: int
    body: str


class Unavailable(Exception):
    """This store cannot be reached; try the next one (the message names the error type)."""


_OWNED = "owned"
_PENDING = "pending"


def request_key(secret: bytes, url: str, form: Mapping[str, str], token: str) -> str:
    """The request's key: equal for copies of one request, and no number can be read from it."""
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    mac.update(url.encode())
    for name in sorted(form):
        mac.update(b"\0" + name.encode() + b"=" + form[name].encode())
    mac.update(b"\0token=" + token.encode())
    return mac.hexdigest()


class RedisReplies:
    _BEGIN = LuaScript("""
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
  return 'owned'
end
return v
""")
    _FINISH = LuaScript("""
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 0
""")

    def __init__(self, redis: Redis, fernet: MultiFernet) -> None:
        self.redis = redis
        self.fernet = fernet

    def begin(self, key: str, token: str) -> Reply | str:
        try:
            value = self._BEGIN(self.redis, [KEY_PREFIX + key], [token, LOCK_SECONDS * 1000])
        except RedisError as exc:
            raise Unavailable(type(exc).__name__) from None
        text = value.decode() if isinstance(value, bytes) else str(value)
        if text == _OWNED:
            return _OWNED
        if text.startswith("d:"):
            return _decode(self.fernet, text[2:])
        return _PENDING

    def finish(self, key: str, token: str, reply: Reply) -> None:
        try:
            self._FINISH(
                self.redis,
                [KEY_PREFIX + key],
                [token, "d:" + _encode(self.fernet, reply), KEEP_SECONDS * 1000],
            )
        except RedisError as exc:
            raise Unavailable(type(exc).__name__) from None


class DatabaseReplies:
    def __init__(self, db: Database, fernet: MultiFernet) -> None:
        self.db = db
        self.fernet = fernet

    def begin(self, key: str, token: str) -> Reply | str:
        return self._bounded(self._begin, key, token)

    def _begin(self, key: str, token: str) -> Reply | str:
        now = utcnow()
        lease = now + timedelta(seconds=LOCK_SECONDS)
        with self.db.session() as session:
            row = session.get(WebhookReply, key)
            if row is not None and row.body is not None:
                return _decode(self.fernet, row.body)
            if row is not None and row.locked_until >= now:
                return _PENDING
            if row is not None:
                # The first copy's process died holding the lease: take it over, once.
                taken = session.execute(
                    update(WebhookReply)
                    .where(
                        WebhookReply.key == key,
                        WebhookReply.token == row.token,
                        WebhookReply.body.is_(None),
                    )
                    .values(token=token, locked_until=lease)
                )
                return _OWNED if taken.rowcount == 1 else _PENDING  # type: ignore[attr-defined]
            session.add(WebhookReply(key=key, token=token, locked_until=lease, created_at=now))
        return _OWNED

    def finish(self, key: str, token: str, reply: Reply) -> None:
        def _finish() -> None:
            with self.db.session() as session:
                session.execute(
                    update(WebhookReply)
                    .where(WebhookReply.key == key, WebhookReply.token == token)
                    .values(status=reply.status, body=_encode(self.fernet, reply))
                )

        self._bounded(_finish)

    def _bounded(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return budget.run_bounded(fn, *args, timeout=budget.remaining())
        except IntegrityError:
            return _PENDING  # another process inserted the lease first
        except SQLAlchemyError as exc:
            raise Unavailable(type(exc).__name__) from None


class LocalReplies:
    def __init__(self, directory: Path, fernet: MultiFernet) -> None:
        self.directory = directory
        self.fernet = fernet

    def begin(self, key: str, token: str) -> Reply | str:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            done = self.directory / f"{key}.reply"
            if done.exists():
                return _decode(self.fernet, done.read_text())
            lock = self.directory / f"{key}.lock"
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                if time.time() - lock.stat().st_mtime > LOCK_SECONDS:
                    lock.unlink(missing_ok=True)  # its owner died; the next begin may take it
                return _PENDING
            os.write(fd, token.encode())
            os.close(fd)
            return _OWNED
        except FileNotFoundError:
            return _PENDING
        except OSError as exc:
            raise Unavailable(type(exc).__name__) from None

    def finish(self, key: str, token: str, reply: Reply) -> None:
        try:
            temporary = self.directory / f"{key}.{token}.tmp"
            temporary.write_text(_encode(self.fernet, reply))
            temporary.replace(self.directory / f"{key}.reply")
        except OSError as exc:
            raise Unavailable(type(exc).__name__) from None

    def sweep(self) -> None:
        """Delete answers and leases older than KEEP_SECONDS."""
        if not self.directory.is_dir():
            return
        cutoff = time.time() - KEEP_SECONDS
        for path in self.directory.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue


class Replies:
    """The stores, in the order they are tried: Redis, the database, this host's directory."""

    def __init__(self, gate: RedisGate, db: Database, directory: Path, fernet: MultiFernet) -> None:
        self.gate = gate
        self.database = DatabaseReplies(db, fernet)
        self.local = LocalReplies(directory, fernet)
        self.fernet = fernet

    def once(self, key: str, compute: Callable[[], Reply]) -> Reply:
        """The answer to the request `key`: computed here once, or the first copy's answer."""
        redis = self.gate.client()
        stores: list[Any] = [RedisReplies(redis, self.fernet)] if redis is not None else []
        stores += [self.database, self.local]
        for store in stores:
            try:
                return _once_in(store, key, compute)
            except Unavailable as exc:
                if isinstance(store, RedisReplies):
                    self.gate.failed(exc)
                continue
        log.error("no store for webhook replies: answering without a lease")
        return compute()


def _once_in(store: Any, key: str, compute: Callable[[], Reply]) -> Reply:
    token = secrets.token_hex(8)
    while True:
        found = store.begin(key, token)
        if isinstance(found, Reply):
            return found
        if found == _OWNED:
            reply = compute()
            try:
                store.finish(key, token, reply)
            except Unavailable:
                log.warning("webhook answer not stored; a repeat would be computed again")
            return reply
        # Another copy is being answered right now, maybe in another process: wait for it.
        budget.check("waiting for the first copy's answer")
        time.sleep(POLL_SECONDS)


def _encode(fernet: MultiFernet, reply: Reply) -> str:
    return fernet.encrypt(f"{reply.status}:{reply.body}".encode()).decode()


def _decode(fernet: MultiFernet, token: str) -> Reply | str:
    try:
        status, _, body = fernet.decrypt(token.encode()).decode().partition(":")
    except (InvalidToken, ValueError):
        return _PENDING  # an answer under a retired key: treat it as not there
    return Reply(int(status), body)
