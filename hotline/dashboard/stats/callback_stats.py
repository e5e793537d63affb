"""Callback figures for the statistics page: requested in the period, and how they ended."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models.callback import CallbackRequest
from .query import Period


def callback_counts(db: Session, period: Period) -> dict[str, int]:
    """{'requested': n, 'completed': n, 'failed': n, ...} for requests created in the period."""
    query = select(CallbackRequest.status, func.count()).where(
        CallbackRequest.created_at >= period.start, CallbackRequest.created_at < period.end
    )
    if period.topic:
        query = query.where(CallbackRequest.topic == period.topic)
    if period.language:
        query = query.where(CallbackRequest.language == period.language)
    counts = {status: int(n) for status, n in db.execute(query.group_by(CallbackRequest.status))}
    counts["requested"] = sum(counts.values())
    counts["open"] = counts.get("pending", 0) + counts.get("dialing", 0)
    return counts
