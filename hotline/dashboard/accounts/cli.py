"""`hotline users create | unlock | reset-password`: dashboard accounts from the server's terminal.

What is done here is audited like the dashboard's own actions (no address, detail "command line").
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db import Database
from ...models import AuditEvent, User, utcnow
from ...settings import Settings
from .lockout import paused_until, unlock
from .passwords import password_problem
from .users import AccountError, create_user, set_password


def read_password(stdin: TextIO = sys.stdin, username: str | None = None) -> str:
    """The new password: typed twice at a terminal, else the first line of standard input."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        # Say at once that it is refused, rather than after the second typing.
        problem = password_problem(first, username)
        if problem:
            raise AccountError(problem.value)
        if first != getpass.getpass("Password again: "):
            raise AccountError("the two passwords differ")
        return first
    # Only the line break is removed: spaces may be part of a passphrase.
    return stdin.readline().rstrip("\r\n")


def create_account(
    settings: Settings, username: str, role: str, volunteer: str | None, stdin: TextIO = sys.stdin
) -> int:
    """Create the account; print one line, or the reason on stderr (exit status 1)."""
    try:
        password = read_password(stdin, username.strip().lower())
        store = Database(settings.database_url)
        try:
            with store.session() as session:
                user = create_user(session, username, password, role, volunteer)
                name, linked = user.username, volunteer
        finally:
            store.dispose()
    except AccountError as error:
        print(f"users create: {error}", file=sys.stderr)
        return 1
    suffix = f", linked to volunteer {linked!r}" if linked else ""
    print(f"created {role} account {name!r}{suffix}")
    return 0


def _audit(session: Session, action: str, user: User) -> None:
    session.add(
        AuditEvent(
            at=utcnow(),
            username=None,
            action=action,
            object_type="user",
            object_id=str(user.id),
            detail="command line",
        )
    )


def _account(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise AccountError(f"no account named {username!r}")
    return user


def unlock_account(settings: Settings, username: str) -> int:
    """End the account's pause after wrong passwords; print one line (exit status 1: unknown)."""
    store = Database(settings.database_url)
    try:
        with store.session() as session:
            user = _account(session, username)
            was = paused_until(user, utcnow())
            unlock(user)
            _audit(session, "account_unlock", user)
            name = user.username
    except AccountError as error:
        print(f"users unlock: {error}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    state = "was paused; it can sign in again now" if was else "was not paused"
    print(f"account {name!r} {state}")
    return 0


def reset_password(settings: Settings, username: str, stdin: TextIO = sys.stdin) -> int:
    """Set a new password (refused like any new one); every session of the account ends."""
    try:
        password = read_password(stdin, username.strip().lower())
        store = Database(settings.database_url)
        try:
            with store.session() as session:
                user = _account(session, username)
                set_password(session, user, password)
                _audit(session, "password_reset", user)
                name = user.username
        finally:
            store.dispose()
    except AccountError as error:
        print(f"users reset-password: {error}", file=sys.stderr)
        return 1
    print(f"new password set for {name!r}; its sessions have ended")
    return 0
