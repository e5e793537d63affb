"""`hotline purge --report`: what was deleted where, in counts only (never a sid or a number)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models.twilio_purge import PurgeRun, PurgeSource, PurgeStatus, TwilioCallPurge
from .twilio_purge import queue_ended_calls

# What the first leg and its children are, for each kind of purge row.
_LEGS = {
    PurgeSource.CALL.value: ("caller legs", "volunteer legs"),
    PurgeSource.CALLBACK.value: ("callback volunteer legs", "callback survivor legs"),
}


@dataclass
class SourceCounts:
    done: int = 0
    waiting: int = 0
    failed: int = 0
    parents: int = 0
    children: int = 0
    already_gone: int = 0
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class PurgeOverview:
    twilio: dict[str, SourceCounts]
    not_queued: int  # ended calls past the delay without a purge row yet
    runs: list[PurgeRun]

    def lines(self) -> list[str]:
        """The report as printed, counts only."""
        out = ["Twilio (call logs; DELETE /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json):"]
        for source, (first, children) in _LEGS.items():
            c = self.twilio.get(source, SourceCounts())
            title = "incoming calls" if source == PurgeSource.CALL.value else "callback tries"
            out.append(
                f"  {title}: {c.done} purged, {c.waiting} waiting, {c.failed} failed;"
                f" deleted {c.parents} {first} and {c.children} {children},"
                f" {c.already_gone} already gone"
            )
            for code, count in sorted(c.errors.items()):
                out.append(f"    last error {code}: {count}")
        out.append(
            f"  ended calls not queued yet (the worker's next sweep queues them): {self.not_queued}"
        )
        out.append("Database (hotline purge, rows past HOTLINE_RETENTION_DAYS):")
        if not self.runs:
            out.append("  no purge run recorded yet")
        for run in self.runs:
            out.append(
                f"  {run.ran_at:%Y-%m-%d %H:%M} UTC (older than {run.retention_days} days):"
                f" {run.call_records} call records, {run.callback_requests} callback requests,"
                f" {run.sessions} dashboard sessions, {run.numbers_erased} numbers erased"
            )
        return out


def overview(session: Session, now: datetime, delay: timedelta, runs: int = 10) -> PurgeOverview:
    """Counts of Twilio deletions by kind of leg and status, and the last database purges."""
    twilio: dict[str, SourceCounts] = {}
    rows = session.execute(
        select(
            TwilioCallPurge.source,
            TwilioCallPurge.status,
            func.count(),
            func.coalesce(func.sum(TwilioCallPurge.parent_deleted), 0),
            func.coalesce(func.sum(TwilioCallPurge.children_deleted), 0),
            func.coalesce(func.sum(TwilioCallPurge.already_gone), 0),
        ).group_by(TwilioCallPurge.source, TwilioCallPurge.status)
    )
    for source, status, count, parents, children, gone in rows:
        counts = twilio.setdefault(source, SourceCounts())
        if status == PurgeStatus.DONE.value:
            counts.done += count
        elif status == PurgeStatus.FAILED.value:
            counts.failed += count
        else:
            counts.waiting += count
        counts.parents += parents
        counts.children += children
        counts.already_gone += gone
    errors = session.execute(
        select(TwilioCallPurge.source, TwilioCallPurge.last_error, func.count())
        .where(TwilioCallPurge.last_error.is_not(None))
        .group_by(TwilioCallPurge.source, TwilioCallPurge.last_error)
    )
    for source, code, count in errors:
        twilio.setdefault(source, SourceCounts()).errors[str(code)] += count
    # Counted inside a transaction that is rolled back: the report changes nothing.
    not_queued = queue_ended_calls(session, now, delay, None, commit=False)
    session.rollback()
    recent = list(session.scalars(select(PurgeRun).order_by(PurgeRun.ran_at.desc()).limit(runs)))
    return PurgeOverview(twilio, not_queued, recent)
