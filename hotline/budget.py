"""Every webhook's time budget: its database and Redis work ends in time, whatever the network does.

Twilio waits 15 s for an answer, then plays its error message. Each webhook runs in a helper
thread under a deadline (HOTLINE_WEBHOOK_BUDGET_SECONDS, 4 s by default); code checks the deadline
between steps (`check`), and when the work is still not done at the deadline plus a small margin
the caller gets the webhook's safe answer at once (the emergency numbers) while the stuck thread
is left to fail on its own timeouts (connect, statement, socket). The deadline travels in a
context variable, so `run_bounded` hands it (and Flask's request context) to the helper thread.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
# Past the deadline, how long a webhook may still take to put its own safe answer together.
MARGIN_SECONDS = 0.4
_POOL_SIZE = 16

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "hotline_deadline", default=None
)


class BudgetExceeded(Exception):
    """The webhook's time is up: give the caller the safe path now."""


def remaining() -> float:
    """Seconds left in the current webhook's budget (a large number outside a webhook)."""
    deadline = _deadline.get()
    return 3600.0 if deadline is None else deadline - time.monotonic()


def check(step: str) -> None:
    """Raise BudgetExceeded when the budget is spent, before starting `step`."""
    if remaining() <= 0:
        raise BudgetExceeded(step)


class _Executor:
    """A thread pool per process (made again after a fork: threads do not survive one)."""

    def __init__(self) -> None:
        self._pid = -1
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="hotline-webhook")
                self._pid = os.getpid()
            pool = self._pool
        return pool.submit(fn, *args)


_executor = _Executor()


def run_bounded(fn: Callable[..., T], *args: Any, timeout: float) -> T:
    """Run fn(*args) in a helper thread with this context; BudgetExceeded after `timeout` s."""
    context = contextvars.copy_context()
    future = _executor.submit(context.run, fn, *args)
    try:
        return future.result(timeout=max(0.0, timeout))
    except FutureTimeout:
        raise BudgetExceeded("hard deadline") from None


def within_budget(
    view: Callable[..., T], seconds: float, safe: Callable[[], T], inline: bool = False
) -> Callable[..., T]:
    """Wrap a webhook view: run it under a deadline of `seconds`; past it, answer `safe()`.

    `inline`: in the request's own thread (no hand-over to a helper: cheaper), for a view whose
    waits are all bounded well inside the budget by their own timeouts; it still answers `safe()`
    when a `check` finds the deadline passed.
    """

    def guarded(*args: Any, **kwargs: Any) -> T:
        token = _deadline.set(time.monotonic() + seconds)
        try:
            if inline:
                return view(*args, **kwargs)
            return run_bounded(lambda: view(*args, **kwargs), timeout=seconds + MARGIN_SECONDS)
        except BudgetExceeded as exc:
            log.warning("webhook over its %.1f s budget (%s): safe answer given", seconds, exc)
            return safe()
        finally:
            _deadline.reset(token)

    guarded.__name__ = getattr(view, "__name__", "guarded")
    guarded.__doc__ = view.__doc__
    return guarded
