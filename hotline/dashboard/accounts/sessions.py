"""Server-side dashboard sessions: random cookie token, hashed in the database, two timeouts."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from ...models.account import DashboardSession, User
from ..web.cookies import COOKIE_PATH, secure_cookies
from .users import end_all_sessions

COOKIE_NAME = "hotline_session"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=8)  # one shift; then sign in again


@dataclass(frozen=True)
class Loaded:
    """What a request's cookie turned out to be: a live session, or why there is none."""

    session: DashboardSession | None
    expired: bool = False


def token_hash(token: str) -> str:
    """The stored form of a cookie token: a copy of the table cannot be replayed as cookies."""
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: Session, user: User, now: datetime) -> str:
    """Open a new session for user (the caller commits) and return the cookie token."""
    token = secrets.token_urlsafe(32)
    db.add(
        DashboardSession(
            id_hash=token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
    )
    return token


def load(db: Session, token: str | None, now: datetime) -> Loaded:
    """The live session for a cookie token, touched; expired or disabled ones are deleted."""
    if not token or len(token) > 128:
        return Loaded(None)
    row = db.get(DashboardSession, token_hash(token))
    if row is None:
        return Loaded(None)
    user = row.user
    if not user.active:
        end_all_sessions(db, user.id)
        db.commit()
        return Loaded(None, expired=True)
    if now - row.last_seen_at >= IDLE_TIMEOUT or now - row.created_at >= ABSOLUTE_TIMEOUT:
        db.delete(row)
        db.commit()
        return Loaded(None, expired=True)
    row.last_seen_at = now
    db.commit()
    return Loaded(row)


def end(db: Session, token: str | None) -> None:
    """Delete the session behind this cookie token, if any (the caller commits)."""
    if token and len(token) <= 128:
        db.execute(delete(DashboardSession).where(DashboardSession.id_hash == token_hash(token)))


def purge_expired(db: Session, now: datetime) -> None:
    """Delete every session past either timeout (done at each login; the caller commits)."""
    db.execute(
        delete(DashboardSession).where(
            or_(
                DashboardSession.last_seen_at <= now - IDLE_TIMEOUT,
                DashboardSession.created_at <= now - ABSOLUTE_TIMEOUT,
            )
        )
    )


def set_cookie(response: Response, token: str) -> None:
    """Send the session cookie: HttpOnly, SameSite=Lax, Secure over https, no Max-Age."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(),
    )


def clear_cookie(response: Response) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="Lax", secure=secure_cookies()
    )
