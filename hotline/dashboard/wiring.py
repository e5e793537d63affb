"""The dashboard assembled: its features under /dashboard/, request hooks, template helpers,
error pages, init_app.

Everything touching the Blueprint happens at import time: one Blueprint object is registered on
every app the tests create, and Flask forbids changing a Blueprint after its first registration.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, NotFound

from . import accounts, calls, live, outcomes, roster, stats
from .accounts.access import load_user
from .accounts.sessions import clear_cookie
from .web import csrf, i18n, security_headers
from .web.blueprint import bp
from .web.formatting import age, csrf_field, date_text, duration, number, percent, time_text, when
from .web.i18n import (
    LANGUAGES,
    WEEKDAYS,
    choose_language,
    current_language,
    gettext,
    label,
    ngettext,
    repeat_label,
)

for feature in (accounts, calls, stats, live, roster, outcomes):
    bp.register_blueprint(feature.bp)

bp.before_request(load_user)
bp.before_request(choose_language)
bp.before_request(csrf.protect)


@bp.after_request
def _cookies(response: Response) -> Response:
    if g.get("session_expired") and g.get("dashboard_session") is None:
        clear_cookie(response)
    return csrf.set_login_cookie(response)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "_": gettext,
        "ngettext": ngettext,
        "label": label,
        "csrf_field": csrf_field,
        "user": g.get("user"),
        "lang": current_language(),
        "ui_languages": LANGUAGES,
        "when": when,
        "date_text": date_text,
        "time_text": time_text,
        "number": number,
        "duration": duration,
        "percent": percent,
        "age": age,
        "weekdays": WEEKDAYS,
        "repeat_label": repeat_label,
    }


@bp.errorhandler(HTTPException)
def _error_page(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    if status == 403 and error.description == "csrf":
        message = gettext(
            "This form has expired or did not come from this site. Nothing was changed. "
            "Go back, reload the page and try again."
        )
    elif status == 403 and error.description == "no-volunteer":
        message = gettext("Your account is not linked to a volunteer in the roster.")
    elif status == 403:
        message = gettext("You do not have access to this page.")
    elif status == 404:
        message = gettext("There is no such page, or it is not yours to see.")
    elif status == 401:
        message = gettext("Please sign in first.")
    elif status == 413:
        message = gettext("The form is too large.")
    else:
        message = gettext("The request could not be processed.")
    return render_template("dashboard/error.html", status=status, message=message), status


@bp.route("/<path:_unknown>", methods=["GET", "POST"])
def _not_found(_unknown: str) -> ResponseReturnValue:
    # Unknown dashboard URLs get the dashboard's own 404 page and headers.
    raise NotFound()


def init_app(app: Flask) -> None:
    """Register the dashboard under /dashboard/ with its security headers."""
    app.register_blueprint(bp)
    i18n.init_app(app)
    security_headers.init_app(app)
