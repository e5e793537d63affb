"""Helpers for the dashboard tests: a controllable clock, accounts, roster, calls, and a browser-
like client that carries CSRF tokens. Imported by the test_dashboard_* modules (no tests here)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from hotline.callbacks.service import request_callback
from hotline.crypto import encrypt, make_fernet
from hotline.dashboard.accounts.passwords import hash_password
from hotline.dashboard.web.clock import CLOCK_KEY
from hotline.models import CallRecord, RingAttempt, Shift, User, Volunteer

PASSWORD = "a long test passphrase"
_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test run
VOLUNTEER_PHONE = "+77012345678"
OTHER_PHONE = "+77019876543"
CALLBACK_NUMBER = "+77015550199"
START = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # Tuesday 09:00 in Almaty
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """The dashboard's clock, moved by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app) -> Clock:
    clock = Clock()
    app.config[CLOCK_KEY] = clock
    return clock


@pytest.fixture
def db(app) -> Iterator[Session]:
    """A session of its own (not the request's), for seeding and checking what was stored."""
    session = app.extensions["db"].sessions()
    yield session
    session.close()


def add_volunteer(
    app,
    db: Session,
    handle: str,
    name: str | None = None,
    phone: str = VOLUNTEER_PHONE,
    roles: tuple[str, ...] = ("psychologist", "lawyer"),
    topics: tuple[str, ...] = ("violence", "trafficking", "labor"),
    languages: tuple[str, ...] = ("ru", "kk"),
    shifts: tuple[dict[str, Any], ...] = (),
    active: bool = True,
) -> Volunteer:
    """A volunteer with an encrypted phone, and shifts given as Shift column values."""
    fernet = make_fernet(app.config["SETTINGS"].callback_encryption_keys)
    volunteer = Volunteer(
        handle=handle,
        display_name=name or handle.title(),
        phone_encrypted=encrypt(fernet, phone),
        phone_last_digits=phone[-2:],
        roles=list(roles),
        topics=list(topics),
        languages=list(languages),
        active=active,
        available=True,
        shifts=[Shift(**shift) for shift in shifts],
    )
    db.add(volunteer)
    db.commit()
    return volunteer


def add_user(
    db: Session,
    username: str,
    role: str,
    volunteer: Volunteer | None = None,
    active: bool = True,
    language: str = "en",
) -> User:
    user = User(
        language=language,
        username=username,
        password_hash=_HASH,
        role=role,
        volunteer_id=volunteer.id if volunteer else None,
        active=active,
        failed_logins=0,
    )
    db.add(user)
    db.commit()
    return user


def add_call(db: Session, started: datetime, **values: Any) -> CallRecord:
    """A finished call record; values override the defaults (a connected Russian violence call)."""
    attempts = values.pop("attempts", [])
    fields: dict[str, Any] = {
        "call_sid": "CA" + secrets.token_hex(16),
        "caller_key": None,
        "language": "ru",
        "topic": "violence",
        "ivr_path": ["greeting", "language:2", "topic:1"],
        "outcome": "connected",
        "started_at": started,
        "ended_at": started + timedelta(minutes=5),
    }
    fields.update(values)
    call = CallRecord(**fields)
    call.attempts = [RingAttempt(**attempt) for attempt in attempts]
    db.add(call)
    db.commit()
    return call


def add_callback(app, db: Session, now: datetime, topic: str = "trafficking"):
    """A pending callback request stored the way the IVR stores one."""
    settings = app.config["SETTINGS"]
    return request_callback(
        db,
        make_fernet(settings.callback_encryption_keys),
        None,
        number_e164=CALLBACK_NUMBER,
        topic=topic,
        language="kk",
        window="evening",
        identify=False,
        call_record_id=None,
        now=now,
        tz=settings.tz,
    )


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Almaty (UTC+5) as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=5)


class Dashboard:
    """Drives /dashboard/ like a browser: keeps cookies, sends each form's CSRF token back."""

    def __init__(self, client) -> None:
        self.client = client

    def token(self, page: str = "/dashboard/login") -> str:
        match = _CSRF.search(self.client.get(page).get_data(as_text=True))
        assert match, f"no CSRF token on {page}"
        return match.group(1)

    def login(self, username: str, password: str = PASSWORD, next: str | None = None):
        query = f"?next={next}" if next else ""
        return self.client.post(
            f"/dashboard/login{query}",
            data={
                "username": username,
                "password": password,
                "csrf_token": self.token(self._token_page()),
            },
        )

    def post(self, path: str, data: dict[str, Any] | None = None, token_from: str | None = None):
        """POST with the CSRF token of the current session (or the login page's, signed out)."""
        token = self.token(token_from or self._token_page())
        return self.client.post(path, data={**(data or {}), "csrf_token": token})

    def _token_page(self) -> str:
        # The language switcher is on every page: any page of the session carries its token.
        response = self.client.get("/dashboard/")
        if response.status_code == 302 and "/login" in response.headers["Location"]:
            return "/dashboard/login"
        return response.headers["Location"]

    def logout(self):
        return self.post("/dashboard/logout")

    def session_cookie(self) -> str | None:
        cookie = self.client.get_cookie("hotline_session", path="/dashboard")
        return cookie.value if cookie else None


@pytest.fixture
def dash(client) -> Dashboard:
    """A browser whose user chose English on the login page (tests read better in English)."""
    client.set_cookie("hotline_lang", "en", path="/dashboard")
    return Dashboard(client)


@dataclass
class People:
    supervisor: User
    volunteer_user: User
    own: Volunteer  # the volunteer_user's roster entry
    other: Volunteer  # someone else's, with a shift
    own_shift: Shift
    other_shift: Shift


@pytest.fixture
def people(app, db, clock) -> People:
    """A supervisor, a volunteer account linked to `own`, and another volunteer."""
    weekday = {"days": ["mon", "tue", "wed", "thu", "fri"], "start_minute": 540, "end_minute": 1080}
    own = add_volunteer(app, db, "aigerim", "Aigerim S.", VOLUNTEER_PHONE, shifts=(weekday,))
    other = add_volunteer(app, db, "dana", "Dana K.", OTHER_PHONE, shifts=(dict(weekday),))
    return People(
        supervisor=add_user(db, "boss", "supervisor"),
        volunteer_user=add_user(db, "aigerim", "volunteer", own),
        own=own,
        other=other,
        own_shift=own.shifts[0],
        other_shift=other.shifts[0],
    )
