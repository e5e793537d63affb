"""The waiting line: who waits, in what order, and which caller a free volunteer is offered.

When volunteers who fit a call are on shift but every one of them is busy, the caller waits in
line instead of going straight to the callback offer. The longest-waiting caller who fits is
offered to the next volunteer who becomes free; a caller already being offered to someone keeps
their place but is not offered twice. After the line's maximum wait the caller is offered a
callback.

Pure Python: the line's state lives in Redis (hotline.routing.line_store); this module decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class LineSettings:
    """The waiting line's settings (config/routing.yaml, `line:`)."""

    enabled: bool = True
    # Three minutes: long enough for a conversation to end, short enough for a caller in crisis.
    max_wait_seconds: int = 180
    # The place in line is said every this many seconds (Gather timeout after the message).
    message_interval_seconds: int = 35
    # Quiet by default: music from a phone can be heard in the room. A URL of audio to play.
    hold_music_url: str | None = None


@dataclass(frozen=True)
class WaitingCaller:
    """One caller in line: their call, what they need, since when, and who was tried for them."""

    call_sid: str
    topic: str
    language: str | None
    joined_at: datetime
    offered_to: int | None = None  # the volunteer being rung for this caller right now
    tried: tuple[int, ...] = field(default=())
    # Put straight through: a volunteer was free when the caller reached routing. The entry
    # carries their ring like a line caller's offer (one path for both), but they have no place
    # in line while someone is rung for them, and when the ring list runs out they are offered
    # a callback, as a call to a free volunteer always was.
    direct: bool = False

    def connecting(self) -> bool:
        """A direct caller whose volunteer is being rung: "connecting you", not a place in line."""
        return self.direct and self.offered_to is not None

    def waited_seconds(self, now: datetime) -> int:
        return max(0, int((now - self.joined_at).total_seconds()))


def in_order(callers: Iterable[WaitingCaller]) -> list[WaitingCaller]:
    """The line, longest-waiting first (ties by call sid, so every process agrees)."""
    return sorted(callers, key=lambda c: (c.joined_at, c.call_sid))


def position(callers: Iterable[WaitingCaller], call_sid: str) -> int | None:
    """The caller's place in line among those who need the same topic (1 = next), or None."""
    line = in_order(callers)
    me = next((c for c in line if c.call_sid == call_sid), None)
    if me is None:
        return None
    ahead = [c for c in line if c.topic == me.topic and (c is me or not c.connecting())]
    return ahead.index(me) + 1


def waiting_to_offer(callers: Iterable[WaitingCaller]) -> list[WaitingCaller]:
    """Callers nobody is being rung for, longest-waiting first: the order offers are made in."""
    return [c for c in in_order(callers) if c.offered_to is None]


def first_fit(
    callers: Sequence[WaitingCaller], can_take: Callable[[WaitingCaller], bool]
) -> WaitingCaller | None:
    """The longest-waiting caller not being offered whom `can_take` says the volunteer fits."""
    return next((c for c in waiting_to_offer(callers) if can_take(c)), None)


def exhausted(caller: WaitingCaller, fitting: int, attempts_left: int) -> bool:
    """A direct caller's ring list ran out (nobody left who fits, or the policy's attempts are
    spent): the callback offer, as before. A line caller waits on for their maximum wait."""
    return caller.direct and (fitting == 0 or attempts_left == 0)


def timed_out(caller: WaitingCaller, now: datetime, settings: LineSettings) -> bool:
    """The caller waited the line's maximum and was not put through: offer a callback."""
    return caller.offered_to is None and caller.waited_seconds(now) >= settings.max_wait_seconds
