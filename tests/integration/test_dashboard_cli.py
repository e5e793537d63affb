"""`hotline users create`: the password from standard input, argon2id, a link to the roster."""

from __future__ import annotations

import os
import pty
import select as poll
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from support import test_env

from hotline.models import User, Volunteer

HOTLINE = str(Path(sys.executable).parent / "hotline")


def run(url: str, *args: str, password: str = "a good long passphrase\n"):
    env = {**os.environ, **test_env(DATABASE_URL=url)}
    return subprocess.run(
        [HOTLINE, "users", "create", *args],
        input=password,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def url(sqlite_url):
    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        session.add(
            Volunteer(
                handle="aigerim",
                display_name="Aigerim",
                phone_encrypted="x",
                phone_last_digits="67",
                roles=["lawyer"],
                topics=["labor"],
                languages=["ru"],
            )
        )
        session.commit()
    engine.dispose()
    return sqlite_url


def users(url: str) -> list[User]:
    engine = create_engine(url)
    with Session(engine) as session:
        found = list(session.scalars(select(User).order_by(User.id)))
    engine.dispose()
    return found


def test_a_supervisor_is_created_with_the_password_from_stdin(url):
    result = run(url, "Boss", "--role", "supervisor")
    assert result.returncode == 0, result.stderr
    assert "created supervisor account 'boss'" in result.stdout
    [user] = users(url)
    assert user.username == "boss" and user.role == "supervisor" and user.volunteer_id is None
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "passphrase" not in result.stdout + result.stderr


def test_a_volunteer_account_is_linked_to_their_roster_entry(url):
    result = run(url, "aigerim", "--role", "volunteer", "--volunteer", "aigerim")
    assert result.returncode == 0, result.stderr
    assert users(url)[0].volunteer_id is not None


@pytest.mark.parametrize(
    "args, password, message",
    [
        (("x1", "--role", "volunteer"), None, "needs --volunteer HANDLE"),
        (("x1", "--role", "volunteer", "--volunteer", "nobody"), None, "no volunteer with handle"),
        (("x1", "--role", "supervisor"), "short\n", "at least 12 characters"),
        (("Bad Name!", "--role", "supervisor"), None, "the username must be"),
    ],
)
def test_refusals_say_why_and_create_nothing(url, args, password, message):
    result = run(url, *args, **({"password": password} if password else {}))
    assert result.returncode == 1 and message in result.stderr
    assert users(url) == []


def test_a_second_account_with_the_same_name_is_refused(url):
    assert run(url, "boss", "--role", "supervisor").returncode == 0
    result = run(url, "boss", "--role", "supervisor")
    assert result.returncode == 1 and "already exists" in result.stderr


def at_a_terminal(url: str, *args: str, typed: list[str]) -> tuple[int, str]:
    """Run `hotline users create` on a pseudo-terminal, typing each line when a prompt ends in
    ': '; returns its exit status and everything the terminal showed."""
    env = {**os.environ, **test_env(DATABASE_URL=url)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its terminal, so getpass prompts on it
        os.execve(HOTLINE, [HOTLINE, "users", "create", *args], env)
    shown, pending, deadline = b"", list(typed), time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = poll.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if pending and shown.rstrip(b" ").endswith(b":"):
                os.write(fd, pending.pop(0).encode() + b"\n")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_at_a_terminal_a_short_password_is_refused_before_it_is_asked_again(url):
    status, shown = at_a_terminal(url, "boss", "--role", "supervisor", typed=["short"])
    assert status == 1
    assert "at least 12 characters" in shown
    assert "Password again" not in shown
    assert users(url) == []


def test_at_a_terminal_the_password_is_typed_twice(url):
    typed = ["a good long passphrase", "a good long passphrase"]
    status, shown = at_a_terminal(url, "boss", "--role", "supervisor", typed=typed)
    assert status == 0, shown
    assert "Password again" in shown and "created supervisor account 'boss'" in shown
    assert "passphrase" not in shown  # getpass does not echo
    assert [user.username for user in users(url)] == ["boss"]
