"""Roster editing for supervisors: add, edit, deactivate and reactivate volunteers."""

from __future__ import annotations

from cryptography.fernet import InvalidToken, MultiFernet
from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ...crypto import decrypt, encrypt, make_fernet
from ...db import get_session
from ...models.account import User
from ...models.roster import Volunteer
from ...routing.policy import DAYS, LANGUAGES, ROLES, TOPICS
from ...routing.roster_file import VolunteerSpec
from ..accounts.access import supervisor_only
from ..accounts.users import set_active
from ..web import audit
from . import bp
from .forms import check_volunteer


def fernet() -> MultiFernet:
    """The app's Fernet for volunteer numbers (CALLBACK_ENCRYPTION_KEYS)."""
    existing = current_app.extensions.get("fernet")
    if existing is not None:
        return existing
    return make_fernet(current_app.config["SETTINGS"].callback_encryption_keys)


def _volunteer(volunteer_id: int) -> Volunteer:
    volunteer = get_session().scalar(
        select(Volunteer)
        .where(Volunteer.id == volunteer_id)
        .options(selectinload(Volunteer.shifts))
    )
    if volunteer is None:
        abort(404)
    return volunteer


def _phone_taken(db: Session, phone: str, except_id: int | None) -> bool:
    # Two volunteers on one phone could be rung for two calls at once (the import refuses it too).
    same_digits = db.scalars(
        select(Volunteer).where(
            Volunteer.phone_last_digits == phone[-2:], Volunteer.id != except_id
        )
    )
    key = fernet()
    for other in same_digits:
        try:
            if decrypt(key, other.phone_encrypted) == phone:
                return True
        except InvalidToken:
            continue
    return False


def _form(volunteer: Volunteer | None, values: dict, problems: list[str], status: int = 200):
    page = render_template(
        "roster/volunteer_form.html",
        volunteer=volunteer,
        values=values,
        problems=problems,
        roles=ROLES,
        topics=TOPICS,
        languages=LANGUAGES,
        days=DAYS,
    )
    return page, status


def _uniqueness(
    db: Session, spec: VolunteerSpec, phone_given: bool, volunteer_id: int | None
) -> list[str]:
    problems = []
    other = db.scalar(select(Volunteer.id).where(Volunteer.handle == spec.handle))
    if other is not None and other != volunteer_id:
        problems.append("handle: another volunteer already has this handle")
    if phone_given and _phone_taken(db, spec.phone, volunteer_id):
        problems.append("phone: another volunteer already has this number")
    return problems


@bp.get("/roster")
@supervisor_only
def roster() -> ResponseReturnValue:
    """Every volunteer (active first) with masked numbers and shifts."""
    volunteers = (
        get_session()
        .scalars(
            select(Volunteer)
            .options(selectinload(Volunteer.shifts))
            .order_by(Volunteer.active.desc(), Volunteer.display_name, Volunteer.id)
        )
        .all()
    )
    return render_template("roster/roster.html", volunteers=volunteers)


@bp.route("/roster/new", methods=["GET", "POST"])
@supervisor_only
def volunteer_new():
    """Add a volunteer (the number is encrypted at once; pages show only its last 2 digits)."""
    if request.method == "GET":
        return _form(None, {"roles": [], "topics": [], "languages": []}, [])
    checked = check_volunteer(request.form, phone_required=True)
    db = get_session()
    problems = checked.problems or _uniqueness(db, checked.spec, True, None)  # type: ignore[arg-type]
    if problems:
        return _form(None, checked.values, problems, 422)
    spec = checked.spec
    assert spec is not None
    volunteer = Volunteer(
        handle=spec.handle,
        display_name=spec.display_name,
        phone_encrypted=encrypt(fernet(), spec.phone),
        phone_last_digits=spec.phone[-2:],
        roles=list(spec.roles),
        topics=list(spec.topics),
        languages=list(spec.languages),
        active=True,
    )
    db.add(volunteer)
    db.flush()
    audit.record("volunteer_create", "volunteer", volunteer.id, detail=f"handle={spec.handle}")
    db.commit()
    return redirect(url_for("dashboard.roster.volunteer_edit", volunteer_id=volunteer.id, saved=1))


@bp.route("/roster/<int:volunteer_id>/edit", methods=["GET", "POST"])
@supervisor_only
def volunteer_edit(volunteer_id: int):
    """Edit a volunteer; leaving the phone empty keeps the stored number."""
    volunteer = _volunteer(volunteer_id)
    if request.method == "GET":
        values = {
            "handle": volunteer.handle,
            "display_name": volunteer.display_name,
            "phone": "",
            "roles": volunteer.roles,
            "topics": volunteer.topics,
            "languages": volunteer.languages,
        }
        return _form(volunteer, values, [])
    form = request.form.copy()
    # The handle is the roster file's stable id: renaming it here would make the next import
    # create a second volunteer, so it is fixed once created.
    form["handle"] = volunteer.handle
    checked = check_volunteer(form, phone_required=False)
    db = get_session()
    phone_given = bool(checked.values["phone"])
    problems = checked.problems or _uniqueness(db, checked.spec, phone_given, volunteer.id)  # type: ignore[arg-type]
    if problems:
        return _form(volunteer, checked.values, problems, 422)
    spec = checked.spec
    assert spec is not None
    changed = []
    for name, value in (
        ("display_name", spec.display_name),
        ("roles", list(spec.roles)),
        ("topics", list(spec.topics)),
        ("languages", list(spec.languages)),
    ):
        if getattr(volunteer, name) != value:
            setattr(volunteer, name, value)
            changed.append(name)
    if phone_given:
        volunteer.phone_encrypted = encrypt(fernet(), spec.phone)
        volunteer.phone_last_digits = spec.phone[-2:]
        changed.append("phone")
    if changed:
        # Field names only: the audit trail never holds the number or the old values.
        audit.record(
            "volunteer_update", "volunteer", volunteer.id, detail="changed " + ", ".join(changed)
        )
    db.commit()
    return redirect(url_for("dashboard.roster.volunteer_edit", volunteer_id=volunteer.id, saved=1))


@bp.post("/roster/<int:volunteer_id>/deactivate")
@supervisor_only
def volunteer_deactivate(volunteer_id: int) -> ResponseReturnValue:
    """Take a volunteer off the roster (kept for the call history) and disable their login."""
    volunteer = _volunteer(volunteer_id)
    db = get_session()
    volunteer.active = False
    for account in db.scalars(select(User).where(User.volunteer_id == volunteer.id)):
        set_active(db, account, False)
    audit.record("volunteer_deactivate", "volunteer", volunteer.id)
    db.commit()
    return redirect(url_for("dashboard.roster.roster"))


@bp.post("/roster/<int:volunteer_id>/reactivate")
@supervisor_only
def volunteer_reactivate(volunteer_id: int) -> ResponseReturnValue:
    """Put a volunteer back on the roster (their login stays disabled until re-enabled)."""
    volunteer = _volunteer(volunteer_id)
    volunteer.active = True
    audit.record("volunteer_reactivate", "volunteer", volunteer.id)
    get_session().commit()
    return redirect(url_for("dashboard.roster.roster"))
