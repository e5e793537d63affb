"""Who is asking: the session behind the cookie, and role checks for every view."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, url_for

from ...db import get_session
from ...models.account import Role, User
from ..web.clock import now
from . import sessions

F = TypeVar("F", bound=Callable[..., Any])


def load_user() -> None:
    """before_request: find the live session for the cookie and its user (or nobody)."""
    loaded = sessions.load(get_session(), request.cookies.get(sessions.COOKIE_NAME), now())
    g.dashboard_session = loaded.session
    g.user = loaded.session.user if loaded.session else None
    g.session_expired = loaded.expired
    g.session_token = request.cookies.get(sessions.COOKIE_NAME) if loaded.session else None


def current_user() -> User | None:
    """The signed-in user of this request, or None."""
    return g.get("user")


def requires(*roles: Role, volunteer_link: bool = False) -> Callable[[F], F]:
    """Only signed-in users with one of roles (any role when none given) may use the view.

    volunteer_link: the account must also be linked to a roster volunteer.
    Anonymous GETs go to the login page; anything else is a 403 page.
    """
    allowed = {role.value for role in roles}

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.method == "GET":
                    expired = 1 if g.get("session_expired") else None
                    next_page = request.full_path.rstrip("?")
                    target = url_for("dashboard.accounts.login", next=next_page, expired=expired)
                    return redirect(target)
                abort(401)
            if allowed and user.role not in allowed:
                abort(403)
            if volunteer_link and user.volunteer_id is None:
                abort(403, description="no-volunteer")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


supervisor_only = requires(Role.SUPERVISOR)


def safe_next(target: str | None) -> str | None:
    """A post-login redirect target only if it stays inside the dashboard (no open redirect)."""
    if not target or len(target) > 500:
        return None
    if not target.startswith("/dashboard/") or target.startswith("//") or "\\" in target:
        return None
    return target.rstrip("?")
