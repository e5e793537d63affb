"""Refused sign-in attempts are counted, not written one by one.

A flood must not write one audit row per guess. The first refusal in a minute opens one row for
its scope (the client address, the whole site, or the paused account); later refusals add to a
counter in Redis, and the row is rewritten with the count: at each of the first EXACT_UP_TO
refusals, then at most once a second per web process, and exactly when the scope's next minute
begins. So a flood of any size writes a few rows a minute, and each says how many attempts it
stands for (to within the last second of a flood faster than EXACT_UP_TO a minute).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from ...models.audit import AuditEvent

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
EXACT_UP_TO = 100
ACTION = "login_throttled"
_KEY = "hotline:login:refused:{}:{}"
_REASONS = {
    "address": "too many attempts from this address",
    "site": "too many attempts on the whole site",
    "account": "the account is paused after wrong passwords",
}


def _detail(count: int, reason: str, window: int) -> str:
    start = datetime.fromtimestamp(window * WINDOW_SECONDS, UTC)
    return (
        f"{count} sign-in attempt(s) refused without a password check in the minute from "
        f"{start:%H:%M} UTC: {_REASONS.get(reason, reason)}"
    )


class RefusalCounter:
    """Counts refused attempts per scope and minute in Redis (in memory when it is down)."""

    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis
        self._local: dict[str, int] = {}
        self._rewritten: dict[int, float] = {}  # row id -> time.monotonic() of its last rewrite
        self._lock = threading.Lock()

    def count(
        self,
        db: Session,
        scope: str,
        reason: str,
        now: datetime,
        ip: str | None,
        user_id: int | None = None,
        username: str | None = None,
    ) -> None:
        """Count one refusal in `scope` ("addr:1.2.3.4", "site", "user:7"); commits its row."""
        window = int(now.timestamp()) // WINDOW_SECONDS
        key = _KEY.format(scope, window)
        count, row_id = self._incr(key)
        if count == 1:
            event = AuditEvent(
                at=now,
                user_id=None,
                username=username,
                action=ACTION,
                object_type="user" if user_id else None,
                object_id=str(user_id) if user_id else None,
                detail=_detail(1, reason, window),
                ip=ip,
            )
            db.add(event)
            db.flush()
            self._remember(key, event.id)
            self._finish(db, _KEY.format(scope, window - 1), reason, window - 1)
        elif row_id is not None and self._due(row_id, count):
            self._rewrite(db, row_id, count, reason, window)
        db.commit()

    def _due(self, row_id: int, count: int) -> bool:
        """Rewrite the row now? Each time up to EXACT_UP_TO, then once a second."""
        if count <= EXACT_UP_TO:
            return True
        with self._lock:
            if len(self._rewritten) > 10_000:
                self._rewritten.clear()
            last = self._rewritten.get(row_id, 0.0)
            if time.monotonic() - last < 1.0:
                return False
            self._rewritten[row_id] = time.monotonic()
        return True

    def _incr(self, key: str) -> tuple[int, int | None]:
        if self.redis is not None:
            try:
                with self.redis.pipeline() as pipe:
                    pipe.incr(key)
                    pipe.expire(key, WINDOW_SECONDS * 3)
                    pipe.get(key + ":row")
                    count, _, row = pipe.execute()
                return int(count), int(row) if row else None
            except (RedisError, OSError) as exc:
                log.warning("sign-in refusals: Redis unavailable (%s)", type(exc).__name__)
        with self._lock:
            if len(self._local) > 10_000:
                self._local.clear()
            self._local[key] = self._local.get(key, 0) + 1
            return self._local[key], self._local.get(key + ":row")

    def _remember(self, key: str, row_id: int) -> None:
        if self.redis is not None:
            try:
                self.redis.set(key + ":row", row_id, ex=WINDOW_SECONDS * 3)
                return
            except (RedisError, OSError):
                pass
        with self._lock:
            self._local[key + ":row"] = row_id

    def _finish(self, db: Session, key: str, reason: str, window: int) -> None:
        """The previous minute is over: write its exact count."""
        count, row_id = None, None
        if self.redis is not None:
            try:
                raw_count, raw_row = self.redis.mget(key, key + ":row")
                count = int(raw_count) if raw_count else None
                row_id = int(raw_row) if raw_row else None
            except (RedisError, OSError):
                pass
        else:
            with self._lock:
                count, row_id = self._local.get(key), self._local.get(key + ":row")
        if count and row_id:
            self._rewrite(db, row_id, count, reason, window)

    @staticmethod
    def _rewrite(db: Session, row_id: int, count: int, reason: str, window: int) -> None:
        event = db.get(AuditEvent, row_id)
        if event is not None:
            event.detail = _detail(count, reason, window)
