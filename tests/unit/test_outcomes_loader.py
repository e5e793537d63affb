"""The outcomes file: the shipped one loads; each mistake is named by file and field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.outcomes import OutcomesError, load_outcomes, parse_outcomes
from hotline.outcomes.model import REQUIRED_FIELDS, BadAnswers

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "outcomes.yaml"


def shipped_data() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def test_the_shipped_file_has_every_list_the_center_reports_on():
    schema = load_outcomes(SHIPPED)
    assert [f.id for f in schema.fields] == list(REQUIRED_FIELDS)
    harm = schema.field("harm")
    assert harm is not None and harm.many
    assert [o.id for o in harm.offered("trafficking")] == [
        "sexual_exploitation", "forced_labor", "forced_marriage", "document_withholding",
    ]  # fmt: skip
    referrals = schema.field("referrals")
    assert referrals is not None
    assert referrals.option("shelter").labels["kk"] == "Орталықтың баспанасы"  # type: ignore[union-attr]  # noqa: E501
    assert schema.field("sex").option("unknown").labels["en"] == "Not known"  # type: ignore[union-attr]  # noqa: E501


def field_of(data: dict[str, Any], field_id: str) -> dict[str, Any]:
    return next(f for f in data["fields"] if f["id"] == field_id)


def _drop_label(data: dict[str, Any]) -> None:
    del field_of(data, "sex")["options"][1]["label"]["kk"]


def _empty_label(data: dict[str, Any]) -> None:
    field_of(data, "harm")["label"]["ru"] = "  "


def _duplicate_option(data: dict[str, Any]) -> None:
    options = field_of(data, "given")["options"]
    options.append(copy.deepcopy(options[0]))


def _duplicate_field(data: dict[str, Any]) -> None:
    data["fields"].append(copy.deepcopy(field_of(data, "follow_up")))


def _unknown_topic(data: dict[str, Any]) -> None:
    field_of(data, "harm")["options"][0]["topic"] = "violense"


def _unknown_key(data: dict[str, Any]) -> None:
    field_of(data, "sex")["free_text"] = True


def _unknown_option_key(data: dict[str, Any]) -> None:
    field_of(data, "referrals")["options"][0]["note"] = "x"


def _bad_choose(data: dict[str, Any]) -> None:
    field_of(data, "given")["choose"] = "several"


def _missing_field(data: dict[str, Any]) -> None:
    data["fields"] = [f for f in data["fields"] if f["id"] != "referrals"]


def _bare_yes(data: dict[str, Any]) -> None:
    field_of(data, "follow_up")["options"][0]["id"] = True


def _bad_id(data: dict[str, Any]) -> None:
    field_of(data, "age_band")["options"][0]["id"] = "Under 18"


def _no_options(data: dict[str, Any]) -> None:
    field_of(data, "given")["options"] = []


def _no_yes_for_shelter(data: dict[str, Any]) -> None:
    field_of(data, "shelter_admitted")["options"][0]["id"] = "admitted"


def _unknown_language(data: dict[str, Any]) -> None:
    field_of(data, "who_called")["label"]["de"] = "Wer"


def _required_not_bool(data: dict[str, Any]) -> None:
    field_of(data, "who_called")["required"] = "yes"


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "missing translation",
        _drop_label,
        "fields[1] (sex).options[1] (male).label.kk: missing translation",
    ),
    ("blank translation", _empty_label, "fields[3] (harm).label.ru: missing translation"),
    (
        "duplicate option",
        _duplicate_option,
        "fields[4] (given).options[3] (legal): duplicate option id",
    ),
    ("duplicate field", _duplicate_field, "fields[8] (follow_up): duplicate field id"),
    (
        "unknown topic",
        _unknown_topic,
        "fields[3] (harm).options[0] (physical).topic: unknown topic 'violense'",
    ),
    ("unknown field key", _unknown_key, "fields[1] (sex).free_text: unknown key"),
    (
        "unknown option key",
        _unknown_option_key,
        "fields[5] (referrals).options[0] (shelter).note: unknown key",
    ),
    ("bad choose", _bad_choose, "fields[4] (given).choose: 'several' is not one or many"),
    ("missing field", _missing_field, "fields: missing referrals (the statistics read it)"),
    (
        "bare yes",
        _bare_yes,
        'fields[7] (follow_up).options[0].id: True is not text (write "yes" / "no" in quotes)',
    ),
    ("bad id", _bad_id, "fields[2] (age_band).options[0].id: expected an id of a-z, 0-9 and _"),
    ("no options", _no_options, "fields[4] (given).options: expected a non-empty list of options"),
    ("shelter without yes", _no_yes_for_shelter, 'shelter_admitted: needs an option with id "yes"'),
    ("unknown language", _unknown_language, "fields[0] (who_called).label.de: unknown language"),
    (
        "required not bool",
        _required_not_bool,
        "fields[0] (who_called).required: expected true or false",
    ),
]


@pytest.mark.parametrize(("name", "breaks", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_mistake_is_named_by_file_and_field(name, breaks, expected):
    data = shipped_data()
    breaks(data)
    with pytest.raises(OutcomesError) as caught:
        parse_outcomes(data, "config/outcomes.yaml")
    assert any(problem.startswith(expected) for problem in caught.value.problems), (
        caught.value.problems
    )
    assert str(caught.value).startswith("config/outcomes.yaml:\n  - ")


def test_every_mistake_is_listed_at_once():
    data = shipped_data()
    _drop_label(data)
    _unknown_topic(data)
    _duplicate_field(data)
    with pytest.raises(OutcomesError) as caught:
        parse_outcomes(data, "outcomes.yaml")
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fields:\n  - id: a\n    id: b\n", "duplicate key 'id'"),
        ("fields: [\n", "YAML syntax error at line"),
        ("{}\n", "expected `fields:` with a list of fields"),
        ("fields: []\nextra: 1\n", "extra: unknown key"),
    ],
)
def test_file_level_mistakes(tmp_path, text, expected):
    path = tmp_path / "outcomes.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OutcomesError) as caught:
        load_outcomes(path)
    assert expected in str(caught.value)
    assert str(caught.value).startswith(f"{path}:")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(OutcomesError, match="cannot read the file"):
        load_outcomes(tmp_path / "outcomes.yaml")


# --- answers as a form sends them ------------------------------------------------------------

SCHEMA = load_outcomes(SHIPPED)


def test_answers_are_kept_as_ids_many_sorted():
    answers = SCHEMA.check(
        {"who_called": ["affected"], "sex": ["female"], "referrals": ["shelter", "police"]},
        "violence",
    )
    assert answers == {
        "who_called": "affected",
        "sex": "female",
        "referrals": ["police", "shelter"],
    }  # noqa: E501


@pytest.mark.parametrize(
    ("form", "topic", "problem"),
    [
        ({"who_called": ["affected"], "colour": ["red"]}, "violence", "colour: unknown field"),
        ({"who_called": ["alien"]}, "violence", "who_called: unknown option alien"),
        ({"who_called": ["affected", "prank"]}, "violence", "who_called: only one option"),
        ({"sex": ["male"]}, "violence", "who_called: required"),
        # a trafficking harm on a violence call: not offered, so refused
        (
            {"who_called": ["affected"], "harm": ["forced_labor"]},
            "violence",
            "harm: unknown option",
        ),
    ],
)
def test_tampered_answers_are_refused(form, topic, problem):
    with pytest.raises(BadAnswers) as caught:
        SCHEMA.check(form, topic)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
