"""Sign-in limits against a real Redis and both databases: per address, for the whole site, per
account (the owner's own browser apart), refusals counted in one audit row, and what each costs:
a refused attempt gets no password check."""

from __future__ import annotations

import time

from sqlalchemy import select
from test_dashboard_support import PASSWORD, browser_for, clock, dash, db, people

from hotline.dashboard.accounts.throttle import ADDRESS, LoginThrottle, Rate
from hotline.models import AuditEvent, User
from hotline.redis_conn import get_redis

FIXTURES = (clock, dash, db, people)
GENERIC = "Wrong username or password"
TOO_MANY = "Too many sign-in attempts"


def rows(db, action: str, **where) -> list[AuditEvent]:
    db.expire_all()
    query = select(AuditEvent).where(AuditEvent.action == action)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return list(db.scalars(query.order_by(AuditEvent.id)))


def test_one_address_gets_five_checks_then_one_every_two_seconds_known_names_or_not(
    dash, db, people
):
    started = time.monotonic()
    answers = []
    for n in range(14):
        username = "boss" if n % 2 else f"nobody{n}"  # unknown usernames count the same
        answers.append(dash.login(username, "wrong password here", address="198.51.100.7"))
    elapsed = time.monotonic() - started
    checked = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(checked) + len(refused) == 14
    # A bucket of 5, refilled one every 2 s while the loop ran.
    assert 5 <= len(checked) <= ADDRESS.burst + int(elapsed / ADDRESS.interval) + 1
    assert answers[5].status_code == 429 or elapsed > ADDRESS.interval
    assert all(GENERIC in a.text for a in checked)
    for answer in refused:
        assert TOO_MANY in answer.text and int(answer.headers["Retry-After"]) >= 1
    # Each password check is audited; the refusals are counted in one row, not one each.
    assert len(rows(db, "login_failed", ip="198.51.100.7")) == len(checked)
    (throttled,) = rows(db, "login_throttled", ip="198.51.100.7")
    assert throttled.detail.startswith(f"{len(refused)} sign-in attempt(s) refused")
    assert "too many attempts from this address" in throttled.detail


def test_another_address_is_not_slowed_by_a_flood_from_one(dash, people):
    for _ in range(8):
        dash.login("nobody", "wrong password here", address="198.51.100.7")
    assert dash.login("boss", address="203.0.113.9").status_code == 302


def test_the_site_wide_limit_holds_across_addresses(app, dash, db, people):
    site = Rate(interval=60, burst=3)  # a small site so the test stays short
    app.extensions["login_throttle"] = LoginThrottle(get_redis_of(app), ADDRESS, site)
    statuses = [
        dash.login(f"nobody{n}", "wrong password here", address=f"192.0.2.{n}").status_code
        for n in range(6)
    ]
    assert statuses == [200, 200, 200, 429, 429, 429]
    (throttled,) = rows(db, "login_throttled")
    assert throttled.ip is not None and "on the whole site" in throttled.detail


def test_parallel_style_guesses_at_one_account_check_the_password_five_times_at_most(
    dash, db, people
):
    # From twenty addresses (no address limit applies): the account's own limit does.
    answers = [
        dash.login("boss", f"guess number {n:02d}", address=f"10.9.0.{n}") for n in range(20)
    ]
    assert all(a.status_code == 200 and GENERIC in a.text for a in answers)
    user_id = people.supervisor.id
    assert len(rows(db, "login_failed", object_id=str(user_id))) == 5
    (paused,) = rows(db, "login_throttled", object_id=str(user_id))
    assert paused.detail.startswith("15 sign-in attempt(s)") and "paused" in paused.detail


def test_each_minute_of_refusals_is_one_row_with_its_count(dash, clock, db, people):
    for minute in range(3):
        for n in range(7 + minute):
            dash.login("nobody", "wrong password here", address="198.51.100.8")
        clock.advance(minutes=1)
    throttled = rows(db, "login_throttled", ip="198.51.100.8")
    # 5 checks in the first minute (the bucket holds 5, then refills one every 2 s of real
    # time, which the dashboard's clock does not move): the rest of every minute was refused.
    counts = [int(row.detail.split(" ", 1)[0]) for row in throttled]
    assert len(throttled) == 3  # one a minute, whatever the number of attempts
    assert counts[0] >= 1 and counts[1] >= 7 and counts[2] >= 8
    # Every attempt is either a password check (its own row) or counted in a minute's row.
    assert len(rows(db, "login_failed", ip="198.51.100.8")) + sum(counts) == 7 + 8 + 9


