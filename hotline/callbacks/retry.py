"""When to try a callback again, or whether to give up. Pure Python: no I/O, no clock.

Only a try that reached the caller's phone uses up an attempt (busy, no answer, voicemail, failed):
each one rings a phone an abuser may be holding. A volunteer who declines or misses the whisper
costs the caller nothing, so the next volunteer is tried at once. Every retry lands inside the
caller's window, and nothing is scheduled past the request's horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Protocol

from .windows import in_window, next_slot

# Shifts are found within this many window openings; past it the horizon has long been reached.
_MAX_SHIFT_LOOKUPS = 64


class Outcome(StrEnum):
    """What happened on a try, as far as scheduling the next one is concerned."""

    CALLER_UNREACHED = "caller_unreached"  # busy, no answer, voicemail or failed: uses an attempt
    VOLUNTEER_UNAVAILABLE = "volunteer_unavailable"  # declined or missed: next volunteer at once
    OUTSIDE_WINDOW = "outside_window"  # the window closed: its next start
    ALL_BUSY = "all_busy"  # everyone on shift is on a call, or was just tried
    DIAL_ERROR = "dial_error"  # Twilio refused or was unreachable: pause, then try again
    NOBODY_ON_SHIFT = "nobody_on_shift"  # the next shift start inside the window


@dataclass(frozen=True)
class RetryPolicy:
    # Waits after the 1st, 2nd, 3rd... unreached try; the last one repeats if there are more tries.
    backoff: tuple[timedelta, ...] = field(
        default=(timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3))
    )
    max_attempts: int = 3
    horizon: timedelta = timedelta(hours=72)
    busy_delay: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if not self.backoff or any(delay <= timedelta(0) for delay in self.backoff):
            raise ValueError("backoff needs at least one positive delay")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.horizon <= timedelta(0) or self.busy_delay <= timedelta(0):
            raise ValueError("horizon and busy_delay must be positive")


class RequestLike(Protocol):
    """What scheduling needs to know about a request (a CallbackRequest row fits)."""

    @property
    def window(self) -> str: ...

    @property
    def attempts(self) -> int: ...  # tries that reached the caller's phone, the last one included

    @property
    def expires_at(self) -> datetime: ...


NextShiftStart = Callable[[datetime], datetime | None] | datetime | None


def expires_at(created_at: datetime, policy: RetryPolicy) -> datetime:
    """When a request created at created_at gives up if it has not reached the caller."""
    return created_at + policy.horizon


def next_attempt(
    request: RequestLike,
    outcome: Outcome,
    now: datetime,
    tz: tzinfo,
    policy: RetryPolicy,
    next_shift_start: NextShiftStart = None,
) -> datetime | None:
    """When to try next after `outcome`, always inside the window; None means give up.

    next_shift_start: for NOBODY_ON_SHIFT, the first instant at or after a given time when a
    suitable volunteer is on shift (a callable), or that instant itself; None: no shift known.
    """
    if now.tzinfo is None:
        raise ValueError("next_attempt needs an aware datetime")
    if outcome is Outcome.CALLER_UNREACHED:
        if request.attempts >= policy.max_attempts:
            return None
        index = min(max(request.attempts, 1), len(policy.backoff)) - 1
        at: datetime | None = next_slot(request.window, now + policy.backoff[index], tz)
    elif outcome in (Outcome.VOLUNTEER_UNAVAILABLE, Outcome.OUTSIDE_WINDOW):
        at = next_slot(request.window, now, tz)
    elif outcome in (Outcome.ALL_BUSY, Outcome.DIAL_ERROR):
        at = next_slot(request.window, now + policy.busy_delay, tz)
    else:
        at = _shift_in_window(request, now, tz, next_shift_start)
    if at is None or at > request.expires_at:
        return None
    return at


def give_up_status(request: RequestLike, policy: RetryPolicy) -> str:
    """'failed' when the attempts are used up, else 'expired' (the horizon came first)."""
    return "failed" if request.attempts >= policy.max_attempts else "expired"


def _shift_in_window(
    request: RequestLike, now: datetime, tz: tzinfo, next_shift_start: NextShiftStart
) -> datetime | None:
    """The first instant that is inside the window and on someone's shift, before the horizon."""
    if next_shift_start is None:
        return None
    if isinstance(next_shift_start, datetime):
        return next_slot(request.window, max(now, next_shift_start), tz)
    at = next_slot(request.window, now, tz)
    for _ in range(_MAX_SHIFT_LOOKUPS):
        if at > request.expires_at:
            return None
        shift = next_shift_start(at)
        if shift is None:
            return None
        if in_window(request.window, shift, tz):
            return shift
        # A shift that starts outside the window may still be running when the window opens.
        at = next_slot(request.window, shift, tz)
    return None
