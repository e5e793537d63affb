"""Dashboard accounts: creation, disabling, new passwords (the per-account limit: lockout.py)."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ...models.account import DashboardSession, Role, User
from ...models.roster import Volunteer
from .lockout import unlock
from .passwords import hash_password, password_problem

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")


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
    problem = password_problem(password, username)
    if problem:
        raise AccountError(problem.value)
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
        unlock(user)


def end_all_sessions(db: Session, user_id: int) -> None:
    """Delete every server-side session of this account."""
    db.execute(delete(DashboardSession).where(DashboardSession.user_id == user_id))


def set_password(db: Session, user: User, password: str) -> None:
    """Give the account a new password (refused like any new one) and end all its sessions;
    the pause after wrong passwords ends too (the caller commits)."""
    problem = password_problem(password, user.username)
    if problem:
        raise AccountError(problem.value)
    user.password_hash = hash_password(password)
    end_all_sessions(db, user.id)
    unlock(user)
