"""Signing in and out, the language switch, and the dashboard's front door."""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ...db import get_session
from ...models.account import User
from ..web import audit
from ..web.clock import now
from ..web.cookies import COOKIE_PATH, secure_cookies
from ..web.i18n import COOKIE_NAME as LANG_COOKIE
from ..web.i18n import LANGUAGES
from ..web.i18n import gettext as _
from . import bp, sessions
from .access import current_user, requires, safe_next
from .passwords import MAX_LENGTH, hash_password, needs_rehash, verify_password
from .users import is_locked, register_failure, register_success


def _login_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    notice = None
    if request.args.get("expired"):
        notice = _("Your session has ended. Please sign in again.")
    elif request.args.get("signed_out"):
        notice = _("You have signed out.")
    page = render_template("accounts/login.html", error=error, notice=notice)
    return page, status


@bp.get("/login")
def login() -> ResponseReturnValue:
    """The sign-in form (signed-in users go straight to their start page)."""
    if current_user() is not None:
        return redirect(url_for("dashboard.accounts.index"))
    return _login_page()


@bp.post("/login")
def login_post() -> ResponseReturnValue:
    """Check the password; on success start a brand-new session (new id, new CSRF token)."""
    db = get_session()
    at = now()
    username = request.form.get("username", "").strip().lower()[:64]
    password = request.form.get("password", "")[:MAX_LENGTH]
    user = db.scalar(select(User).where(User.username == username)) if username else None
    usable = user is not None and user.active and not is_locked(user, at)
    # Always one argon2 verification, even for an unknown account, so timing tells nothing.
    ok = verify_password(user.password_hash if usable and user else None, password)
    if not ok or user is None:
        if user is not None and usable:
            register_failure(user, at)
        audit.record(
            "login_failed",
            "user",
            user.id if user else None,
            detail=_failure_reason(user, usable),
            username=user.username if user else None,
        )
        db.commit()
        # One message for every failure: it must not tell whether the account exists.
        return _login_page(
            _(
                "Wrong username or password. After several failed attempts, signing in is "
                "paused for a few minutes."
            ),
            200,
        )
    sessions.end(db, request.cookies.get(sessions.COOKIE_NAME))
    sessions.purge_expired(db, at)
    register_success(user, at)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        # A language picked on the sign-in page is the user's choice: keep it on the account.
        user.language = chosen
    token = sessions.start(db, user, at)
    g.user = user
    audit.record("login", "user", user.id)
    db.commit()
    target = safe_next(request.args.get("next")) or url_for("dashboard.accounts.index")
    response = redirect(target)
    sessions.set_cookie(response, token)
    return response


def _failure_reason(user: User | None, usable: bool) -> str:
    # For the audit trail only; the person at the keyboard always reads the same message.
    if user is None:
        return "unknown account"
    if not user.active:
        return "account disabled"
    return "wrong password" if usable else "account paused after failures"


@bp.post("/logout")
@requires()
def logout() -> ResponseReturnValue:
    """End the session on the server, then forget the cookie."""
    db = get_session()
    audit.record("logout", "user", current_user().id)  # type: ignore[union-attr]
    sessions.end(db, g.session_token)
    db.commit()
    g.dashboard_session = None
    response = redirect(url_for("dashboard.accounts.login", signed_out=1))
    sessions.clear_cookie(response)
    return response


@bp.post("/language")
def language() -> ResponseReturnValue:
    """Switch the interface language: stored on the account, or in a cookie before login."""
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        lang = "ru"
    user = current_user()
    back = safe_next(request.form.get("next")) or url_for("dashboard.accounts.index")
    response = make_response(redirect(back))
    if user is not None:
        user.language = lang
        get_session().commit()
    # Also remembered by the browser, for its sign-in page (and applied at the next sign-in).
    response.set_cookie(
        LANG_COOKIE,
        lang,
        path=COOKIE_PATH,
        max_age=365 * 86400,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(),
    )
    return response


@bp.get("/")
@requires()
def index() -> ResponseReturnValue:
    """Supervisors start on the live view, volunteers on their own page."""
    user = current_user()
    if user is not None and user.is_supervisor:
        return redirect(url_for("dashboard.live.live"))
    return redirect(url_for("dashboard.roster.me"))
