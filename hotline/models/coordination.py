"""Tables that keep calls safe while Redis is away: claims, webhook replies, applied events.

Redis does this work when it is up; these rows are the database's side of the same promises
(hotline.routing.db_claims, hotline.telephony.replies, hotline.calllog.journal).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class VolunteerClaim(Base):
    """A volunteer held for a call (owner) until expires_at: the database's claim, one row each."""

    __tablename__ = "volunteer_claims"

    volunteer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookReply(Base):
    """The answer given to one webhook request, so a repeat gets the same answer (encrypted)."""

    __tablename__ = "webhook_replies"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Who is computing the answer; a repeat waits for body while locked_until is ahead.
    token: Mapped[str] = mapped_column(String(32))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)  # Fernet token: a Dial carries a number
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AppliedEvent(Base):
    """A call-record event already written, so a replayed copy changes nothing."""

    __tablename__ = "applied_events"

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
