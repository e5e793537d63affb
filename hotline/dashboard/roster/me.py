"""The volunteer's own phone-sized page: their shifts and the "available now" toggle."""

from __future__ import annotations

from datetime import timedelta

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ...db import get_session
from ...models.roster import Volunteer
from ...outcomes import store
from ..accounts.access import current_user, requires
from ..outcomes.mine import LIST_DAYS
from ..web import audit
from ..web.clock import now
from ..web.formatting import hotline_tz
from . import bp
from .read import on_shift_now


def _volunteer() -> Volunteer | None:
    user = current_user()
    return get_session().get(Volunteer, user.volunteer_id) if user and user.volunteer_id else None


@bp.get("/me")
@requires(volunteer_link=True)
def me() -> ResponseReturnValue:
    """Shifts, whether on shift right now, and the availability switch."""
    volunteer = _volunteer()
    on_shift = bool(volunteer and on_shift_now([volunteer], now(), hotline_tz()))
    waiting = 0
    if volunteer is not None:
        since = now() - timedelta(days=LIST_DAYS)
        calls = store.connected_calls(get_session(), since, volunteer.id)
        waiting = sum(1 for call in calls if call.report is None)
    return render_template(
        "roster/me.html", volunteer=volunteer, on_shift=on_shift, waiting_reports=waiting
    )


@bp.post("/me/available")
@requires(volunteer_link=True)
def me_available() -> ResponseReturnValue:
    """Switch "available now": routing skips a volunteer who switched it off."""
    volunteer = _volunteer()
    if volunteer is not None:
        volunteer.available = request.form.get("available") == "1"
        audit.record(
            "availability_change",
            "volunteer",
            volunteer.id,
            detail="available" if volunteer.available else "unavailable",
        )
        get_session().commit()
    return redirect(url_for("dashboard.roster.me"))
