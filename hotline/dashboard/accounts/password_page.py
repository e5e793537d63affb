"""The signed-in user changes their own password: the current one first, then a new one.

The current password is checked within the same per-account limit as a sign-in (a stolen
session cannot guess it faster), the new one is refused like any new password (too short,
common or breached, or containing the username), and every other session of the account ends.
"""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ...db import get_session
from ..web import audit
from ..web.clock import now
from ..web.i18n import gettext as _
from . import bp, lockout, sessions
from .access import current_user, requires
from .password_policy import MAX_LENGTH, MIN_LENGTH, PasswordProblem, password_problem
from .passwords import hash_password, verify_password


def _problem_text(problem: PasswordProblem) -> str:
    return {
        PasswordProblem.TOO_SHORT: _(
            "The new password must be at least %(n)s characters long.", n=MIN_LENGTH
        ),
        PasswordProblem.TOO_LONG: _(
            "The new password must be at most %(n)s characters long.", n=MAX_LENGTH
        ),
        PasswordProblem.CONTAINS_USERNAME: _("The new password must not contain your username."),
        PasswordProblem.BREACHED: _(
            "This password is on a list of common or breached passwords. Choose another."
        ),
        PasswordProblem.GUESSABLE: _(
            "This password is too easy to guess (a common word or name, a keyboard or letter "
            "pattern, a repeat or a date). Several unrelated words make a good one."
        ),
    }[problem]


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    saved = request.args.get("saved") == "1"
    page = render_template(
        "accounts/password.html", error=error, saved=saved, min_length=MIN_LENGTH
    )
    return page, status


@bp.get("/account/password")
@requires()
def password() -> ResponseReturnValue:
    """The form: current password, new password twice."""
    return _page()


@bp.post("/account/password")
@requires()
def password_post() -> ResponseReturnValue:
    """Change the password; the other sessions of the account end, this one goes on."""
    db = get_session()
    user = current_user()
    assert user is not None
    at = now()
    current = request.form.get("current", "")[:MAX_LENGTH]
    new = request.form.get("new", "")[: MAX_LENGTH + 1]
    again = request.form.get("again", "")[: MAX_LENGTH + 1]
    if not lockout.take_check(db, user.id, at):
        verify_password(None, current)
        return _page(_("Too many wrong passwords. Please wait a few minutes, then try again."), 429)
    db.refresh(user)
    if not verify_password(user.password_hash, current):
        audit.record("login_failed", "user", user.id, detail="wrong current password")
        db.commit()
        return _page(_("The current password is wrong."), 200)
    lockout.unlock(user)
    problem = password_problem(new, user.username, [user.username.replace(".", " ")])
    if new != again:
        error = _("The two new passwords differ.")
    elif new == current:
        error = _("The new password must differ from the current one.")
    elif problem is not None:
        error = _problem_text(problem)
    else:
        error = None
    if error is not None:
        db.commit()
        return _page(error, 200)
    user.password_hash = hash_password(new)
    # Every other browser signed in as this account is signed out; this one stays.
    keep = g.get("session_token")
    for other in list(user.sessions):
        if keep is None or other.id_hash != sessions.token_hash(keep):
            db.delete(other)
    audit.record("password_change", "user", user.id)
    db.commit()
    return redirect(url_for("dashboard.accounts.password", saved=1))
