"""CSRF protection: a synchronizer token per session, checked on every unsafe request.

Before login there is no session yet, so the login form uses a signed double-submit token: a
random cookie, and in the form its HMAC under SECRET_KEY (a forged cookie cannot be paired).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Response, abort, current_app, g, request

from .cookies import COOKIE_PATH, secure_cookies

FIELD = "csrf_token"
LOGIN_COOKIE = "hotline_login_csrf"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _login_token(nonce: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"login-csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def token() -> str:
    """The token forms on this page must carry (csrf_field() in templates)."""
    session = g.get("dashboard_session")
    if session is not None:
        return session.csrf_token
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or len(nonce) > 64:
        nonce = g.get("login_csrf_nonce") or secrets.token_urlsafe(24)
        g.login_csrf_nonce = nonce  # set_login_cookie sends it with the response
    return _login_token(nonce)


def protect() -> None:
    """before_request: refuse an unsafe request whose token is missing or not this session's."""
    if request.method not in _UNSAFE:
        return
    sent = request.form.get(FIELD, "")
    session = g.get("dashboard_session")
    if session is not None:
        expected = session.csrf_token
    else:
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        expected = _login_token(nonce) if nonce and len(nonce) <= 64 else ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        abort(403, description="csrf")


def set_login_cookie(response: Response) -> Response:
    """after_request: send the login form's nonce cookie when token() made a new one."""
    nonce = g.pop("login_csrf_nonce", None)
    if nonce:
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Lax",
            secure=secure_cookies(),
        )
    return response
