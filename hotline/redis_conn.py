"""The app's Redis connection, with short timeouts: a dead Redis must not stall a webhook."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from .logs import cause

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 1.0
# After a failure, the call path leaves Redis alone this long instead of paying a timeout per
# request; the next request after it tries again.
RETRY_AFTER_SECONDS = 1.0


def connect(url: str, socket_timeout: float | None = REDIS_TIMEOUT_SECONDS) -> Redis:
    """A Redis client that gives up quickly instead of holding a caller in silence.

    redis-py retries a command up to 10 times by default, each with its own timeout: here a
    command is tried again once, at once, only when its pooled connection turned out closed (a
    Redis restart), never after a timeout, so a command fails within about REDIS_TIMEOUT_SECONDS.
    """
    return Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=socket_timeout,
        socket_keepalive=True,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


class RedisGate:
    """The call path's view of Redis: the client, unless it failed less than a second ago."""

    def __init__(self, client: Redis | None) -> None:
        self.redis = client
        self._failed_at = 0.0
        self._lock = threading.Lock()
        self.outages = 0  # how many times this process saw Redis go away (for the logs, tests)

    def client(self) -> Redis | None:
        """The client, or None when Redis is not configured or just failed."""
        if self.redis is None or time.monotonic() - self._failed_at < RETRY_AFTER_SECONDS:
            return None
        return self.redis

    def failed(self, why: BaseException | None = None) -> None:
        """Note a failure (connection refused, timeout): skip Redis for a moment."""
        with self._lock:
            if time.monotonic() - self._failed_at >= RETRY_AFTER_SECONDS:
                self.outages += 1
                log.warning(
                    "Redis unreachable (%s): the database stands in",
                    cause(why) if why else "no answer",
                    exc_info=why,
                )
            self._failed_at = time.monotonic()

    @property
    def recently_failed(self) -> bool:
        return self._failed_at > 0 and time.monotonic() - self._failed_at < 30


def init_app(app: Flask) -> None:
    url = app.config["SETTINGS"].redis_url
    client = connect(url) if url else None
    app.extensions["redis"] = client
    app.extensions["redis_gate"] = RedisGate(client)


def get_redis() -> Redis | None:
    """The app's Redis client, or None when no Redis is configured."""
    return current_app.extensions.get("redis")


def redis_gate() -> RedisGate:
    """The app's RedisGate (the call path's Redis, with its short memory of failures)."""
    return current_app.extensions["redis_gate"]
