"""Anonymized call records: what happened on a call, never who called."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, only_on, utcnow


class CallOutcome(StrEnum):
    IN_MENU = "in_menu"  # still in the IVR (or the status callback never came)
    ROUTING = "routing"  # handed to routing, ringing volunteers
    CONNECTED = "connected"  # a volunteer accepted and was bridged
    NOBODY_AVAILABLE = "nobody_available"  # nobody on shift / free
    DECLINED_BY_ALL = "declined_by_all"
    NO_ANSWER = "no_answer"
    CALLBACK_REQUESTED = "callback_requested"
    EMERGENCY_INFO = "emergency_info"  # the caller left after hearing the emergency numbers
    ABANDONED_IN_MENU = "abandoned_in_menu"  # hung up before choosing a topic
    ABANDONED_WAITING = "abandoned_waiting"  # hung up while volunteers were being rung
    FAILED = "failed"  # Twilio could not complete the call


class CallRecord(Base):
    __tablename__ = "call_records"
    # Shaped by the dashboard's queries (bench/dashboard_pages.py, 1,000,000 rows on PostgreSQL):
    # statistics read a date range and four columns, answered from the covering index alone; the
    # call log filters by topic or outcome, newest first; "3rd call in 30 days" looks up a key.
    # Sorted by wait (empty waits last either way, ties by id), the log reads an index in its
    # ORDER BY instead of sorting the whole table (past the statement timeout at 5,000,000 rows).
    # (wait_seconds, id) serves the ascending order on PostgreSQL, and read backwards the
    # descending one on SQLite, whose NULLs sort first; PostgreSQL's NULLs sort last, so it needs
    # a second index for the descending order (SQLite refuses NULLS LAST in an index).
    __table_args__ = (
        Index(
            "ix_call_records_started_at",
            "started_at",
            postgresql_include=["topic", "language", "outcome", "wait_seconds"],
        ),
        Index("ix_call_records_topic_started_at", "topic", "started_at"),
        Index("ix_call_records_outcome_started_at", "outcome", "started_at"),
        Index("ix_call_records_caller_key_started_at", "caller_key", "started_at"),
        Index("ix_call_records_wait_seconds_id", "wait_seconds", "id"),
        only_on(
            "postgresql",
            Index(
                "ix_call_records_wait_seconds_desc_id",
                text("wait_seconds DESC NULLS LAST"),
                text("id DESC"),
            ),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    # HMAC-SHA256 of the caller's E.164 number with PSEUDONYM_KEY; None when the number is withheld.
    caller_key: Mapped[str | None] = mapped_column(String(64))
    caller_key_version: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(32))
    # Nodes and keys in order, e.g. ["greeting", "language:2", "topic:1", "route:violence"].
    ivr_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(32), default=CallOutcome.IN_MENU.value)
    twilio_status: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    answered_by_id: Mapped[int | None] = mapped_column(Integer, index=True)

    attempts: Mapped[list[RingAttempt]] = relationship(
        back_populates="call", order_by="RingAttempt.id", cascade="all, delete-orphan"
    )


class RingAttempt(Base):
    """One volunteer rung for one call, with its outcome (accepted, declined, busy...)."""

    __tablename__ = "ring_attempts"
    # The n-th volunteer rung for a call is one row however often its events are replayed.
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_ring_attempts_call_id_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(
        ForeignKey("call_records.id", ondelete="CASCADE"), index=True
    )
    # 0 for the first volunteer rung for the call, 1 for the next...; it travels in the whisper
    # and Dial action URLs, so the webhooks know the attempt without reading the database.
    seq: Mapped[int | None] = mapped_column(Integer)
    volunteer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)

    call: Mapped[CallRecord] = relationship(back_populates="attempts")
