"""What the hotline asked Twilio to forget: each ended call's Twilio resources, and each purge run.

Twilio keeps a call's log (both numbers) for about 13 months. One row per call placed or received:
its first leg's sid (an incoming call's, or a callback's volunteer leg), due a few minutes after
the call ended, then how many legs were deleted. Counts and sids only: never a number.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class PurgeSource(StrEnum):
    CALL = "call"  # an incoming call: the caller's leg, children the volunteers' legs
    CALLBACK = "callback"  # a callback try: the volunteer's leg, its child the survivor's leg


class PurgeStatus(StrEnum):
    PENDING = "pending"  # waiting for due_at (the delay after the call, or a retry)
    DONE = "done"  # Twilio has deleted every leg (or had none left)
    FAILED = "failed"  # every retry failed; `hotline purge --report` lists these


class TwilioCallPurge(Base):
    __tablename__ = "twilio_call_purges"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status_known"),
        CheckConstraint("source IN ('call', 'callback')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=PurgeStatus.PENDING.value, index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    parent_deleted: Mapped[int] = mapped_column(Integer, default=0)  # 1: the first leg
    children_deleted: Mapped[int] = mapped_column(Integer, default=0)
    already_gone: Mapped[int] = mapped_column(Integer, default=0)  # legs Twilio no longer had
    last_error: Mapped[str | None] = mapped_column(String(64))  # a code, e.g. "twilio:20009"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Two runs of one row (a redelivered job) cannot both record their counts.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class PlacedLeg(Base):
    """A leg the hotline placed through the REST API for a call (a volunteer rung from the line or
    for a direct call, a partner rung for a transfer). Twilio does not count it as a child of the
    caller's call, so the purge of that call finds it here, and deletes the row with it."""

    __tablename__ = "twilio_placed_legs"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)  # the caller's call
    leg_sid: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PurgeRun(Base):
    """One `hotline purge` of the database: how many rows of each kind it deleted."""

    __tablename__ = "purge_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    retention_days: Mapped[int] = mapped_column(Integer)
    call_records: Mapped[int] = mapped_column(Integer, default=0)
    callback_requests: Mapped[int] = mapped_column(Integer, default=0)
    numbers_erased: Mapped[int] = mapped_column(Integer, default=0)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    twilio_queued: Mapped[int] = mapped_column(Integer, default=0)  # ended calls found unqueued
