"""The roster: volunteers (with their phone encrypted) and their shifts.

roles, topics and languages are JSON lists rather than association tables: each is a closed
vocabulary of three values, validated on import, always read together with the volunteer, and
filtered in Python by the pure routing policy, never in SQL. Three link tables would add joins and
migrations for no query that needs them, and JSON behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class Volunteer(Base):
    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    # Fernet token (hotline.crypto, CALLBACK_ENCRYPTION_KEYS); decrypted only to dial.
    phone_encrypted: Mapped[str] = mapped_column(Text)
    # The last 2 digits, so screens can say "…67" without decrypting anything.
    phone_last_digits: Mapped[str] = mapped_column(String(2))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # False when the volunteer left the roster file: kept, never deleted, for the call history.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), index=True)
    # The volunteer's own "available now" toggle; roster imports never touch it.
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Fairness: whoever waited longest since their last call is rung first.
    last_call_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    shifts: Mapped[list[Shift]] = relationship(
        back_populates="volunteer", order_by="Shift.id", cascade="all, delete-orphan"
    )

    @property
    def phone_hint(self) -> str:
        """The number as screens may show it: "…67"."""
        return f"…{self.phone_last_digits}"

    def __repr__(self) -> str:
        return f"Volunteer(id={self.id!r}, handle={self.handle!r})"


class Shift(Base):
    """Weekly on `days`, or once on `on_date`; minutes since midnight in HOTLINE_TIMEZONE.

    end_minute may be 1440 ("24:00"); end_minute < start_minute crosses midnight.
    """

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("start_minute >= 0 AND start_minute < 1440", name="start_minute_range"),
        CheckConstraint("end_minute > 0 AND end_minute <= 1440", name="end_minute_range"),
        CheckConstraint("start_minute <> end_minute", name="not_empty"),
        CheckConstraint(
            "(days IS NULL AND on_date IS NOT NULL) OR (days IS NOT NULL AND on_date IS NULL)",
            name="weekly_or_dated",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    # ["mon", "fri"]; SQL NULL (not JSON null) for a one-off shift, so the CHECK above works.
    days: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    on_date: Mapped[date | None] = mapped_column(Date)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    volunteer: Mapped[Volunteer] = relationship(back_populates="shifts")
