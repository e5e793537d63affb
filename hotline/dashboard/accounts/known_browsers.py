"""A browser the owner has signed in from keeps its own count of wrong passwords.

Anyone can type a supervisor's username, so wrong guesses alone would pause the account for its
owner too, as long as the guessing went on. After each sign-in the browser gets a signed cookie
naming the account; a sign-in from a browser with that cookie is counted apart (LIMIT wrong
passwords in a row, then the same PAUSE), in Redis, so an anonymous guesser never pauses the
owner's own browser. The per-address and site-wide limits apply to it as to everyone; when Redis
is down, it counts on the account like any other browser.
"""

from __future__ import annotations

import logging
import secrets
from contextlib import suppress

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis import Redis
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from ..web.cookies import COOKIE_PATH, secure_cookies
from .lockout import LIMIT, PAUSE

log = logging.getLogger(__name__)

COOKIE_NAME = "hotline_known"
MAX_AGE_SECONDS = 180 * 86400
_SALT = "hotline-known-browser"
_KEY = "hotline:login:known:{}:{}"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SETTINGS"].secret_key, salt=_SALT)


def browser_of(user_id: int) -> str | None:
    """This request's known-browser id for the account, if its cookie is valid and names it."""
    raw = request.cookies.get(COOKIE_NAME, "")
    if not raw or len(raw) > 200:
        return None
    try:
        account, browser = _serializer().loads(raw, max_age=MAX_AGE_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    return str(browser) if account == user_id else None


def take_check(redis: Redis | None, user_id: int, browser: str) -> bool | None:
    """Take one check on this browser's own count; None when Redis cannot say (count on the
    account instead)."""
    if redis is None:
        return None
    key = _KEY.format(user_id, browser)
    try:
        with redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, int(PAUSE.total_seconds()))
            taken, _ = pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("known browser: Redis unavailable (%s)", type(exc).__name__)
        return None
    return int(taken) <= LIMIT


def forget_failures(redis: Redis | None, user_id: int, browser: str | None) -> None:
    """The right password: this browser's count starts again."""
    if redis is None or browser is None:
        return
    with suppress(RedisError, OSError):  # else it expires by itself
        redis.delete(_KEY.format(user_id, browser))


def remember(response: Response, user_id: int, browser: str | None) -> None:
    """After a sign-in: the browser is known for this account (a new id for a new account)."""
    value = _serializer().dumps([user_id, browser or secrets.token_urlsafe(12)])
    response.set_cookie(
        COOKIE_NAME,
        value,
        path=COOKIE_PATH,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(),
    )
