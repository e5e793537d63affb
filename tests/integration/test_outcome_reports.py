"""The volunteer's outcome report: the list of their connected calls, the form of taps, edits,
refusals of bad input, and a supervisor's pending list and audited correction."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import func, select
from test_dashboard_support import START, add_call, add_callback, clock, dash, db, people

from hotline.models import AuditEvent, CallbackAttempt, OutcomeChoice, OutcomeReport

FIXTURES = (clock, dash, db, people)

REPORT = {
    "who_called": "affected",
    "sex": "female",
    "age_band": "30_44",
    "harm": ["physical", "economic"],
    "given": ["psychological"],
    "referrals": ["shelter", "police"],
    "shelter_admitted": "yes",
    "follow_up": "no",
}


def own_call(db, people, **values):
    values.setdefault("answered_by_id", people.own.id)
    return add_call(db, START - timedelta(hours=1), **values)


def reports(db) -> list[OutcomeReport]:
    db.expire_all()
    return list(db.scalars(select(OutcomeReport).order_by(OutcomeReport.id)))


def choice_count(db) -> int:
    return db.scalar(select(func.count()).select_from(OutcomeChoice)) or 0


def test_a_volunteer_reports_a_connected_call_in_one_form(dash, db, people):
    call = own_call(db, people, caller_key="k" * 64)
    dash.login("aigerim")
    page = dash.client.get("/dashboard/outcomes").get_data(as_text=True)
    assert f"/dashboard/outcomes/call/{call.id}" in page and "Waiting for a report" in page
    form = dash.client.get(f"/dashboard/outcomes/call/{call.id}").get_data(as_text=True)
    # Only the violence harms are offered on a violence call.
    assert "Physical violence" in form and "Forced labor" not in form
    response = dash.post(f"/dashboard/outcomes/call/{call.id}", {**REPORT, "version": "new"})
    assert response.status_code == 303
    [report] = reports(db)
    assert report.answers["referrals"] == ["police", "shelter"]
    assert report.answers["who_called"] == "affected"
    assert (report.volunteer_id, report.topic, report.caller_key) == (
        people.own.id, "violence", "k" * 64,
    )  # fmt: skip
    assert choice_count(db) == 10  # 1+1+1+2+1+2+1+1 options chosen
    listing = dash.client.get("/dashboard/outcomes?saved=1").get_data(as_text=True)
    assert "Report saved" in listing and "No call is waiting for a report." in listing


def test_a_connected_callback_is_reported_too(app, dash, db, people):
    request = add_callback(app, db, START - timedelta(hours=2), topic="trafficking")
    leg = CallbackAttempt(
        request_id=request.id, round=1, volunteer_id=people.own.id, outcome="caller_connected",
        started_at=START - timedelta(hours=2), accepted_at=START - timedelta(hours=2),
    )  # fmt: skip
    db.add(leg)
    db.commit()
    dash.login("aigerim")
    assert f"/dashboard/outcomes/callback/{leg.id}" in dash.client.get(
        "/dashboard/outcomes"
    ).get_data(as_text=True)
    form = dash.client.get(f"/dashboard/outcomes/callback/{leg.id}").get_data(as_text=True)
    assert "Forced labor" in form and "Physical violence" not in form
    answers = {"who_called": "affected", "harm": ["forced_labor"], "version": "new"}
    assert dash.post(f"/dashboard/outcomes/callback/{leg.id}", answers).status_code == 303
    [report] = reports(db)
    assert (report.callback_attempt_id, report.call_record_id) == (leg.id, None)
    assert report.topic == "trafficking"


def test_another_volunteers_call_is_not_found(dash, db, people):
    theirs = own_call(db, people, answered_by_id=people.other.id)
    dash.login("aigerim")
    assert dash.client.get(f"/dashboard/outcomes/call/{theirs.id}").status_code == 404
    sent = dash.post(f"/dashboard/outcomes/call/{theirs.id}", {**REPORT, "version": "new"})
    assert sent.status_code == 404
    assert dash.client.get("/dashboard/outcomes/call/999999").status_code == 404
    assert dash.client.get("/dashboard/outcomes/other/1").status_code == 404
    assert reports(db) == []


def test_an_unconnected_call_has_no_report(dash, db, people):
    missed = own_call(db, people, outcome="no_answer")
    dash.login("aigerim")
    response = dash.post(f"/dashboard/outcomes/call/{missed.id}", {**REPORT, "version": "new"})
    assert response.status_code == 409
    assert "was not connected to you" in response.get_data(as_text=True)
    assert reports(db) == []


def test_unknown_options_and_tampered_forms_are_refused_and_nothing_is_saved(dash, db, people):
    call = own_call(db, people)
    dash.login("aigerim")
    url = f"/dashboard/outcomes/call/{call.id}"
    for bad in (
        {**REPORT, "who_called": "alien"},  # no such option
        {**REPORT, "harm": ["forced_labor"]},  # a trafficking harm on a violence call
        {**REPORT, "free_text": "she said..."},  # no such field
        {**REPORT, "sex": ["female", "male"]},  # one choice only
        {key: value for key, value in REPORT.items() if key != "who_called"},  # required
    ):
        response = dash.post(url, {**bad, "version": "new"})
        assert response.status_code == 400, bad
        assert "Please correct the following" in response.get_data(as_text=True)
    assert dash.post(url, {**REPORT, "version": "x1"}).status_code == 400
    assert reports(db) == []
    assert choice_count(db) == 0


def test_a_second_submission_counts_once(dash, db, people):
    call = own_call(db, people)
    dash.login("aigerim")
    url = f"/dashboard/outcomes/call/{call.id}"
    assert dash.post(url, {**REPORT, "version": "new"}).status_code == 303
    # A double tap: the same report again is fine, and stored once.
    assert dash.post(url, {**REPORT, "version": "new"}).status_code == 303
    # Another tab with other answers, opened before the first was saved: refused, shown.
    other = dash.post(url, {**REPORT, "sex": "male", "version": "new"})
    assert other.status_code == 409
    assert "already has a report" in other.get_data(as_text=True)
    [report] = reports(db)
    assert report.answers["sex"] == "female"
    assert choice_count(db) == 10


def test_a_volunteer_edits_their_report_for_a_limited_time(dash, db, people, clock):
    call = own_call(db, people)
    dash.login("aigerim")
    url = f"/dashboard/outcomes/call/{call.id}"
    dash.post(url, {**REPORT, "version": "new"})
    [report] = reports(db)
    assert 'name="version" value="1"' in dash.client.get(url).get_data(as_text=True)
    assert dash.post(url, {**REPORT, "follow_up": "yes", "version": "1"}).status_code == 303
    # A stale form (opened on version 1) cannot overwrite the newer report.
    stale = dash.post(url, {**REPORT, "follow_up": "no", "version": "1"})
    assert stale.status_code == 409
    assert reports(db)[0].answers["follow_up"] == "yes"
    clock.advance(hours=25)
    dash.login("aigerim")  # the session's absolute timeout passed meanwhile
    late = dash.post(url, {**REPORT, "follow_up": "no", "version": "2"})
    assert late.status_code == 403
    assert "a supervisor can correct it" in late.get_data(as_text=True)
    assert reports(db)[0].answers["follow_up"] == "yes"


def test_a_retired_option_is_kept_and_shown_as_retired(dash, db, people):
    call = own_call(db, people)
    dash.login("aigerim")
    url = f"/dashboard/outcomes/call/{call.id}"
    dash.post(url, {**REPORT, "version": "new"})
    [report] = reports(db)
    # outcomes.yaml once offered "stalking"; the file no longer does.
    report.answers = {**report.answers, "harm": ["physical", "stalking"], "old_field": "x"}
    db.commit()
    form = dash.client.get(url).get_data(as_text=True)
    assert "retired option (stalking)" in form
    edited = {**REPORT, "harm": ["physical", "stalking"], "follow_up": "yes", "version": "2"}
    assert dash.post(url, edited).status_code == 303
    saved = reports(db)[0].answers
    assert saved["harm"] == ["physical", "stalking"] and saved["old_field"] == "x"
    assert saved["follow_up"] == "yes"


def test_supervisors_see_pending_reports_and_correct_one_with_an_audit_row(dash, db, people, clock):
    # Tuesday 09:00 in Almaty: both volunteers are on shift (09:00-18:00).
    on_shift = own_call(db, people)
    old = add_call(db, START - timedelta(hours=20), answered_by_id=people.other.id)
    reported = own_call(db, people)
    dash.login("aigerim")
    dash.post(f"/dashboard/outcomes/call/{reported.id}", {**REPORT, "version": "new"})
    assert dash.client.get("/dashboard/outcomes/pending").status_code == 403
    dash.logout()
    dash.login("boss")
    page = dash.client.get("/dashboard/outcomes/pending").get_data(as_text=True)
    overdue, waiting = page.split("The volunteer is still on shift")
    assert f"/dashboard/calls/{old.id}" in overdue and "Dana K." in overdue
    assert f"/dashboard/calls/{on_shift.id}" in waiting and "Aigerim S." in waiting
    assert f"/dashboard/calls/{reported.id}" not in page
    [report] = reports(db)
    url = f"/dashboard/outcomes/reports/{report.id}"
    assert "The center&#39;s shelter" in dash.client.get(url).get_data(as_text=True)
    corrected = {**REPORT, "sex": "male", "version": str(report.version)}
    assert dash.post(url, corrected).status_code == 303
    report = reports(db)[0]
    assert report.answers["sex"] == "male"
    assert report.corrected_by_id == people.supervisor.id
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "outcome_correct")).one()
    assert (audit.object_id, audit.detail, audit.username) == (str(report.id), "fields=sex", "boss")


def test_the_call_log_csv_has_one_column_per_outcome_field_in_the_readers_language(
    dash, db, people
):
    reported = own_call(db, people)
    unreported = own_call(db, people)
    dash.login("aigerim")
    dash.post(f"/dashboard/outcomes/call/{reported.id}", {**REPORT, "version": "new"})
    [report] = reports(db)
    report.answers = {**report.answers, "harm": ["physical", "stalking"]}  # one option retired
    db.commit()
    dash.logout()
    dash.login("boss")
    dash.post("/dashboard/language", {"lang": "kk"})
    body = dash.client.get("/dashboard/calls.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = {row[0]: row for row in csv.reader(io.StringIO(body))}
    header = next(iter(rows.values()))
    assert header[10:] == [
        "Кім қоңырау шалды", "Зардап шеккеннің жынысы", "Зардап шеккеннің жасы", "Зиян түрі",
        "Не берілді", "Қайда жіберілді", "Баспанаға қабылданды", "Жалғастыру қажет",
    ]  # fmt: skip
    row = rows[str(reported.id)]
    assert row[10:] == [
        "Зардап шеккен адам", "Әйел", "30–44",
        "Физикалық зорлық, алынып тасталған нұсқа (stalking)",
        "Психологиялық кеңес", "Полиция, Орталықтың баспанасы", "Иә", "Жоқ",
    ]  # fmt: skip
    assert rows[str(unreported.id)][10:] == [""] * 8


def test_a_new_report_starts_with_the_partners_a_warm_transfer_reached(dash, db, people):
    path = ["greeting", "transfer:police:ringing", "transfer:police:answered",
            "transfer:police:ended:95", "transfer:shelter:no_answer",
            "transfer:migration:answered", "transfer:city_helpline:answered"]  # fmt: skip
    call = own_call(db, people, ivr_path=path)
    dash.login("aigerim")
    form = dash.client.get(f"/dashboard/outcomes/call/{call.id}").get_data(as_text=True)
    assert 'name="referrals" value="police" checked' in form
    assert 'name="referrals" value="shelter">' in form  # rung, but did not answer
    assert 'name="referrals" value="migration" checked' in form
    assert "city_helpline" not in form  # a partner the report has no option for is left out
    plain = own_call(db, people)
    form = dash.client.get(f"/dashboard/outcomes/call/{plain.id}").get_data(as_text=True)
    assert 'name="referrals" value="police">' in form
