"""Retention: call metadata is kept only as long as its purpose needs (HOTLINE_RETENTION_DAYS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Executable, delete, update
from sqlalchemy.orm import Session

from ..models import CallbackRequest, CallRecord, DashboardSession, TwilioCallPurge
from ..models.callback import OPEN_STATUSES
from ..outcomes import aggregates, callback_totals

# A dashboard session older than this is dead whatever its activity (the absolute timeout is 8 h).
_SESSION_MAX_AGE = timedelta(days=1)


@dataclass(frozen=True)
class PurgeReport:
    calls: int
    callbacks: int
    numbers_erased: int
    sessions: int

    def summary(self) -> str:
        return (
            f"deleted {self.calls} call record(s), {self.callbacks} ended callback request(s), "
            f"{self.sessions} expired dashboard session(s); erased {self.numbers_erased} "
            "leftover callback number(s)"
        )


def _rows(session: Session, statement: Executable) -> int:
    """How many rows a DELETE or UPDATE touched."""
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount or 0


def purge(
    session: Session, now: datetime, retention_days: int, tz: ZoneInfo | None = None
) -> PurgeReport:
    """Delete call records and ended callbacks past retention; erase any number left behind.

    With tz (the hotline's time zone), every day the purge reaches is closed first, so its
    daily totals (hotline.outcomes.aggregates) keep counting what the records said."""
    cutoff = now - timedelta(days=retention_days)
    if tz is not None:
        aggregates.close_days(session, tz, aggregates.local_day(cutoff, tz))
        callback_totals.fold(session, tz, aggregates.local_day(cutoff, tz), open_too=True)
    calls = _rows(session, delete(CallRecord).where(CallRecord.started_at < cutoff))
    callbacks = _rows(
        session,
        delete(CallbackRequest).where(
            CallbackRequest.status.not_in(OPEN_STATUSES), CallbackRequest.created_at < cutoff
        ),
    )
    # Belt and braces: an ended request never keeps its number (a CHECK constraint says so too).
    erased = _rows(
        session,
        update(CallbackRequest)
        .where(
            CallbackRequest.status.not_in(OPEN_STATUSES),
            CallbackRequest.number_ciphertext.is_not(None),
        )
        .values(number_ciphertext=None)
        .execution_options(synchronize_session=False),
    )
    sessions = _rows(
        session,
        delete(DashboardSession).where(DashboardSession.created_at < now - _SESSION_MAX_AGE),
    )
    # The record of a Twilio deletion goes with the call it was for (its sid leads nowhere now).
    _rows(
        session,
        delete(TwilioCallPurge).where(
            TwilioCallPurge.status != "pending", TwilioCallPurge.created_at < cutoff
        ),
    )
    return PurgeReport(calls, callbacks, erased, sessions)
