"""The roster file: Kazakh phone formats, shifts, and errors that name the volunteer and field."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hotline.routing.policy import ShiftSpec
from hotline.routing.roster_file import (
    RosterError,
    load_roster_file,
    normalize_phone,
    parse_roster,
    parse_roster_text,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "roster.example.yaml"


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "handle": "bota",
        "display_name": "Bota Zh.",
        "phone": "+77017654321",
        "roles": ["lawyer"],
        "topics": ["labor"],
        "languages": ["kk", "ru"],
        "shifts": [{"days": ["mon", "tue"], "start": "09:00", "end": "18:00"}],
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not DROP}


DROP = object()
FIRST = row(handle="aigerim", display_name="Aigerim S.", phone="+77011234567")


def problems_for(*rows: dict[str, Any]) -> list[str]:
    with pytest.raises(RosterError) as error:
        parse_roster({"volunteers": [copy.deepcopy(r) for r in rows]}, "roster.yaml")
    assert str(error.value).startswith("roster.yaml: ")
    assert "nothing imported" in str(error.value)
    return error.value.problems


def test_the_example_roster_is_valid() -> None:
    roster = load_roster_file(EXAMPLE)
    handles = [v.handle for v in roster.volunteers]
    assert handles == ["aigerim", "yerlan", "dmitry", "nurlan", "olga", "saule"]
    assert all(v.phone.startswith("+1202555010") for v in roster.volunteers)
    assert {lang for v in roster.volunteers for lang in v.languages} == {"kk", "ru", "en"}
    assert {r for v in roster.volunteers for r in v.roles} == {
        "lawyer",
        "psychologist",
        "social_worker",
    }
    assert {t for v in roster.volunteers for t in v.topics} == {"violence", "trafficking", "labor"}
    aigerim = roster.volunteers[0]
    assert aigerim.shifts[1] == ShiftSpec(start=20 * 60, end=24 * 60, date=date(2026, 12, 31))


@pytest.mark.parametrize(
    "written",
    [
        "+77011234567",
        "+7 701 123 45 67",
        "8 701 123 45 67",
        "87011234567",
        "8 (701) 123-45-67",
        "+7 (701) 123-45-67",
        "8-701-123-45-67",
        "7011234567",
        87011234567,  # unquoted in YAML: an integer
    ],
)
def test_kazakh_mobile_numbers_in_any_form_become_e164(written: Any) -> None:
    roster = parse_roster({"volunteers": [row(phone=written)]})
    assert roster.volunteers[0].phone == "+77011234567"


def test_an_almaty_landline_and_a_foreign_number_are_accepted() -> None:
    assert normalize_phone("8 (727) 250-00-00") == "+77272500000"
    assert normalize_phone("+1 202 555 0101") == "+12025550101"


@pytest.mark.parametrize("written", ["12345", "+7 701 123", "8 000 000 00 00", "call me", ""])
def test_a_bad_phone_names_the_volunteer_and_field(written: str) -> None:
    [problem] = problems_for(FIRST, row(phone=written))
    assert problem.startswith("volunteer 2 (bota): phone:")


def test_a_bad_phone_is_never_repeated_in_full() -> None:
    [problem] = problems_for(row(phone="8 701 123 45"))
    assert "701" not in problem and "'45'" in problem


BAD_ROWS = [
    # (overrides, field named in the message, detail in the message)
    ({"roles": ["judge"]}, "roles", "judge"),
    ({"roles": []}, "roles", "non-empty"),
    ({"topics": ["weather"]}, "topics", "weather"),
    ({"languages": ["de"]}, "languages", "de"),
    ({"languages": "ru"}, "languages", "list"),
    ({"display_name": DROP}, "display_name", "required"),
    ({"languges": ["ru"]}, "languges", "unknown field"),
    (
        {"shifts": [{"days": ["funday"], "start": "09:00", "end": "18:00"}]},
        "shift 1: days",
        "funday",
    ),
    ({"shifts": [{"days": [], "start": "09:00", "end": "18:00"}]}, "shift 1: days", "non-empty"),
    ({"shifts": [{"days": ["mon"], "start": "25:00", "end": "18:00"}]}, "shift 1: start", "25:00"),
    ({"shifts": [{"days": ["mon"], "start": "09:60", "end": "18:00"}]}, "shift 1: start", "09:60"),
    ({"shifts": [{"days": ["mon"], "start": "24:00", "end": "06:00"}]}, "shift 1: start", "end"),
    ({"shifts": [{"days": ["mon"], "start": "09:00", "end": "24:30"}]}, "shift 1: end", "24:30"),
    ({"shifts": [{"days": ["mon"], "start": "09:00", "end": "09:00"}]}, "shift 1: end", "equals"),
    ({"shifts": [{"days": ["mon"], "start": "00:00", "end": "00:00"}]}, "shift 1: end", "equals"),
    ({"shifts": [{"days": ["mon"], "start": "09:00", "end": 1080}]}, "shift 1: end", "quotes"),
    ({"shifts": [{"days": ["mon"], "start": "09:00"}]}, "shift 1: end", "required"),
    ({"shifts": [{"start": "09:00", "end": "18:00"}]}, "shift 1: days/date", "either"),
    (
        {"shifts": [{"days": ["mon"], "date": "2026-12-31", "start": "09:00", "end": "18:00"}]},
        "shift 1: days/date",
        "either",
    ),
    (
        {"shifts": [{"date": "2026-02-30", "start": "09:00", "end": "18:00"}]},
        "shift 1: date",
        "02-30",
    ),
    (
        {"shifts": [{"days": ["mon"], "start": "09:00", "end": "18:00", "tz": "UTC"}]},
        "shift 1: tz",
        "unknown field",
    ),
    ({"shifts": "always"}, "shifts", "list"),
]


@pytest.mark.parametrize(("overrides", "field", "detail"), BAD_ROWS)
def test_each_problem_names_the_volunteer_and_the_field(
    overrides: dict[str, Any], field: str, detail: str
) -> None:
    [problem] = problems_for(FIRST, row(**overrides))
    assert problem.startswith(f"volunteer 2 (bota), {field}:") or problem.startswith(
        f"volunteer 2 (bota): {field}:"
    ), problem
    assert detail in problem


def test_a_row_without_a_handle_is_named_by_its_number() -> None:
    [problem] = problems_for(FIRST, row(handle=DROP))
    assert problem.startswith("volunteer 2 (no valid handle): handle:")
    [problem] = problems_for(row(handle="Bota Zh"))
    assert problem.startswith("volunteer 1 (no valid handle): handle:")


def test_a_duplicate_handle_names_both_rows() -> None:
    [problem] = problems_for(FIRST, row(), row(phone="+77770000001"))
    assert problem == "volunteer 3 (bota): handle: duplicate of volunteer 2"


def test_one_phone_for_two_volunteers_is_refused_whatever_its_form() -> None:
    [problem] = problems_for(FIRST, row(phone="8 701 123 45 67"))
    assert problem == "volunteer 2 (bota): phone: same number as volunteer 1 (aigerim)"


def test_every_problem_in_the_file_is_reported_at_once() -> None:
    problems = problems_for(
        row(handle="a", roles=["judge"]),
        row(handle="b", phone="nope", languages=["xx"]),
        row(handle="c", shifts=[{"days": ["mon"], "start": "09:00", "end": "09:00"}]),
    )
    assert [p.split(":")[0].split(",")[0] for p in problems] == [
        "volunteer 1 (a)",
        "volunteer 2 (b)",
        "volunteer 2 (b)",
        "volunteer 3 (c)",
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("22:00", "06:00", (22 * 60, 6 * 60)),  # end before start: crosses midnight, not an error
        ("20:00", "24:00", (20 * 60, 24 * 60)),
        ("00:00", "24:00", (0, 24 * 60)),
        ("22:00", "00:00", (22 * 60, 24 * 60)),  # "00:00" as an end is midnight, like "24:00"
        ("9:30", "17:45", (9 * 60 + 30, 17 * 60 + 45)),
    ],
)
def test_shift_times(start: str, end: str, expected: tuple[int, int]) -> None:
    roster = parse_roster(
        {"volunteers": [row(shifts=[{"days": ["fri"], "start": start, "end": end}])]}
    )
    shift = roster.volunteers[0].shifts[0]
    assert (shift.start, shift.end) == expected
    assert shift.days == frozenset({"fri"})


def test_yaml_text_with_unquoted_dates_and_a_national_number() -> None:
    roster = parse_roster_text(
        """
