"""Deciding a sign-in: the limits first, then one password check, never more than allowed.

In order: the client address's and the site's buckets (throttle.py: refused there, no password
is checked at all, and the refusal is only counted, refusals.py); then one of the account's
checks (lockout.py), or of the owner's own browser (known_browsers.py); then argon2. An unknown
or disabled username takes from the same buckets and spends the same argon2 time, so neither
the answer nor its timing says whether an account exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models.account import User
from ...redis_conn import get_redis
from ..web import audit
from . import known_browsers, lockout
from .passwords import verify_password
from .refusals import RefusalCounter
from .throttle import LoginThrottle, address_key


class Verdict(StrEnum):
    SIGNED_IN = "signed_in"
    WRONG = "wrong"  # wrong password, unknown or disabled account, or the account paused
    THROTTLED = "throttled"  # too many attempts from this address or on the site: no check


@dataclass(frozen=True)
class Attempt:
    verdict: Verdict
    user: User | None = None
    browser: str | None = None  # the known-browser id the attempt came with
    retry_after: int = 0


def _throttle() -> LoginThrottle:
    built = current_app.extensions.get("login_throttle")
    if built is None:
        built = current_app.extensions["login_throttle"] = LoginThrottle(get_redis())
    return built


def _refusals() -> RefusalCounter:
    built = current_app.extensions.get("login_refusals")
    if built is None:
        built = current_app.extensions["login_refusals"] = RefusalCounter(get_redis())
    return built


def attempt(db: Session, username: str, password: str, at: datetime) -> Attempt:
    """Check a sign-in attempt within every limit; audited (refusals counted, not each one)."""
    ip = audit.client_ip()
    decision = _throttle().check(ip)
    if not decision.allowed:
        scope = "site" if decision.refused_by == "site" else f"addr:{address_key(ip)}"
        _refusals().count(db, scope, decision.refused_by or "address", at, ip)
        return Attempt(Verdict.THROTTLED, retry_after=decision.retry_after)

    user = db.scalar(select(User).where(User.username == username)) if username else None
    usable = user is not None and user.active
    browser = known_browsers.browser_of(user.id) if user is not None and usable else None
    if user is not None and usable and not _take_check(db, user, browser, at):
        verify_password(None, password)  # the same time as a wrong password
        _refusals().count(db, f"user:{user.id}", "account", at, ip, user.id, user.username)
        return Attempt(Verdict.WRONG, user)
    # Always one argon2 verification, even for an unknown account, so timing tells nothing.
    ok = verify_password(user.password_hash if user is not None and usable else None, password)
    if not ok or user is None:
        audit.record(
            "login_failed",
            "user",
            user.id if user else None,
            detail=_failure_reason(user),
            username=user.username if user else None,
        )
        db.commit()
        return Attempt(Verdict.WRONG, user)
    lockout.give_back(user, at)
    known_browsers.forget_failures(get_redis(), user.id, browser)
    return Attempt(Verdict.SIGNED_IN, user, browser)


def _take_check(db: Session, user: User, browser: str | None, at: datetime) -> bool:
    if browser is not None:
        own = known_browsers.take_check(get_redis(), user.id, browser)
        if own is not None:
            return own
    allowed = lockout.take_check(db, user.id, at)
    db.refresh(user)
    return allowed


def _failure_reason(user: User | None) -> str:
    # For the audit trail only; the person at the keyboard always reads the same message.
    if user is None:
        return "unknown account"
    if not user.active:
        return "account disabled"
    return "wrong password"
