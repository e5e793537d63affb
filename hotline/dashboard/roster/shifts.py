"""Shift editing: supervisors for anyone, a volunteer for their own shifts only."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ...db import get_session
from ...models.account import User
from ...models.roster import Shift, Volunteer
from ...routing.policy import DAYS
from ..accounts.access import current_user, requires
from ..web import audit
from . import bp
from .forms import apply_shift, check_shift, stored_shift_values


def _user() -> User:
    user = current_user()
    assert user is not None  # @requires() ran first
    return user


def _own_volunteer(volunteer_id: int) -> Volunteer:
    """The volunteer, if this user may edit their shifts; 404 otherwise (existence not revealed)."""
    user = _user()
    if not user.is_supervisor and user.volunteer_id != volunteer_id:
        abort(404)
    volunteer = get_session().get(Volunteer, volunteer_id)
    if volunteer is None:
        abort(404)
    return volunteer


def _own_shift(shift_id: int) -> Shift:
    shift = get_session().get(Shift, shift_id)
    if shift is None:
        abort(404)
    _own_volunteer(shift.volunteer_id)
    return shift


def _back(volunteer_id: int) -> ResponseReturnValue:
    if _user().is_supervisor:
        target = url_for("dashboard.roster.volunteer_edit", volunteer_id=volunteer_id, saved=1)
        return redirect(target)
    return redirect(url_for("dashboard.roster.me", saved=1))


def _form(volunteer: Volunteer, shift: Shift | None, values: dict, problems: list[str], status=200):
    page = render_template(
        "roster/shift_form.html",
        volunteer=volunteer,
        shift=shift,
        values=values,
        problems=problems,
        days=DAYS,
    )
    return page, status


@bp.route("/roster/<int:volunteer_id>/shifts/new", methods=["GET", "POST"])
@requires()
def shift_new(volunteer_id: int):
    """Add a weekly or one-off shift."""
    volunteer = _own_volunteer(volunteer_id)
    if request.method == "GET":
        values = {"kind": "weekly", "days": [], "date": "", "start": "09:00", "end": "18:00"}
        return _form(volunteer, None, values, [])
    spec, problems, values = check_shift(request.form)
    if spec is None:
        return _form(volunteer, None, values, problems, 422)
    shift = Shift(volunteer_id=volunteer.id)
    apply_shift(shift, spec)
    db = get_session()
    db.add(shift)
    db.flush()
    audit.record("shift_create", "shift", shift.id, detail=f"volunteer={volunteer.id}")
    db.commit()
    return _back(volunteer.id)


@bp.route("/shifts/<int:shift_id>/edit", methods=["GET", "POST"])
@requires()
def shift_edit(shift_id: int):
    """Change a shift's days or date and times."""
    shift = _own_shift(shift_id)
    volunteer = shift.volunteer
    if request.method == "GET":
        return _form(volunteer, shift, stored_shift_values(shift), [])
    spec, problems, values = check_shift(request.form)
    if spec is None:
        return _form(volunteer, shift, values, problems, 422)
    apply_shift(shift, spec)
    audit.record("shift_update", "shift", shift.id, detail=f"volunteer={volunteer.id}")
    get_session().commit()
    return _back(volunteer.id)


@bp.post("/shifts/<int:shift_id>/delete")
@requires()
def shift_delete(shift_id: int) -> ResponseReturnValue:
    """Remove a shift."""
    shift = _own_shift(shift_id)
    volunteer_id = shift.volunteer_id
    db = get_session()
    db.delete(shift)
    audit.record("shift_delete", "shift", shift_id, detail=f"volunteer={volunteer_id}")
    db.commit()
    return _back(volunteer_id)
