"""Roster and shift editing in the browser, with the roster file's own validation."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_dashboard_support import (
    OTHER_PHONE,
    clock,
    dash,
    db,
    people,
)

from hotline.crypto import decrypt, make_fernet
from hotline.models import AuditEvent, DashboardSession, Shift, User, Volunteer

# pytest finds fixtures by name in the test module: these imports are the fixtures.
FIXTURES = (clock, dash, db, people)

NEW = {
    "handle": "marat",
    "display_name": "Marat B.",
    "phone": "8 701 777 00 11",
    "roles": ["lawyer"],
    "topics": ["labor", "trafficking"],
    "languages": ["ru", "en"],
}


def _volunteer(db, handle: str) -> Volunteer | None:
    db.expire_all()
    return db.scalar(select(Volunteer).where(Volunteer.handle == handle))


def test_adding_a_volunteer_normalizes_and_encrypts_the_number(app, dash, db, people):
    dash.login("boss")
    response = dash.post("/dashboard/roster/new", NEW)
    assert response.status_code == 302
    marat = _volunteer(db, "marat")
    fernet = make_fernet(app.config["SETTINGS"].callback_encryption_keys)
    assert decrypt(fernet, marat.phone_encrypted) == "+77017770011"
    assert marat.phone_last_digits == "11" and "7770011" not in marat.phone_encrypted
    assert marat.topics == ["trafficking", "labor"]  # the vocabulary's order, as the import does
    page = dash.client.get(response.headers["Location"]).text
    assert "7770011" not in page.replace(" ", "") and "…11" in page
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "volunteer_create")).one()
    assert event.detail == "handle=marat"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"phone": "12345"}, "phone: not a valid number"),
        ({"phone": ""}, "phone: required"),
        ({"handle": "Bad Handle!"}, "handle: required; lowercase letters"),
        ({"roles": []}, "roles: expected a non-empty list"),
        ({"topics": ["weather"]}, "topics: unknown weather"),
        ({"display_name": "x" * 121}, "display_name: required, up to 120 characters"),
        ({"display_name": "x" * 300}, "display_name: too long"),
        ({"phone": OTHER_PHONE}, "phone: another volunteer already has this number"),
        ({"handle": "dana"}, "handle: another volunteer already has this handle"),
    ],
)
def test_a_bad_volunteer_form_is_refused_with_the_imports_message(
    dash, db, people, change, message
):
    dash.login("boss")
    response = dash.post("/dashboard/roster/new", {**NEW, **change})
    assert response.status_code == 422
    assert message in response.text
    assert _volunteer(db, "marat") is None


def test_editing_keeps_the_number_unless_a_new_one_is_typed(app, dash, db, people):
    dash.login("boss")
    before = people.other.phone_encrypted
    form = {
        "display_name": "Dana Kairatovna",
        "phone": "",
        "roles": ["psychologist"],
        "topics": ["violence"],
        "languages": ["kk"],
        "handle": "renamed",
    }
    assert dash.post(f"/dashboard/roster/{people.other.id}/edit", form).status_code == 302
    dana = _volunteer(db, "dana")  # the handle cannot be changed from the browser
    assert dana.display_name == "Dana Kairatovna" and dana.phone_encrypted == before
    assert dana.languages == ["kk"]
    dash.post(f"/dashboard/roster/{people.other.id}/edit", {**form, "phone": "+77017770099"})
    assert _volunteer(db, "dana").phone_last_digits == "99"
    details = [
        e.detail
        for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "volunteer_update"))
    ]
    assert details == ["changed display_name, roles, topics, languages", "changed phone"]


def test_deactivating_a_volunteer_disables_their_login(dash, db, people, app):
    from test_dashboard_support import Dashboard

    volunteer = Dashboard(app.test_client())
    volunteer.login("aigerim")
    dash.login("boss")
    assert dash.post(f"/dashboard/roster/{people.own.id}/deactivate").status_code == 302
    db.expire_all()
    assert _volunteer(db, "aigerim").active is False
    assert db.get(User, people.volunteer_user.id).active is False
    assert (
        db.scalars(
            select(DashboardSession).where(DashboardSession.user_id == people.volunteer_user.id)
        ).all()
        == []
    )
    assert volunteer.client.get("/dashboard/me").status_code == 302


def test_a_supervisor_edits_a_shift_with_the_imports_rules(dash, db, people):
    dash.login("boss")
    url = f"/dashboard/shifts/{people.other_shift.id}/edit"
    good = {"kind": "weekly", "days": ["fri", "sat"], "start": "22:00", "end": "06:00"}
    assert dash.post(url, good).status_code == 302
    db.expire_all()
    shift = db.get(Shift, people.other_shift.id)
    assert (shift.days, shift.start_minute, shift.end_minute) == (["fri", "sat"], 1320, 360)


@pytest.mark.parametrize(
    "form, message",
    [
        ({"kind": "weekly", "days": [], "start": "09:00", "end": "18:00"}, "days: expected a"),
        ({"kind": "weekly", "days": ["mon"], "start": "25:00", "end": "18:00"}, "start:"),
        ({"kind": "weekly", "days": ["mon"], "start": "9am", "end": "18:00"}, "start: required"),
        ({"kind": "weekly", "days": ["mon"], "start": "10:00", "end": "10:00"}, "equals start"),
        ({"kind": "weekly", "days": ["mon"], "start": "24:00", "end": "10:00"}, "only allowed as"),
        ({"kind": "date", "date": "2026-02-30", "start": "10:00", "end": "12:00"}, "is not a date"),
        ({"kind": "weekly", "days": ["funday"], "start": "10:00", "end": "12:00"}, "unknown day"),
    ],
)
def test_a_bad_shift_is_refused_and_nothing_changes(dash, db, people, form, message):
    dash.login("aigerim")
    response = dash.post(f"/dashboard/shifts/{people.own_shift.id}/edit", form)
    assert response.status_code == 422 and message in response.text
    db.expire_all()
    shift = db.get(Shift, people.own_shift.id)
    assert (shift.start_minute, shift.end_minute) == (540, 1080)


def test_a_volunteer_adds_a_one_off_shift_and_sees_it_on_their_page(dash, db, people):
    dash.login("aigerim")
    form = {"kind": "date", "date": "2026-12-31", "start": "20:00", "end": "24:00"}
    response = dash.post(f"/dashboard/roster/{people.own.id}/shifts/new", form)
    assert response.headers["Location"] == "/dashboard/me?saved=1"
    page = dash.client.get("/dashboard/me").text
    assert "12/31/2026" in page and "20:00–24:00" in page  # the date as English writes it


@pytest.mark.parametrize(
    "lang, line",
    [("en", "Signed in as aigerim"), ("ru", "Вы вошли как aigerim"), ("kk", "Сіз aigerim ретінде")],
)
def test_the_volunteers_own_page_says_who_is_signed_in(dash, people, lang, line):
    dash.login("aigerim")
    dash.post("/dashboard/language", {"lang": lang, "next": "/dashboard/me"})
    assert line in dash.client.get("/dashboard/me").text


def test_the_available_toggle_is_audited(dash, db, people):
    dash.login("aigerim")
    dash.post("/dashboard/me/available", {"available": "0"})
    assert "You are not taking calls" in dash.client.get("/dashboard/me").text
    dash.post("/dashboard/me/available", {"available": "1"})
    details = [
        e.detail
        for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "availability_change"))
    ]
    assert details == ["unavailable", "available"]


def test_a_supervisor_cannot_disable_their_own_account(dash, db, people):
    dash.login("boss")
    assert dash.post(f"/dashboard/users/{people.supervisor.id}/disable").status_code == 400
    db.expire_all()
    assert db.get(User, people.supervisor.id).active is True
