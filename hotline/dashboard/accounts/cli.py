"""`hotline users create`: add a dashboard account from the server's terminal."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from ...db import Database
from ...settings import Settings
from .passwords import password_problem
from .users import AccountError, create_user


def read_password(stdin: TextIO = sys.stdin) -> str:
    """The new password: typed twice at a terminal, else the first line of standard input."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        # Say at once that it is refused, rather than after the second typing.
        problem = password_problem(first)
        if problem:
            raise AccountError(problem)
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
        password = read_password(stdin)
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
