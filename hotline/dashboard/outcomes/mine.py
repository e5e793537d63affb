"""The volunteer's reports, on the phone they took the call on: calls waiting, the form."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ...calllog import records
from ...db import get_session
from ...logs import cause
from ...models import CallRecord
from ...outcomes import store
from ...outcomes.model import EDIT_WINDOW, BadAnswers
from ...outcomes.store import CallKind, ConnectedCall
from ...redis_conn import get_redis
from ...routing import wrap_up
from ...telephony.line_volunteers import kick_from_elsewhere
from ..accounts.access import current_user, requires
from ..web.clock import now
from ..web.formatting import hotline_tz
from ..web.i18n import gettext as _
from . import bp
from .forms import (
    changed_meanwhile,
    form_fields,
    messages,
    schema,
    submitted,
    summary,
    version_of,
)

log = logging.getLogger(__name__)
REFERRALS = "referrals"  # config/outcomes.yaml's field whose option ids match partners.yaml's
# A volunteer's list reaches back this far: a week covers any shift and a day off after it.
LIST_DAYS = 7


def _volunteer_id() -> int:
    user = current_user()
    assert user is not None and user.volunteer_id is not None  # requires(volunteer_link=True)
    return user.volunteer_id


def _kind(kind: str) -> CallKind:
    try:
        return CallKind(kind)
    except ValueError:
        abort(404)


@bp.get("/outcomes")
@requires(volunteer_link=True)
def mine() -> ResponseReturnValue:
    """The volunteer's connected calls: those waiting for a report first, then their reports."""
    at = now()
    calls = store.connected_calls(get_session(), at - timedelta(days=LIST_DAYS), _volunteer_id())
    return render_template(
        "outcomes/mine.html",
        waiting=[c for c in calls if c.report is None],
        reported=[c for c in calls if c.report is not None],
        editable=lambda c: c.report is not None and store.editable(c.report, at),
        saved=request.args.get("saved"),
    )


def _form_page(
    call: ConnectedCall, answers: dict[str, object], problems: list[str], status: int = 200,
    message: str | None = None,
) -> tuple[str, int]:  # fmt: skip
    report = call.report
    at = now()
    return render_template(
        "outcomes/form.html",
        call=call,
        fields=form_fields(call.topic, answers),
        version=report.version if report is not None else "new",
        problems=problems,
        message=message,
        locked=report is not None and not store.editable(report, at),
        summary=summary(report.answers) if report is not None else [],
        edit_hours=int(EDIT_WINDOW.total_seconds() // 3600),
        action=url_for("dashboard.outcomes.report_form", kind=call.kind.value, call_id=call.id),
    ), status


def _own_call(kind: str, call_id: int) -> ConnectedCall | tuple[str, int]:
    try:
        return store.call_for_volunteer(get_session(), _kind(kind), call_id, _volunteer_id())
    except store.NotYours:
        abort(404)
    except store.NotConnected:
        message = _("This call was not connected to you, so it has no report.")
        return render_template("dashboard/error.html", status=409, message=message), 409


@bp.get("/outcomes/<kind>/<int:call_id>")
@requires(volunteer_link=True)
def report_form(kind: str, call_id: int) -> ResponseReturnValue:
    """The one-screen form of taps for one of the volunteer's connected calls."""
    call = _own_call(kind, call_id)
    if not isinstance(call, ConnectedCall):
        return call
    return _form_page(call, call.report.answers if call.report else _from_transfers(call), [])


def _from_transfers(call: ConnectedCall) -> dict[str, object]:
    """A new report starts with the referrals the call's warm transfers made (partners who
    answered), where the report's referral field offers them; the volunteer can untick them."""
    if call.kind is not CallKind.CALL:
        return {}
    record = get_session().get(CallRecord, call.id)
    reached = records.partners_reached(record.ivr_path if record is not None else None)
    field = next((f for f in schema().fields if f.id == REFERRALS), None)
    if field is None or not reached:
        return {}
    offered = {option.id for option in field.offered(call.topic)}
    chosen = [partner for partner in reached if partner in offered]
    return {REFERRALS: chosen} if chosen else {}


@bp.post("/outcomes/<kind>/<int:call_id>")
@requires(volunteer_link=True)
def report_save(kind: str, call_id: int) -> ResponseReturnValue:
    """Save the report (new, or an edit within the edit window); every refusal says why."""
    call = _own_call(kind, call_id)
    if not isinstance(call, ConnectedCall):
        return call
    version = version_of(request.form)
    raw = submitted(request.form)
    if version is False:
        return _form_page(call, {}, [_("The form was changed; nothing was saved.")], 400)
    keep = call.report.answers if call.report is not None else None
    try:
        answers = schema().check(raw, call.topic, keep=keep)
    except BadAnswers as error:
        return _form_page(call, dict(raw), messages(error), 400)  # type: ignore[arg-type]
    db = get_session()
    try:
        store.save(db, call, answers, now(), version, tz=hotline_tz())  # type: ignore[arg-type]
        db.commit()
    except store.AlreadySaved as saved:
        db.rollback()
        return _already_saved(call, saved.report.answers, answers)
    except IntegrityError:
        # Two submissions raced past the check: the database's unique key kept one of them.
        db.rollback()
        again = store.call_for_volunteer(db, call.kind, call.id, _volunteer_id())
        return _already_saved(again, again.report.answers if again.report else {}, answers)
    except (store.Stale, StaleDataError):
        db.rollback()
        again = store.call_for_volunteer(db, call.kind, call.id, _volunteer_id())
        message = changed_meanwhile()
        return _form_page(again, again.report.answers if again.report else {}, [], 409, message)
    except store.TooLate:
        db.rollback()
        message = _("This report can no longer be changed; a supervisor can correct it.")
        return _form_page(call, call.report.answers if call.report else {}, [], 403, message)
    _report_done(call)
    return redirect(url_for("dashboard.outcomes.mine", saved=1), code=303)


def _already_saved(
    call: ConnectedCall, saved: Mapping[str, object], sent: Mapping[str, object]
) -> ResponseReturnValue:
    if saved == sent:
        # The same report sent twice (a double tap, a reload): it counts once, and all is well.
        return redirect(url_for("dashboard.outcomes.mine", saved=1), code=303)
    message = _("This call already has a report (it counts once). Here it is; change it if needed.")
    return _form_page(call, dict(saved), [], 409, message)


def _report_done(call: ConnectedCall) -> None:
    """The report is in: the volunteer's wrap-up time ends now (hotline.routing.wrap_up); the
    database's side follows from the report itself."""
    redis = get_redis()
    if redis is None or call.volunteer_id is None:
        return
    try:
        if wrap_up.finish(redis, call.volunteer_id, call.wrap_up_owner):
            # A caller waiting in line is offered to them now, not at their next wait document.
            kick_from_elsewhere(redis)
    except RedisError as exc:
        # The wrap-up claim expires by itself within wrap_up_seconds.
        log.warning("wrap-up of volunteer %s not ended (%s)", call.volunteer_id, cause(exc))
