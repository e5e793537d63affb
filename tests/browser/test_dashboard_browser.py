"""The dashboard in real headless Chromium: log in, filter and export the call log, the live view,
editing a shift, the volunteer's phone page, and no phone number on any page."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from dashboard_browser_support import browser, demo, login, page, phone, shoot
from privacy_scan import contains_number

# pytest finds fixtures by name in the test module: these imports are the fixtures.
FIXTURES = (browser, demo, page, phone)

SUPERVISOR_PAGES = {
    "live": "/dashboard/live",
    "calls": "/dashboard/calls",
    "stats": "/dashboard/stats",
    "report": "/dashboard/report",
    "pending": "/dashboard/outcomes/pending",
    "coverage": "/dashboard/coverage",
    "roster": "/dashboard/roster",
    "audit": "/dashboard/audit",
    "users": "/dashboard/users",
}


def assert_no_number(text: str, demo, where: str) -> None:
    leaked = [n[-2:] for n in demo.phones if contains_number(text, n)]
    assert leaked == [], f"{where}: a number ending in {leaked} is on the page"


def test_login_then_filter_the_call_log_and_export_it(page, demo):
    shoot(page.goto("/dashboard/login") and page, "01-login", full_page=False)
    login(page, "boss")
    assert page.url.endswith("/dashboard/live")
    page.click("nav.mainnav >> text=Call log")
    page.select_option("select[name=topic]", "trafficking")
    page.select_option("select[name=outcome]", "unanswered")
    page.click("form.filters button.primary")
    page.wait_for_load_state()
    assert "topic=trafficking" in page.url and "outcome=unanswered" in page.url
    rows = page.locator("table.data tbody tr")
    assert rows.count() > 0
    for text in rows.all_inner_texts():
        assert "Trafficking" in text
    shoot(page, "03-calls-filtered")
    with page.expect_download() as download:
        page.click("text=Export CSV")
    body = Path(download.value.path()).read_text(encoding="utf-8-sig")
    records = list(csv.reader(io.StringIO(body)))
    assert records[0][0] == "Call" and len(records) - 1 >= rows.count()
    assert all(r[2] == "Trafficking and forced labor" for r in records[1:])
    assert_no_number(body, demo[1], "CSV export")
    page.click("table.data tbody tr >> nth=0 >> a")
    page.wait_for_load_state()
    assert page.locator("h2", has_text="Path through the menu").count() == 1
    shoot(page, "04-call-detail")
    assert page.problems == []


def test_the_live_view_shows_now_and_a_callback_can_be_cancelled(page, demo):
    login(page, "boss")
    page.goto("/dashboard/live")
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    assert page.locator("ul.people li").count() >= 1 or "Nobody is on shift" in page.content()
    queue = page.locator("section.card", has_text="Callback queue").locator("tbody tr")
    before = queue.count()
    assert before == 3
    shoot(page, "02-live")
    queue.nth(0).locator("button", has_text="Cancel").click()
    page.wait_for_load_state()
    assert "was cancelled and its number erased" in page.content()
    assert queue.count() == before - 1
    assert page.problems == []


def test_a_supervisor_edits_a_shift(page, demo):
    login(page, "boss")
    page.goto("/dashboard/roster")
    shoot(page, "07-roster")
    page.click("text=Dana K.")
    shoot(page, "08-volunteer")
    page.locator("table.shifts a", has_text="Edit").first.click()
    page.fill("input[name=end]", "23:30")
    page.check("input[name=days][value=sat]")
    page.click("button.primary")
    page.wait_for_load_state()
    assert "Saved." in page.content()
    assert "10:00–23:30" in page.locator("table.shifts").inner_text()
    page.locator("table.shifts a", has_text="Edit").first.click()
    page.fill("input[name=start]", "25:00")
    page.click("button.primary")
    assert "start:" in page.locator(".error").inner_text()
    shoot(page, "09-shift-error", full_page=False)


def test_every_page_renders_without_a_phone_number_or_a_csp_violation(page, demo):
    login(page, "boss")
    for name, path in SUPERVISOR_PAGES.items():
        response = page.goto(path)
        assert response.status == 200, path
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert_no_number(page.content(), demo[1], path)
        icon = page.locator("link[rel=icon]").get_attribute("href")
        assert icon and page.request.get(icon).status == 200, f"{path}: no icon"
        if name in {"stats", "report", "coverage", "audit", "users"}:
            shoot(page, f"05-{name}" if name == "stats" else f"06-{name}")
    page.click("nav.mainnav >> text=Roster")
    page.click("text=Aigerim S.")
    assert_no_number(page.content(), demo[1], "volunteer form")
    assert page.problems == []


def test_the_interface_speaks_russian_and_kazakh(page, demo):
    login(page, "boss", language="ru")
    page.goto("/dashboard/stats")
    assert page.locator("h1").inner_text() == "Статистика"
    shoot(page, "10-stats-ru", full_page=False)
    page.click("button[name=lang][value=kk]")
    page.wait_for_load_state()
    assert page.locator("nav.mainnav a.active").inner_text() == "Статистика"
    assert "Қоңыраулар журналы" in page.locator("nav.mainnav").inner_text()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_at_1280_px_the_whole_menu_is_one_row_beside_the_brand(browser, demo, language):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=demo[0])
    tab = context.new_page()
    login(tab, "boss", language=language)
    for path in ("/dashboard/live", "/dashboard/users"):
        tab.goto(path)
        items = [item.bounding_box() for item in tab.locator("nav.mainnav a").all()]
        assert len(items) == len(SUPERVISOR_PAGES)
        rows = {round(box["y"] + box["height"] / 2) for box in items}
        assert len(rows) == 1, f"{language} {path}: the menu has {len(rows)} rows"
        nav = tab.locator("nav.mainnav").bounding_box()
        # None hidden in a scrolled-away part of the menu.
        assert all(box["x"] + box["width"] <= nav["x"] + nav["width"] + 1 for box in items)
        brand = tab.locator("a.brand").bounding_box()
        assert abs((brand["y"] + brand["height"] / 2) - rows.pop()) <= 4
    shoot(tab, f"12-menu-1280-{language}", full_page=False)
    context.close()


def test_a_volunteer_on_a_phone_sees_their_shifts_and_pauses_calls(phone, demo):
    login(phone, "aigerim")
    assert phone.url.endswith("/dashboard/me")
    assert phone.locator(".signed-in").inner_text() == "Signed in as aigerim"
    assert "You are available for calls" in phone.content()
    shoot(phone, "11-volunteer-phone")
    phone.click("text=Pause calls")
    phone.wait_for_load_state()
    assert "You are not taking calls" in phone.content()
    assert phone.goto("/dashboard/calls").status == 403
    assert_no_number(phone.content(), demo[1], "volunteer page")
    phone.goto("/dashboard/me")
    phone.click("text=I am available now")


def test_a_user_changes_their_password_and_a_weak_one_is_refused_in_their_language(page, demo):
    from dashboard_demo_data import PASSWORD

    login(page, "boss", language="kk")
    page.click("header .account >> a[href='/dashboard/account/password']")
    page.wait_for_load_state()
    assert page.url.endswith("/dashboard/account/password")
    page.fill("input[name=current]", PASSWORD)
    page.fill("input[name=new]", "passwordpass")
    page.fill("input[name=again]", "passwordpass")
    page.click("main button.primary")
    page.wait_for_load_state()
    assert "Бұл құпиясөзді табу тым оңай" in page.inner_text("p.error")
    shoot(page, "10-password-refused")
    new = "tulpar kumys zhel aspan"
    for current, wanted in [(PASSWORD, new), (new, PASSWORD)]:  # and back, for the other tests
        page.fill("input[name=current]", current)
        page.fill("input[name=new]", wanted)
        page.fill("input[name=again]", wanted)
        page.click("main button.primary")
        page.wait_for_load_state()
        assert "Құпиясөзіңіз өзгертілді" in page.inner_text("p.notice")
    assert page.problems == []
