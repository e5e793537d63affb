"""config/partners.yaml: checked at start-up, and the menu lists who answers now for the topic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline.routing.partners import PartnersError, answering_now, load_partners, parse_partners

ALMATY = ZoneInfo("Asia/Almaty")
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "partners.yaml"
NAMES = {"kk": "Полиция", "ru": "Полиция", "en": "the police"}
ALL_DAY = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
            "end": "24:00"}]  # fmt: skip
OFFICE = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]


def partner(pid="police", phone="+77172000102", hours=ALL_DAY, topics=("violence",), **extra):
    return {"id": pid, "names": dict(NAMES), "phone": phone, "hours": hours,
            "topics": list(topics), **extra}  # fmt: skip


def test_the_shipped_file_is_valid_and_lists_the_police_and_the_shelter_around_the_clock():
    partners = load_partners(SHIPPED)
    assert [p.id for p in partners][:2] == ["police", "shelter"]
    sunday_night = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
    assert [p.id for p in answering_now(partners, "violence", sunday_night, ALMATY)] == [
        "police",
        "shelter",
    ]


def test_a_missing_file_means_no_partners(tmp_path):
    assert load_partners(tmp_path / "partners.yaml") == ()


def test_numbers_are_normalized_and_never_printed():
    (found,) = parse_partners({"partners": [partner(phone="8 717 200 01 02")]})
    assert found.phone == "+77172000102" and "7172" not in repr(found)


def test_the_menu_lists_only_partners_for_the_topic_that_answer_now():
    partners = parse_partners(
        {
            "partners": [
                partner("police"),
                partner("legal", "+77172000401", OFFICE),
                partner("labor_office", "+77172000501", topics=("labor",)),
            ]
        }  # fmt: skip
    )
    tuesday_noon = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 12:00 in Almaty
    tuesday_night = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 22:00
    assert [p.id for p in answering_now(partners, "violence", tuesday_noon, ALMATY)] == [
        "police",
        "legal",
    ]
    assert [p.id for p in answering_now(partners, "violence", tuesday_night, ALMATY)] == ["police"]
    assert [p.id for p in answering_now(partners, "labor", tuesday_night, ALMATY)] == [
        "labor_office"
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([partner(phone="12345")], "partner police: phone: not a valid number"),
        ([partner(), partner()], "partner police: id: listed twice"),
        ([partner(pid="Police!")], "id: required, lowercase"),
        ([{**partner(), "names": {"ru": "Полиция"}}], "names: a name in each of kk, ru, en"),
        ([partner(topics=("weather",))], "topics: unknown weather"),
        ([partner(hours=[{"days": ["mon"], "start": 9, "end": "18:00"}])], "write times in quotes"),
        ([partner(fax="1")], "fax: unknown field"),
        ([partner(f"p{i}", f"+7717200010{i}") for i in range(10)], "at most 9"),
    ],
)
def test_a_bad_partners_file_names_every_problem(rows, message):
    with pytest.raises(PartnersError, match=message):
        parse_partners({"partners": rows}, "config/partners.yaml")


def test_start_up_refuses_a_partner_number_that_is_not_a_number(tmp_path):
    import shutil

    from support import test_env

    from hotline.startup import check

    config = tmp_path / "config"
    shutil.copytree(SHIPPED.parent, config)
    text = SHIPPED.read_text().replace('"+77172000102"', '"+7 12"', 1)
    (config / "partners.yaml").write_text(text)
    problem = check(test_env(HOTLINE_CONFIG_DIR=str(config)))
    assert problem is not None
    assert any("partners.yaml" in line and "partner police: phone" in line
               for line in problem.problems)  # fmt: skip
    (config / "partners.yaml").write_text(SHIPPED.read_text())
    assert check(test_env(HOTLINE_CONFIG_DIR=str(config))) is None
