"""The app's Redis connection, with short timeouts: a dead Redis must not stall a webhook."""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis

REDIS_TIMEOUT_SECONDS = 1.0


def connect(url: str, socket_timeout: float | None = REDIS_TIMEOUT_SECONDS) -> Redis:
    """A Redis client that gives up quickly instead of holding a caller in silence."""
    return Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=socket_timeout,
        health_check_interval=30,
    )


def init_app(app: Flask) -> None:
    url = app.config["SETTINGS"].redis_url
    app.extensions["redis"] = connect(url) if url else None


def get_redis() -> Redis | None:
    """The app's Redis client, or None when no Redis is configured."""
    return current_app.extensions.get("redis")
