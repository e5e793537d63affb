"""In real Chromium: a volunteer on a phone reports a call's outcome with a shelter referral, in
Kazakh, with taps only; the supervisor's statistics then show it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard_browser_support import browser, demo, login, page, phone, shoot
from sqlalchemy import select

from hotline.db import Database
from hotline.models import CallRecord, Volunteer
from hotline.settings import Settings

FIXTURES = (browser, demo, page, phone)


def connected_call_of(env: dict[str, str], handle: str) -> int:
    """A violence call the volunteer took ten minutes ago, as the webhooks record one."""
    store = Database(Settings.from_env(env).database_url)
    try:
        with store.session() as session:
            volunteer = session.scalar(select(Volunteer).where(Volunteer.handle == handle))
            started = datetime.now(UTC) - timedelta(minutes=10)
            call = CallRecord(
                call_sid="CA" + "b" * 32, caller_key="c" * 64, language="kk", topic="violence",
                ivr_path=["greeting", "language:1", "topic:1"], outcome="connected",
                started_at=started, connected_at=started + timedelta(seconds=20),
                ended_at=started + timedelta(minutes=6), wait_seconds=20,
                answered_by_id=volunteer.id,
            )  # fmt: skip
            session.add(call)
            session.commit()
            return call.id
    finally:
        store.dispose()


def tap(tab, field: str, option: str) -> None:
    tab.locator(f"label.tap:has(input[name={field}][value='{option}'])").tap()


def test_a_volunteer_reports_a_shelter_referral_in_kazakh_and_the_statistics_show_it(
    phone, page, demo, server
):
    _base_url, env, _log = server
    call_id = connected_call_of(env, "aigerim")
    login(phone, "aigerim", language="kk")
    phone.click("a[href='/dashboard/outcomes']")  # "... waiting for your report" on My shifts
    phone.wait_for_load_state()
    assert "Есеп күтуде" in phone.content()
    phone.click(f"a[href='/dashboard/outcomes/call/{call_id}']")
    phone.wait_for_load_state()
    assert "Қоңырау туралы есеп" in phone.content()
    assert phone.locator("label.tap:has(input[value=forced_labor])").count() == 0  # violence only
    for field, option in (
        ("who_called", "affected"), ("sex", "female"), ("age_band", "30_44"),
        ("harm", "physical"), ("harm", "psychological"), ("given", "psychological"),
        ("referrals", "shelter"), ("shelter_admitted", "yes"), ("follow_up", "yes"),
    ):  # fmt: skip
        tap(phone, field, option)
    assert phone.locator("input[name=referrals][value=shelter]").is_checked()
    shoot(phone, "20-outcome-report-phone-kk")
    phone.click("button[type=submit].primary")
    phone.wait_for_load_state()
    assert "Есеп сақталды. Рақмет." in phone.content()
    assert f"/dashboard/outcomes/call/{call_id}'" not in phone.content()

    login(page, "boss", language="kk")
    page.goto("/dashboard/stats")
    figures = page.locator("section.outcome-figures")
    shelter = figures.locator("tr:has(th:text-is('Орталықтың баспанасы'))")
    assert shelter.locator("td").first.inner_text() == "1"
    assert figures.locator("tr:has(th:text-is('Физикалық зорлық')) td").first.inner_text() == "1"
    assert figures.locator("tr:has(th:text-is('Әйел')) td").first.inner_text() == "1"
    shoot(page, "21-outcome-figures-kk")
    assert page.problems == []
