"""The center's figures from hand-made records: calls and people by kind of harm, sex and age
band, referrals, shelter admissions, consultations; the funders' report hides small cells."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from test_dashboard_support import add_call, clock, dash, db, people

from hotline.outcomes import figures, store
from hotline.outcomes.figures import Count
from hotline.outcomes.store import CallKind

FIXTURES = (clock, dash, db, people)
ALMATY = ZoneInfo("Asia/Almaty")
MARCH = datetime(2026, 3, 1, tzinfo=UTC) - timedelta(hours=5)  # 1 March, 00:00 in Almaty
APRIL = datetime(2026, 4, 1, tzinfo=UTC) - timedelta(hours=5)

TRAFFICKED = {
    "who_called": "affected", "sex": "female", "age_band": "18_29", "harm": ["forced_labor"],
    "given": ["legal"], "referrals": ["shelter"], "shelter_admitted": "yes",
}  # fmt: skip
UNPAID = {
    "who_called": "affected", "sex": "male", "age_band": "30_44", "harm": ["unpaid_wages"],
    "given": ["legal", "information"], "referrals": ["employment"],
}  # fmt: skip
BEATEN = {
    "who_called": "on_behalf", "sex": "female", "age_band": "unknown", "harm": ["physical"],
    "given": ["psychological"], "referrals": ["police", "shelter"], "shelter_admitted": "no",
}  # fmt: skip


def reported(db, day: int, topic: str, key: str | None, answers: dict, start=MARCH) -> None:
    """A connected call `day` days after `start`, reported by a volunteer with these answers."""
    call = add_call(
        db, start + timedelta(days=day, hours=10), topic=topic, caller_key=key, answered_by_id=1
    )
    found = store.find_call(db, CallKind.CALL, call.id)
    assert found is not None
    store.save(db, found, answers, start + timedelta(days=day, hours=11), None, tz=ALMATY)
    db.commit()


def hand_made(db) -> None:
    # Six trafficking calls from five phones (A called twice).
    for day, key in enumerate(["A", "A", "B", "C", "D", "E"]):
        reported(db, day, "trafficking", key * 64, TRAFFICKED)
    # Three labor calls; one from a withheld number (no key: counts as no one).
    for day, key in enumerate(["F", "G", None]):
        reported(db, 10 + day, "labor", key and key * 64, UNPAID)
    reported(db, 20, "violence", "H" * 64, BEATEN)
    reported(db, 2, "trafficking", "Z" * 64, TRAFFICKED, start=APRIL)  # outside March
    # A connected call nobody reported counts nowhere.
    add_call(db, MARCH + timedelta(days=3))


def test_every_figure_matches_the_hand_made_records(db, people):
    hand_made(db)
    got = figures.compute(db, MARCH, APRIL)
    assert got.reported == Count(10, 8)
    assert got.count("harm", "forced_labor") == Count(6, 5)
    assert got.count("harm", "unpaid_wages") == Count(3, 2)
    assert got.count("harm", "physical") == Count(1, 1)
    assert got.count("sex", "female") == Count(7, 6)
    assert got.count("age_band", "30_44") == Count(3, 2)
    assert got.count("referrals", "shelter") == Count(7, 6)
    assert got.count("referrals", "police") == Count(1, 1)
    assert got.count("given", "legal") == Count(9, 7)  # consultations by type
    assert got.count("given", "information") == Count(3, 2)
    assert got.shelter_admissions == Count(6, 5)
    assert got.count("shelter_admitted", "no") == Count(1, 1)
    assert got.by_sex["harm"] == {
        ("forced_labor", "female"): Count(6, 5),
        ("unpaid_wages", "male"): Count(3, 2),
        ("physical", "female"): Count(1, 1),
    }
    assert got.by_sex["shelter_admitted"][("yes", "female")] == Count(6, 5)
    # Any topic: trafficking alone.
    trafficking = figures.compute(db, MARCH, APRIL, topic="trafficking")
    assert trafficking.reported == Count(6, 5)
    assert set(trafficking.by_field["harm"]) == {"forced_labor"}
    # Any period: the first three days of March.
    assert figures.compute(db, MARCH, MARCH + timedelta(days=3)).reported == Count(3, 2)
    # The funders' report's people by kind of harm, in one query.
    march = (date(2026, 3, 1), date(2026, 3, 31))
    assert figures.people_by_option(db, ALMATY, *march, "harm") == {
        "forced_labor": 5, "unpaid_wages": 2, "physical": 1,
    }  # fmt: skip


def report_tables(body: str) -> dict[str, list[list[str]]]:
    """The funders' CSV as {table title: rows}."""
    tables: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for row in csv.reader(io.StringIO(body.lstrip("\ufeff"))):
        if not row:
            current = None
        elif current is None:
            current = tables.setdefault(row[0], [row])
        else:
            current.append(row)
    return tables


def test_the_statistics_and_the_funders_report_show_them_with_small_cells_hidden(dash, db, people):
    hand_made(db)
    dash.login("boss")
    page = dash.client.get("/dashboard/stats?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    section = page[page.index("Outcome reports") :]
    assert "Forced labor" in section and "The center&#39;s shelter" in section
    assert "Shelter admissions" in section
    # People (distinct keys) are counted only when asked: that reads every report of the period.
    assert "Count people too" in section
    asked = dash.client.get("/dashboard/stats?from=2026-03-01&to=2026-03-31&people=1").text
    asked = asked[asked.index("Outcome reports") :]
    assert "Count people too" not in asked
    assert "People: <strong>" not in section
    assert "People: <strong>8</strong>" in asked  # eight phones among the ten reported calls
    body = dash.client.get("/dashboard/report.csv?from=2026-03-01&to=2026-03-31").get_data(
        as_text=True
    )
    tables = report_tables(body)
    harm = {
        row[0]: row[1:] for row in tables["Calls by kind of harm and sex of the person affected"]
    }
    assert harm["Calls by kind of harm and sex of the person affected"] == [
        "Female", "Male", "Not known", "Total",
    ]  # fmt: skip
    assert harm["Unpaid wages"][1] == "*"  # 3 men: under 5, hidden
    assert harm["Physical violence"][0] == "*"  # 1 woman
    assert harm["Forced labor"][0] == "6"
    # The women's total (7) would reveal the one woman: hidden too (complementary).
    assert harm["Total"][:2] == ["*", "*"]
    sheltered = tables["Shelter admissions by sex"]
    assert sheltered[1] == ["Admitted to the shelter", "6", "0", "0", "6"]
    people_rows = {r[0]: r[1] for r in tables["People helped by kind of harm"] if len(r) > 1}
    assert people_rows["Forced labor"] == "5"
    assert people_rows["Unpaid wages"] == "*"
    printable = dash.client.get("/dashboard/report/print?from=2026-03-01&to=2026-03-31")
    assert printable.status_code == 200
    text = printable.get_data(as_text=True)
    assert "Shelter admissions by sex" in text and 'class="printable"' in text


def test_one_shelter_admission_is_hidden_until_there_are_five(dash, db, people):
    reported(db, 1, "trafficking", "A" * 64, TRAFFICKED)
    dash.login("boss")
    body = dash.client.get("/dashboard/report.csv?from=2026-03-01&to=2026-03-31").get_data(
        as_text=True
    )
    assert report_tables(body)["Shelter admissions by sex"][1] == [
        "Admitted to the shelter", "*", "0", "0", "*",
    ]  # fmt: skip
