"""The outcome fields as data: each a closed list of options, labelled in ru, kk and en."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

LANGUAGES = ("ru", "kk", "en")
# The fields the figures read; the file may add others (they reach the form and the CSV).
REQUIRED_FIELDS = (
    "who_called",
    "sex",
    "age_band",
    "harm",
    "given",
    "referrals",
    "shelter_admitted",
    "follow_up",
)
YES = "yes"
# A volunteer may change their own report for this long; after it, a supervisor corrects it.
EDIT_WINDOW = timedelta(hours=24)

# What a report stores: field id -> option id (choose: one) or sorted option ids (choose: many).
Answers = dict[str, str | list[str]]


class BadAnswers(ValueError):
    """A submitted report names a field or option the schema does not offer, or lacks a
    required one. problems: one English line each; kinds: field id -> unknown_field |
    unknown_option | one_only | required (for the form's translated messages)."""

    def __init__(self, problems: list[str], kinds: dict[str, str]) -> None:
        self.problems = problems
        self.kinds = kinds
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Option:
    id: str
    labels: Mapping[str, str]
    topic: str | None = None  # offered only for calls on this topic

    def label(self, lang: str) -> str:
        """The option's text in lang (en when the file lacks it: the loader refuses that)."""
        return self.labels.get(lang, self.labels["en"])


@dataclass(frozen=True)
class Field:
    id: str
    labels: Mapping[str, str]
    many: bool  # choose: many (checkboxes) or one (radio buttons)
    required: bool
    options: tuple[Option, ...]

    def label(self, lang: str) -> str:
        """The field's text in lang."""
        return self.labels.get(lang, self.labels["en"])

    def option(self, option_id: str) -> Option | None:
        """The option with this id, or None (unknown, or retired from the file)."""
        return next((o for o in self.options if o.id == option_id), None)

    def offered(self, topic: str | None) -> tuple[Option, ...]:
        """The options the form shows for a call on this topic."""
        return tuple(o for o in self.options if o.topic is None or o.topic == topic)


@dataclass(frozen=True)
class OutcomeSchema:
    fields: tuple[Field, ...]

    def field(self, field_id: str) -> Field | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def check(
        self,
        raw: Mapping[str, list[str]],
        topic: str | None,
        keep: Mapping[str, object] | None = None,
    ) -> Answers:
        """The answers of a submitted form (field id -> values), or BadAnswers naming each
        unknown field, unknown or unoffered option, second value of a one-choice field, and
        missing required field.

        keep: the report's answers before this edit. Its values for options (or whole fields)
        since removed from the file are allowed again, and fields the form no longer shows are
        carried over, so an edit never loses what an old report said.
        """
        keep = keep or {}
        problems: list[str] = []
        kinds: dict[str, str] = {}
        answers: Answers = {
            k: v  # type: ignore[misc]
            for k, v in keep.items()
            if self.field(k) is None and isinstance(v, str | list)
        }
        for field_id in sorted(set(raw) - {f.id for f in self.fields} - set(answers)):
            problems.append(f"{field_id}: unknown field")
            kinds[field_id] = "unknown_field"
        for item in self.fields:
            values = [v for v in raw.get(item.id, []) if v != ""]
            offered = {o.id for o in item.offered(topic)} | set(values_of(keep, item.id))
            unknown = sorted({v for v in values if v not in offered})
            if unknown:
                problems.append(f"{item.id}: unknown option {', '.join(unknown)}")
                kinds[item.id] = "unknown_option"
            elif not item.many and len(values) > 1:
                problems.append(f"{item.id}: only one option may be chosen")
                kinds[item.id] = "one_only"
            elif item.required and not values:
                problems.append(f"{item.id}: required")
                kinds[item.id] = "required"
            elif values:
                answers[item.id] = sorted(set(values)) if item.many else values[0]
        if problems:
            raise BadAnswers(problems, kinds)
        return answers


def values_of(answers: Mapping[str, object], field_id: str) -> list[str]:
    """A stored answer as a list of option ids (empty when the field was left out)."""
    value = answers.get(field_id)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
