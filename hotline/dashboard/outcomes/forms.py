"""The report form: fields and options in the reader's language, the answers a POST carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app
from werkzeug.datastructures import MultiDict

from ...outcomes.model import BadAnswers, Field, OutcomeSchema, values_of
from ..web.i18n import current_language, outcome_text
from ..web.i18n import gettext as _

# Hidden fields of the form itself, not answers.
FORM_KEYS = frozenset({"csrf_token", "version"})


def schema() -> OutcomeSchema:
    """config/outcomes.yaml as start-up read and checked it."""
    return current_app.extensions["outcome_schema"]


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    checked: bool
    retired: bool = False


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    many: bool
    required: bool
    choices: list[Choice]


def retired_label(option_id: str) -> str:
    return outcome_text(None, option_id)


option_label = outcome_text


def field_label(item: Field) -> str:
    return item.label(current_language())


def form_fields(topic: str | None, answers: Mapping[str, object]) -> list[FormField]:
    """The fields to show for a call on `topic`, checked as `answers` says; an old answer whose
    option was removed stays on the form, marked retired."""
    shown: list[FormField] = []
    for item in schema().fields:
        chosen = set(values_of(answers, item.id))
        choices = [
            Choice(o.id, option_label(item, o.id), o.id in chosen) for o in item.offered(topic)
        ]
        offered = {c.id for c in choices}
        choices += [
            Choice(value, retired_label(value), True, retired=True)
            for value in sorted(chosen - offered)
        ]
        shown.append(FormField(item.id, field_label(item), item.many, item.required, choices))
    return shown


def submitted(form: MultiDict[str, str]) -> dict[str, list[str]]:
    """The answers in a POST: field id -> values (every key but the form's own)."""
    return {key: form.getlist(key) for key in form if key not in FORM_KEYS}


def version_of(form: MultiDict[str, str]) -> int | None | bool:
    """The report version the form was opened on: None for a new report, False if tampered."""
    raw = form.get("version", "")
    if raw == "new":
        return None
    return int(raw) if raw.isdigit() and len(raw) < 10 else False


def changed_meanwhile() -> str:
    return _(
        "This report was changed meanwhile; here it is as saved now. Nothing else was changed."
    )


def messages(error: BadAnswers) -> list[str]:
    """What was wrong with a submitted form, in the reader's language."""
    lines = []
    for field_id, kind in sorted(error.kinds.items()):
        item = schema().field(field_id)
        name = field_label(item) if item else field_id
        if kind == "required":
            lines.append(_("%(field)s: please choose one", field=name))
        elif kind == "one_only":
            lines.append(_("%(field)s: choose only one", field=name))
        else:
            lines.append(_("%(field)s: this option is not offered here", field=name))
    return lines


def summary(answers: Mapping[str, object]) -> list[tuple[str, str]]:
    """A saved report as (field label, answer labels) in the reader's language."""
    lines = []
    known = {item.id for item in schema().fields}
    for item in schema().fields:
        values = values_of(answers, item.id)
        if values:
            lines.append((field_label(item), ", ".join(option_label(item, v) for v in values)))
    for field_id in sorted(set(answers) - known):
        values = values_of(answers, field_id)
        lines.append((field_id, ", ".join(retired_label(v) for v in values)))
    return lines
