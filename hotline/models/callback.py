"""Callback requests: a survivor's consent to be called back, and each try to reach them.

The caller's number exists only as a Fernet token in `number_ciphertext`, and only while the request
is open: it is set to NULL (erased, not flagged) when the request completes, fails, expires or is
cancelled. No column holds a number in plaintext; `number_last_digits` keeps two digits so the IVR
and the dashboard can say "…67".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class CallbackStatus(StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at
    DIALING = "dialing"  # a volunteer leg is in progress; lease_until bounds it
    COMPLETED = "completed"  # the caller answered (a human) and was bridged to a volunteer
    FAILED = "failed"  # every allowed attempt to reach the caller was used up
    EXPIRED = "expired"  # the chosen window could not be met within the horizon
    CANCELLED = "cancelled"  # a supervisor (or the caller) withdrew it


OPEN_STATUSES = (CallbackStatus.PENDING.value, CallbackStatus.DIALING.value)


class AttemptOutcome(StrEnum):
    """How one volunteer leg of a callback ended (the caller's side included, once accepted)."""

    RINGING = "ringing"  # the volunteer's phone is ringing or the whisper is playing
    ACCEPTED = "accepted"  # the volunteer pressed 1; the caller's phone is ringing
    DECLINED = "declined"  # the volunteer pressed another key, nothing, or hung up
    VOLUNTEER_NO_ANSWER = "volunteer_no_answer"  # busy, no answer, or a voicemail picked up
    VOLUNTEER_FAILED = "volunteer_failed"  # Twilio could not place the volunteer's call
    CALLER_CONNECTED = "caller_connected"  # a human answered and was bridged
    CALLER_BUSY = "caller_busy"
    CALLER_NO_ANSWER = "caller_no_answer"
    CALLER_MACHINE = "caller_machine"  # voicemail: hung up before anything was said
    CALLER_FAILED = "caller_failed"
    LOST = "lost"  # no webhook came back before the lease ran out (see service.sweep)
    CANCELLED = "cancelled"  # the request was cancelled while this leg was in progress


OPEN_OUTCOMES = (AttemptOutcome.RINGING.value, AttemptOutcome.ACCEPTED.value)


class CallbackRequest(Base):
    __tablename__ = "callback_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'dialing', 'completed', 'failed', 'expired', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint(
            "time_window IN ('any', 'morning', 'afternoon', 'evening')", name="window_known"
        ),
        # An ended request must not keep the number: the database itself refuses it.
        CheckConstraint(
            "status IN ('pending', 'dialing') OR number_ciphertext IS NULL",
            name="number_erased_when_ended",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The call that asked for it; no foreign key so call-log retention can purge calls freely.
    call_record_id: Mapped[int | None] = mapped_column(Integer, index=True)
    topic: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    # "window" is a reserved word in PostgreSQL; the column gets a name that needs no quoting.
    window: Mapped[str] = mapped_column("time_window", String(16))
    # May the volunteer say they are calling from the hotline? False: someone else may answer.
    identify: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(
        String(16), default=CallbackStatus.PENDING.value, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # tries to reach the caller so far
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Fixed at creation (created_at + horizon), so a config change never revives an old request.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Fernet token (hotline.crypto, CALLBACK_ENCRYPTION_KEYS); NULL once the request has ended.
    number_ciphertext: Mapped[str | None] = mapped_column(Text)
    number_last_digits: Mapped[str] = mapped_column(String(2))
    volunteer_id: Mapped[int | None] = mapped_column(Integer)  # of the current or last leg
    # While dialing: when the current leg counts as lost if no webhook has settled it.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(120))  # codes only, never a number
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    # Indexed: the statistics read the last few days' requests (callback_totals), purge the oldest.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic lock: every UPDATE checks and bumps it, so two workers (or a worker and a
    # webhook) racing on one request cannot both move it; the loser gets StaleDataError.
    version: Mapped[int] = mapped_column(Integer, default=1)

    history: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="request", order_by="CallbackAttempt.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        """Pending or dialing: the request may still lead to a call."""
        return self.status in OPEN_STATUSES

    @property
    def number_hint(self) -> str:
        """The number as screens and read-backs may show it: "…67"."""
        return f"…{self.number_last_digits}"

    def __repr__(self) -> str:
        return f"CallbackRequest(id={self.id!r}, status={self.status!r})"


class CallbackAttempt(Base):
    """One volunteer leg of a callback: who was rung, and how it ended (for both sides)."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("callback_requests.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(Integer)  # the try to reach the caller this leg serves
    volunteer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    volunteer_call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(32), default=AttemptOutcome.RINGING.value)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(64))  # e.g. "twilio:21215", never a number

    request: Mapped[CallbackRequest] = relationship(back_populates="history")

    @property
    def is_open(self) -> bool:
        return self.outcome in OPEN_OUTCOMES
