"""Dashboard accounts and their server-side sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class Role(StrEnum):
    SUPERVISOR = "supervisor"  # call log, statistics, live view, roster, audit
    VOLUNTEER = "volunteer"  # their own shifts and the "available now" toggle


class User(Base):
    """A person who signs in to /dashboard/; a volunteer account is linked to a roster volunteer."""

    __tablename__ = "dashboard_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # argon2id PHC string ($argon2id$v=19$m=19456,t=2,p=1$...), never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    volunteer_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="SET NULL"), index=True
    )
    language: Mapped[str] = mapped_column(String(2), default="ru", server_default="ru")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Throttling: consecutive failures since the last success, and the lock they earned.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sessions: Mapped[list[DashboardSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR.value

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class DashboardSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored here,
    so a copy of this table cannot be replayed as cookies."""

    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="CASCADE"), index=True
    )
    # The synchronizer token every form of this session must carry back.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="sessions")
