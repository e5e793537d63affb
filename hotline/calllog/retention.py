"""Retention: call metadata is kept only as long as its purpose needs (HOTLINE_RETENTION_DAYS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from ..models import CallbackRequest, CallRecord, DashboardSession
from ..models.callback import OPEN_STATUSES

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


def purge(session: Session, now: datetime, retention_days: int) -> PurgeReport:
    """Delete call records and ended callbacks past retention; erase any number left behind."""
    cutoff = now - timedelta(days=retention_days)
    calls = session.execute(delete(CallRecord).where(CallRecord.started_at < cutoff)).rowcount
    callbacks = session.execute(
        delete(CallbackRequest).where(
            CallbackRequest.status.not_in(OPEN_STATUSES), CallbackRequest.created_at < cutoff
        )
    ).rowcount
    # Belt and braces: an ended request never keeps its number (a CHECK constraint says so too).
    erased = session.execute(
        update(CallbackRequest)
        .where(
            CallbackRequest.status.not_in(OPEN_STATUSES),
            CallbackRequest.number_ciphertext.is_not(None),
        )
        .values(number_ciphertext=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    sessions = session.execute(
        delete(DashboardSession).where(DashboardSession.created_at < now - _SESSION_MAX_AGE)
    ).rowcount
    return PurgeReport(calls or 0, callbacks or 0, erased or 0, sessions or 0)