volunteers:
  - handle: aigerim
    display_name: "Aigerim S."
    phone: 8 701 123 45 67
    roles: [psychologist]
    topics: [violence, trafficking]
    languages: [ru, kk, ru]
    shifts:
      - date: 2026-12-31
        start: "20:00"
        end: "24:00"
"""
    )
    [aigerim] = roster.volunteers
    assert aigerim.phone == "+77011234567"
    assert aigerim.languages == ("kk", "ru")  # vocabulary order, no duplicates
    assert aigerim.shifts == (ShiftSpec(start=1200, end=1440, date=date(2026, 12, 31)),)
    assert "701" not in repr(aigerim) and "…67" in repr(aigerim)


def test_unquoted_sexagesimal_time_is_caught() -> None:
    # YAML 1.1 reads 18:00 as 1080: the message says to quote it.
    with pytest.raises(RosterError, match='write times in quotes, like "18:00"'):
        parse_roster_text(
            "volunteers:\n  - handle: a\n    display_name: A\n    phone: '+77011234567'\n"
            "    roles: [lawyer]\n    topics: [labor]\n    languages: [ru]\n"
            "    shifts:\n      - days: [mon]\n        start: '09:00'\n        end: 18:00\n"
        )


def test_broken_yaml_gives_the_position_but_not_the_line() -> None:
    with pytest.raises(RosterError) as error:
        parse_roster_text("volunteers:\n  - phone: '+77011234567\n", "r.yaml")
    message = str(error.value)
    assert message.startswith("r.yaml: 1 problem, nothing imported") and "line" in message
    assert "7011234567" not in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "volunteers: required"),
        ({"people": []}, "volunteers: required"),
        ({"volunteers": []}, "non-empty"),
        ({"volunteers": [row()], "extra": 1}, "extra: unknown top-level key"),
        ({"volunteers": ["aigerim"]}, "volunteer 1: expected a mapping"),
    ],
)
def test_file_level_problems(data: Any, expected: str) -> None:
    with pytest.raises(RosterError, match=expected):
        parse_roster(data, "roster.yaml")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="nope.yaml: 1 problem, nothing imported"):
        load_roster_file(tmp_path / "nope.yaml")
