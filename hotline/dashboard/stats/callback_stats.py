"""Callback figures for the statistics page: requested in the period, and how they ended."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ...outcomes import callback_totals
from .query import Period


def callback_counts(db: Session, period: Period, tz: ZoneInfo) -> dict[str, int]:
    """{'requested': n, 'completed': n, 'failed': n, ...} for requests created in the period
    (hotline.outcomes.callback_totals: still there after `hotline purge`)."""
    counts = callback_totals.counts(db, tz, period.start, period.end, period.topic, period.language)
    counts["requested"] = sum(counts.values())
    counts["open"] = counts.get("pending", 0) + counts.get("dialing", 0)
    return counts
