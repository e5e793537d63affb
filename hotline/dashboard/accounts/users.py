"""Dashboard accounts: creation, disabling, and per-account login throttling."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ...models.account import DashboardSession, Role, User
from ...models.roster import Volunteer
from .passwords import hash_password, password_problem

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
# Five free tries for typos, then 1, 2, 4 ... minutes, at most an hour: slow enough to stop
# guessing, short enough that an attacker cannot keep a supervisor out for a whole shift.
FREE_FAILURES = 5
MAX_LOCK = timedelta(minutes=60)


class AccountError(ValueError):
    """The account cannot be created or changed as asked; the message says why."""


def create_user(
    db: Session, username: str, password: str, role: str, volunteer_handle: str | None = None
) -> User:
    """Add an account (the caller commits); a volunteer account must name a roster volunteer."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise AccountError("the username must be 2-64 lowercase letters, digits, '.', '_' or '-'")
    if role not in {r.value for r in Role}:
        raise AccountError("the role must be supervisor or volunteer")
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"an account named {username!r} already exists")
    volunteer_id = None
    if volunteer_handle:
        volunteer = db.scalar(select(Volunteer).where(Volunteer.handle == volunteer_handle))
        if volunteer is None:
            raise AccountError(f"no volunteer with handle {volunteer_handle!r} in the roster")
        volunteer_id = volunteer.id
    elif role == Role.VOLUNTEER.value:
        raise AccountError("a volunteer account needs --volunteer HANDLE (their roster handle)")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        volunteer_id=volunteer_id,
        active=True,
        failed_logins=0,
    )
    db.add(user)
    db.flush()
    return user


def set_active(db: Session, user: User, active: bool) -> None:
    """Enable or disable an account; disabling ends every session it has at once."""
    user.active = active
    if not active:
        end_all_sessions(db, user.id)
    else:
        user.failed_logins, user.locked_until = 0, None


def end_all_sessions(db: Session, user_id: int) -> None:
    """Delete every server-side session of this account."""
    db.execute(delete(DashboardSession).where(DashboardSession.user_id == user_id))


def is_locked(user: User, now: datetime) -> bool:
    """Whether the account is in a throttling pause right now."""
    return user.locked_until is not None and user.locked_until > now


def register_failure(user: User, now: datetime) -> None:
    """Count a wrong password; from the fifth on, pause the account for 1, 2, 4 ... minutes."""
    user.failed_logins = (user.failed_logins or 0) + 1
    extra = user.failed_logins - FREE_FAILURES
    if extra >= 0:
        user.locked_until = now + min(timedelta(minutes=2 ** min(extra, 10)), MAX_LOCK)


def register_success(user: User, now: datetime) -> None:
    """Reset the throttling after a successful login."""
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
