"""Dashboard accounts for supervisors: who can sign in, and disabling an account."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ...db import get_session
from ...models.account import User
from ...models.roster import Volunteer
from ..web import audit
from . import bp
from .access import current_user, supervisor_only
from .users import set_active


@bp.get("/users")
@supervisor_only
def users() -> ResponseReturnValue:
    """Every account, with its role, linked volunteer and state (accounts are created with
    `hotline users create`)."""
    db = get_session()
    accounts = db.scalars(select(User).order_by(User.username)).all()
    linked = {
        v.id: v
        for v in db.scalars(
            select(Volunteer).where(
                Volunteer.id.in_({a.volunteer_id for a in accounts if a.volunteer_id})
            )
        )
    }
    return render_template("accounts/users.html", accounts=accounts, linked=linked)


def _account(user_id: int) -> User:
    account = get_session().get(User, user_id)
    if account is None:
        abort(404)
    return account


@bp.post("/users/<int:user_id>/disable")
@supervisor_only
def user_disable(user_id: int) -> ResponseReturnValue:
    """Disable an account: its sessions end at once."""
    account = _account(user_id)
    if account.id == current_user().id:  # type: ignore[union-attr]
        abort(400)  # locking oneself out helps nobody; another supervisor can do it
    set_active(get_session(), account, False)
    audit.record("account_disable", "user", account.id)
    get_session().commit()
    return redirect(url_for("dashboard.accounts.users"))


@bp.post("/users/<int:user_id>/enable")
@supervisor_only
def user_enable(user_id: int) -> ResponseReturnValue:
    """Enable an account again (and clear its throttling)."""
    account = _account(user_id)
    set_active(get_session(), account, True)
    audit.record("account_enable", "user", account.id)
    get_session().commit()
    return redirect(url_for("dashboard.accounts.users"))
