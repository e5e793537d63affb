"""The dashboard's clock: real time in production, a controllable one in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from ...models.base import utcnow

CLOCK_KEY = "DASHBOARD_CLOCK"


def now() -> datetime:
    """The current UTC time, from app.config[CLOCK_KEY] when a test has set one."""
    clock: Callable[[], datetime] = current_app.config.get(CLOCK_KEY) or utcnow
    return clock()
