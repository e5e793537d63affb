"""Outcome reports: what was done for the caller on one connected call, as closed-list ids.

One report per connected call: a live call (call_record_id) or a callback's connected leg
(callback_attempt_id), never both. `answers` keeps the ids exactly as saved (an option later
removed from config/outcomes.yaml stays, shown as "retired option"); `choices` repeats them one
row per chosen option so that figures are counted in SQL on both databases. Ids only: no free
text about a caller, ever.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class OutcomeReport(Base):
    __tablename__ = "outcome_reports"
    __table_args__ = (
        CheckConstraint(
            "(call_record_id IS NULL) <> (callback_attempt_id IS NULL)", name="one_call"
        ),
        Index("ix_outcome_reports_call_started_at", "call_started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: a second submission of the same report can never make a second row.
    call_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_records.id", ondelete="CASCADE"), unique=True
    )
    callback_attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_attempts.id", ondelete="CASCADE"), unique=True
    )
    volunteer_id: Mapped[int] = mapped_column(Integer, index=True)
    # Copied from the call, so figures need no join and survive the callback request's purge.
    call_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    topic: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    caller_key: Mapped[str | None] = mapped_column(String(64))  # for "people" (distinct keys)
    answers: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A supervisor's correction (audited too); None while only the volunteer has written it.
    corrected_by_id: Mapped[int | None] = mapped_column(Integer)
    corrected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic lock: the form carries it, so a stale or repeated edit cannot overwrite.
    version: Mapped[int] = mapped_column(Integer, default=1)

    choices: Mapped[list[OutcomeChoice]] = relationship(
        back_populates="report", cascade="all, delete-orphan", passive_deletes=True
    )

    __mapper_args__ = {"version_id_col": version}


class OutcomeChoice(Base):
    """One option chosen in one report: (field, option), for counting in SQL."""

    __tablename__ = "outcome_choices"
    __table_args__ = (Index("ix_outcome_choices_field_option", "field", "option"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("outcome_reports.id", ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(32))
    option: Mapped[str] = mapped_column(String(32))

    report: Mapped[OutcomeReport] = relationship(back_populates="choices")
