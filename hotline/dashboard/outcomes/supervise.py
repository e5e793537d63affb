"""Supervisors: connected calls still waiting for a report, and correcting a report (audited)."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from ...db import get_session
from ...models import OutcomeReport, Volunteer
from ...outcomes import store
from ...outcomes.model import BadAnswers, values_of
from ...outcomes.store import CallKind, ConnectedCall
from ...routing.policy import on_shift
from ...routing.roster_queries import shift_spec
from ..accounts.access import current_user, supervisor_only
from ..web import audit
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

PENDING_DAYS = 7
# A call still unreported this long after it started is overdue even if its volunteer is
# still on shift: no shift of this hotline runs longer.
OVERDUE_AFTER = timedelta(hours=12)


@bp.get("/outcomes/pending")
@supervisor_only
def pending() -> ResponseReturnValue:
    """Connected calls of the last week with no report: overdue (the volunteer's shift is over,
    or 12 h have passed) first, then those whose volunteer is still on shift."""
    db = get_session()
    at = now()
    calls = [
        c for c in store.connected_calls(db, at - timedelta(days=PENDING_DAYS)) if c.report is None
    ]
    ids = {c.volunteer_id for c in calls if c.volunteer_id is not None}
    volunteers = {
        v.id: v
        for v in db.scalars(
            select(Volunteer).where(Volunteer.id.in_(ids)).options(selectinload(Volunteer.shifts))
        )
    }
    tz = hotline_tz()

    def still_on_shift(call: ConnectedCall) -> bool:
        volunteer = volunteers.get(call.volunteer_id or 0)
        if volunteer is None or at - call.started_at >= OVERDUE_AFTER:
            return False
        return on_shift([shift_spec(s) for s in volunteer.shifts], at, tz)

    overdue = [c for c in calls if not still_on_shift(c)]
    waiting = [c for c in calls if still_on_shift(c)]
    audit.record_view("outcomes_pending_view", "outcome_reports")
    return render_template(
        "outcomes/pending.html", overdue=overdue, waiting=waiting, volunteers=volunteers
    )


def _report_call(report_id: int) -> tuple[OutcomeReport, ConnectedCall]:
    db = get_session()
    report = db.get(OutcomeReport, report_id)
    if report is None:
        abort(404)
    if report.call_record_id is not None:
        call = store.find_call(db, CallKind.CALL, report.call_record_id)
    else:
        call = store.find_call(db, CallKind.CALLBACK, report.callback_attempt_id or 0)
    if call is None:
        abort(404)
    return report, call


def _correct_page(
    report: OutcomeReport, call: ConnectedCall, answers: dict[str, object],
    problems: list[str], status: int = 200, message: str | None = None,
) -> tuple[str, int]:  # fmt: skip
    volunteer = get_session().get(Volunteer, report.volunteer_id)
    return render_template(
        "outcomes/correct.html",
        report=report,
        call=call,
        volunteer=volunteer,
        fields=form_fields(call.topic, answers),
        summary=summary(report.answers),
        problems=problems,
        message=message,
        saved=request.args.get("saved"),
    ), status


@bp.get("/outcomes/reports/<int:report_id>")
@supervisor_only
def report_view(report_id: int) -> ResponseReturnValue:
    """A report as saved, with the form to correct it."""
    report, call = _report_call(report_id)
    audit.record_view("outcome_view", "outcome_report", report.id)
    return _correct_page(report, call, report.answers, [])


@bp.post("/outcomes/reports/<int:report_id>")
@supervisor_only
def report_correct(report_id: int) -> ResponseReturnValue:
    """A supervisor's correction: saved over the report, the changed fields in the audit log."""
    report, call = _report_call(report_id)
    version = version_of(request.form)
    if not isinstance(version, int) or isinstance(version, bool):
        return _correct_page(
            report, call, report.answers, [_("The form was changed; nothing was saved.")], 400
        )
    raw = submitted(request.form)
    before = dict(report.answers)
    try:
        answers = schema().check(raw, call.topic, keep=before)
    except BadAnswers as error:
        return _correct_page(report, call, dict(raw), messages(error), 400)  # type: ignore[arg-type]
    db = get_session()
    user = current_user()
    try:
        store.save(
            db, call, answers, now(), version, corrected_by=user.id if user else 0, tz=hotline_tz()
        )
        changed = sorted(
            k for k in set(before) | set(answers) if values_of(before, k) != values_of(answers, k)
        )
        audit.record(
            "outcome_correct", "outcome_report", report.id, detail="fields=" + ",".join(changed)
        )
        db.commit()
    except (store.Stale, StaleDataError):
        db.rollback()
        report, call = _report_call(report_id)
        message = changed_meanwhile()
        return _correct_page(report, call, report.answers, [], 409, message)
    return redirect(
        url_for("dashboard.outcomes.report_view", report_id=report.id, saved=1), code=303
    )
