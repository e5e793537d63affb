"""Roster forms checked by the roster file's own parser, so the browser and the import agree.

The parser validates whole volunteers. A form edits part of one, so the parts it does not
touch are filled with known-valid stand-ins (VALIDATION_PHONE when the number is kept), and
only the edited parts of the result are used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from ...models.roster import Shift
from ...routing.policy import DAYS, LANGUAGES, ROLES, TOPICS, ShiftSpec
from ...routing.roster_file import RosterError, VolunteerSpec, parse_roster
from .read import hhmm

VALIDATION_PHONE = "+77010000000"  # a valid Kazakh mobile, only ever parsed, never stored
MAX_FIELD = 200  # longer form values are refused before parsing
_PREFIX = re.compile(r"^volunteer 1 \([^)]*\)(, shift 1)?: ")


@dataclass(frozen=True)
class Checked:
    """A validated form: the spec, or the problems to show next to the form."""

    spec: VolunteerSpec | None
    problems: list[str]
    values: dict[str, Any]


def _text(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _too_long(form: MultiDict[str, str]) -> list[str]:
    return [f"{name}: too long" for name, value in form.items(multi=True) if len(value) > MAX_FIELD]


def _check(row: dict[str, Any]) -> tuple[VolunteerSpec | None, list[str]]:
    try:
        roster = parse_roster({"volunteers": [row]}, source="form")
    except RosterError as error:
        return None, [_PREFIX.sub("", problem) for problem in error.problems]
    return roster.volunteers[0], []


def volunteer_values(form: MultiDict[str, str]) -> dict[str, Any]:
    """The volunteer form's fields, as the form will show them again."""
    return {
        "handle": _text(form, "handle").lower(),
        "display_name": _text(form, "display_name"),
        "phone": _text(form, "phone"),
        "roles": [r for r in form.getlist("roles") if r in ROLES],
        "topics": [t for t in form.getlist("topics") if t in TOPICS],
        "languages": [lang for lang in form.getlist("languages") if lang in LANGUAGES],
    }


def check_volunteer(form: MultiDict[str, str], phone_required: bool) -> Checked:
    """Validate the volunteer form; an empty phone keeps the stored one unless required."""
    values = volunteer_values(form)
    problems = _too_long(form)
    if problems:
        return Checked(None, problems, values)
    if not values["phone"] and phone_required:
        problems.append("phone: required (E.164 like +77011234567, or 8 701 123 45 67)")
    row = {
        "handle": values["handle"],
        "display_name": values["display_name"],
        "phone": values["phone"] or VALIDATION_PHONE,
        # Sent as typed (not filtered) so an unknown value is reported, as the import does.
        "roles": form.getlist("roles"),
        "topics": form.getlist("topics"),
        "languages": form.getlist("languages"),
    }
    spec, found = _check(row)
    problems += found
    return Checked(None if problems else spec, problems, values)


def shift_values(form: Mapping[str, str] | MultiDict[str, str]) -> dict[str, Any]:
    """The shift form's fields, as the form will show them again."""
    days = form.getlist("days") if isinstance(form, MultiDict) else []
    return {
        "kind": "date" if _text(form, "kind") == "date" else "weekly",
        "days": [d for d in DAYS if d in days],
        "date": _text(form, "date"),
        "start": _text(form, "start"),
        "end": _text(form, "end"),
    }


def check_shift(form: MultiDict[str, str]) -> tuple[ShiftSpec | None, list[str], dict[str, Any]]:
    """Validate one shift with the roster file's rules (days or date, HH:MM, 24:00 ...)."""
    values = shift_values(form)
    problems = _too_long(form)
    if problems:
        return None, problems, values
    shift: dict[str, Any] = {"start": values["start"], "end": values["end"]}
    if values["kind"] == "date":
        shift["date"] = values["date"]
    else:
        shift["days"] = form.getlist("days")
    row = {
        "handle": "shift-check",
        "display_name": "shift check",
        "phone": VALIDATION_PHONE,
        "roles": [ROLES[0]],
        "topics": [TOPICS[0]],
        "languages": [LANGUAGES[0]],
        "shifts": [shift],
    }
    spec, problems = _check(row)
    return (spec.shifts[0] if spec else None), problems, values


def stored_shift_values(shift: Shift) -> dict[str, Any]:
    """A stored shift as the form shows it."""
    return {
        "kind": "date" if shift.on_date else "weekly",
        "days": [d for d in DAYS if shift.days and d in shift.days],
        "date": shift.on_date.isoformat() if shift.on_date else "",
        "start": hhmm(shift.start_minute),
        "end": hhmm(shift.end_minute),
    }


def apply_shift(shift: Shift, spec: ShiftSpec) -> None:
    """Copy a validated shift onto a stored one."""
    shift.days = [d for d in DAYS if d in spec.days] if spec.days is not None else None
    shift.on_date = spec.date
    shift.start_minute = spec.start
    shift.end_minute = spec.end