def test_the_owners_own_browser_signs_in_while_anonymous_guesses_pause_the_account(
    app, dash, clock, db, people
):
    assert dash.login("boss", address="10.2.0.1").status_code == 302  # the owner, as every day
    dash.post("/dashboard/logout", token_from="/dashboard/live")
    assert dash.session_cookie() is None
    guesser = browser_for(app)
    for n in range(5):
        guesser.login("boss", "wrong password here", address=f"10.3.0.{n}")
    # The account is paused now: a browser the owner never used is refused the right password.
    stranger = browser_for(app)
    assert GENERIC in stranger.login("boss", address="10.2.0.2").text
    # The owner's browser has its own count: the guesses do not keep them out.
    assert dash.login("boss", address="10.2.0.1").status_code == 302
    # A wrong password on the owner's browser counts there (five, then a pause), not on the
    # account: the guessers' pause, and the owner's, are each their own.
    dash.post("/dashboard/logout", token_from="/dashboard/live")
    for n in range(5):
        assert GENERIC in dash.login("boss", "my typo", address=f"10.2.1.{n}").text
    assert GENERIC in dash.login("boss", address="10.2.1.9").text  # paused for this browser too
    clock.advance(minutes=5, seconds=1)
    assert stranger.login("boss", address="10.2.0.3").status_code == 302


def test_a_known_browser_cookie_for_another_account_counts_on_the_account(app, dash, db, people):
    assert dash.login("aigerim", address="10.4.0.1").status_code == 302
    dash.post("/dashboard/logout", token_from="/dashboard/me")
    for n in range(5):
        dash.login("boss", "wrong password here", address=f"10.4.1.{n}")
    assert GENERIC in dash.login("boss", address="10.4.2.1").text  # aigerim's cookie: no help
    db.expire_all()
    assert db.get(User, people.supervisor.id).failed_logins == 5


def test_hotline_accounts_page_shows_a_pause_and_enabling_ends_it(app, dash, db, people):
    guesser = browser_for(app)
    for n in range(5):
        guesser.login("aigerim", "wrong password here", address=f"10.5.0.{n}")
    assert dash.login("boss", address="10.5.1.1").status_code == 302
    page = dash.client.get("/dashboard/users").get_data(as_text=True)
    assert page.count("Paused after failed sign-ins") == 1
    assert len(rows(db, "users_view")) == 1


def get_redis_of(app):
    with app.app_context():
        return get_redis()


def test_viewing_the_live_roster_volunteer_accounts_and_audit_pages_is_audited(
    dash, db, people, clock
):
    assert dash.login("boss", address="10.6.0.1").status_code == 302
    for path in [
        "/dashboard/live",
        "/dashboard/roster",
        f"/dashboard/roster/{people.own.id}/edit",
        "/dashboard/users",
        "/dashboard/audit",
    ]:
        assert dash.client.get(path).status_code == 200, path
    seen = {e.action: e for e in rows(db, "live_view") + rows(db, "roster_view")}
    seen |= {e.action: e for e in rows(db, "volunteer_view") + rows(db, "users_view")}
    seen |= {e.action: e for e in rows(db, "audit_view")}
    assert set(seen) == {"live_view", "roster_view", "volunteer_view", "users_view", "audit_view"}
    assert seen["volunteer_view"].object_id == str(people.own.id)
    assert all(e.username == "boss" and e.ip == "127.0.0.1" for e in seen.values())
    # The live view reloads itself every 15 s: one row per 10 minutes of watching.
    for _ in range(3):
        clock.advance(seconds=15)
        dash.client.get("/dashboard/live")
    assert len(rows(db, "live_view")) == 1
    clock.advance(minutes=10)
    dash.client.get("/dashboard/live")
    assert len(rows(db, "live_view")) == 2


def test_the_password_is_checked_once_per_attempt_even_for_a_disabled_account(dash, db, people):
    # A disabled account answers like an unknown one, and counts against the address like any.
    db.get(User, people.volunteer_user.id).active = False
    db.commit()
    answer = dash.login("aigerim", PASSWORD, address="10.7.0.1")
    assert answer.status_code == 200 and GENERIC in answer.text
    (failed,) = rows(db, "login_failed", ip="10.7.0.1")
    assert failed.detail == "account disabled"
