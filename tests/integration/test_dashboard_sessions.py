"""Accounts and sessions: argon2id, server-side sessions and their timeouts, CSRF, throttling,
security headers. Clock-driven: the dashboard's clock is moved by hand."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select
from test_dashboard_support import PASSWORD, clock, dash, db, people

from hotline import create_app
from hotline.models import AuditEvent, DashboardSession, User, Volunteer
from hotline.settings import Settings

# pytest finds fixtures by name in the test module: these imports are the fixtures.
FIXTURES = (clock, dash, db, people)

GENERIC = "Wrong username or password"


def _sessions(db, user_id: int) -> list[DashboardSession]:
    db.expire_all()
    return list(db.scalars(select(DashboardSession).where(DashboardSession.user_id == user_id)))


def test_passwords_are_stored_as_argon2id_with_owasp_parameters(db, people):
    stored = db.get(User, people.supervisor.id).password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored


def test_login_starts_a_session_whose_id_is_stored_only_as_a_hash(dash, db, people):
    response = dash.login("boss")
    assert response.status_code == 302
    token = dash.session_cookie()
    [row] = _sessions(db, people.supervisor.id)
    assert row.id_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.id_hash


def test_session_cookie_is_httponly_samesite_lax_and_secure_over_https(dash, people):
    cookie = dash.login("boss").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Path=/dashboard" in cookie


def test_each_login_gets_a_new_session_id_and_the_old_one_dies(dash, client, db, people):
    dash.login("boss")
    first = dash.session_cookie()
    dash.login("boss")  # from the same browser: its old session is replaced, not reused
    second = dash.session_cookie()
    assert first != second
    assert len(_sessions(db, people.supervisor.id)) == 1
    client.set_cookie("hotline_session", first, path="/dashboard")
    assert client.get("/dashboard/live").status_code == 302


def test_a_planted_session_id_is_not_adopted_at_login(dash, client, db, people):
    client.set_cookie("hotline_session", "attacker-chosen-value", path="/dashboard")
    dash.login("boss")
    assert dash.session_cookie() != "attacker-chosen-value"


def test_idle_session_expires_after_30_minutes(dash, client, clock, db, people):
    dash.login("boss")
    clock.advance(minutes=29)
    assert client.get("/dashboard/live").status_code == 200  # activity resets the idle timer
    clock.advance(minutes=29)
    assert client.get("/dashboard/live").status_code == 200
    clock.advance(minutes=30)
    response = client.get("/dashboard/live")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]
    assert _sessions(db, people.supervisor.id) == []
    assert "Your session has ended" in client.get(response.headers["Location"]).text


def test_session_expires_8_hours_after_login_even_when_active(dash, client, clock, db, people):
    dash.login("boss")
    for _ in range(23):  # every 20 minutes for 7 h 40 min
        clock.advance(minutes=20)
        assert client.get("/dashboard/live").status_code == 200
    clock.advance(minutes=20)  # 8 h after login
    assert client.get("/dashboard/live").status_code == 302
    assert _sessions(db, people.supervisor.id) == []


def test_logout_deletes_the_session_on_the_server(dash, client, db, people):
    dash.login("boss")
    token = dash.session_cookie()
    response = dash.logout()
    assert response.status_code == 302 and "signed_out=1" in response.headers["Location"]
    assert _sessions(db, people.supervisor.id) == []
    client.set_cookie("hotline_session", token, path="/dashboard")  # a copied cookie is useless
    assert client.get("/dashboard/live").status_code == 302


def test_a_disabled_account_loses_its_session_at_once(app, dash, client, db, people):
    dash.login("aigerim")
    assert client.get("/dashboard/me").status_code == 200
    other = app.test_client()
    from test_dashboard_support import Dashboard

    supervisor = Dashboard(other)
    supervisor.login("boss")
    assert (
        supervisor.post(f"/dashboard/users/{people.volunteer_user.id}/disable").status_code == 302
    )
    assert _sessions(db, people.volunteer_user.id) == []
    assert client.get("/dashboard/me").status_code == 302
    assert GENERIC in dash.login("aigerim").text


def test_an_account_disabled_in_the_database_is_refused_on_its_next_request(
    dash, client, db, people
):
    dash.login("aigerim")
    db.get(User, people.volunteer_user.id).active = False
    db.commit()
    assert client.get("/dashboard/me").status_code == 302
    assert _sessions(db, people.volunteer_user.id) == []


# --- CSRF -------------------------------------------------------------------------------------


def _available(db, volunteer_id: int) -> bool:
    db.expire_all()
    return db.get(Volunteer, volunteer_id).available


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(dash, client, db, people):
    dash.login("aigerim")
    response = client.post("/dashboard/me/available", data={"available": "0"})
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert _available(db, people.own.id) is True


def test_a_stale_csrf_token_from_an_earlier_session_is_refused(dash, client, db, people):
    dash.login("aigerim")
    stale = dash.token("/dashboard/me")
    dash.logout()
    dash.login("aigerim")
    response = client.post("/dashboard/me/available", data={"available": "0", "csrf_token": stale})
    assert response.status_code == 403
    assert _available(db, people.own.id) is True


def test_a_csrf_token_of_another_users_session_is_refused(app, dash, client, db, people):
    from test_dashboard_support import Dashboard

    other = Dashboard(app.test_client())
    other.login("boss")
    foreign = other.token("/dashboard/live")
    dash.login("aigerim")
    response = client.post(
        "/dashboard/me/available", data={"available": "0", "csrf_token": foreign}
    )
    assert response.status_code == 403
    assert _available(db, people.own.id) is True


def test_the_login_form_needs_its_csrf_token(client, db, people):
    response = client.post("/dashboard/login", data={"username": "boss", "password": PASSWORD})
    assert response.status_code == 403
    assert "hotline_session" not in response.headers.get("Set-Cookie", "")


def test_the_token_of_a_valid_post_works(dash, db, people):
    dash.login("aigerim")
    assert dash.post("/dashboard/me/available", {"available": "0"}).status_code == 302
    assert _available(db, people.own.id) is False


# --- throttling -------------------------------------------------------------------------------


def _strip(page: str) -> str:
    return re.sub(r'value="[^"]*"', "", page)


def test_unknown_account_and_wrong_password_get_the_same_answer(dash, people):
    wrong = dash.login("boss", "not the password at all")
    unknown = dash.login("nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    assert GENERIC in wrong.text
    assert _strip(wrong.text) == _strip(unknown.text)


def test_five_failures_pause_the_account_then_the_pause_doubles(dash, client, clock, db, people):
    for _ in range(5):
        assert GENERIC in dash.login("boss", "wrong password here").text
    locked = dash.login("boss")  # the right password, during the pause: the same refusal
    assert GENERIC in locked.text and dash.session_cookie() is None
    clock.advance(seconds=61)
    assert dash.login("boss", "wrong again, sixth").status_code == 200
    clock.advance(seconds=61)  # the sixth failure earned 2 minutes
    assert dash.session_cookie() is None and GENERIC in dash.login("boss").text
    clock.advance(seconds=61)
    assert dash.login("boss").status_code == 302
    db.expire_all()
    user = db.get(User, people.supervisor.id)
    assert user.failed_logins == 0 and user.locked_until is None


def test_a_paused_account_looks_exactly_like_an_unknown_one(dash, people):
    for _ in range(5):
        dash.login("boss", "wrong password here")
    paused = dash.login("boss")
    unknown = dash.login("ghost", PASSWORD)
    assert _strip(paused.text) == _strip(unknown.text)


def test_logins_and_failures_are_audited_without_the_typed_name_of_unknown_accounts(
    dash, db, people
):
    dash.login("boss", "wrong password here")
    dash.login("+77011112233", "a number typed as a username")
    dash.login("boss")
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["login_failed", "login_failed", "login"]
    assert events[0].username == "boss" and events[0].detail == "wrong password"
    assert events[1].username is None and events[1].detail == "unknown account"
    assert all("77011112233" not in str(vars(e)) for e in events)
    assert events[2].ip == "127.0.0.1"


def test_login_only_redirects_inside_the_dashboard(dash, people):
    assert dash.login("boss", next="https://evil.example/").headers["Location"] == "/dashboard/"
    dash.logout()
    assert dash.login("boss", next="/dashboard/stats").headers["Location"] == "/dashboard/stats"


# --- headers ----------------------------------------------------------------------------------


def test_pages_carry_the_security_headers_and_are_not_cached(dash, client, people):
    dash.login("boss")
    for path in ("/dashboard/login", "/dashboard/calls", "/dashboard/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_stylesheet_is_cacheable_but_still_locked_down(client):
    response = client.get("/dashboard/static/dashboard.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_page_names_an_icon_that_is_served(dash, client, people):
    # Without a declared icon every browser asks for /favicon.ico and gets a 404.
    icons = set()
    for path in ("/dashboard/login", "/dashboard/live", "/dashboard/no-such-page"):
        if path != "/dashboard/login":
            dash.login("boss")
        found = re.search(
            r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', client.get(path).text
        )
        assert found, path
        icons.add(found.group(1))
    [icon] = icons
    response = client.get(icon)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.data.startswith(b"<svg")


def test_no_hsts_and_no_secure_cookie_over_plain_http(sqlite_url, redis_client):
    from support import redis_test_url, test_env
    from test_dashboard_support import Dashboard, add_user

    settings = Settings.from_env(
        test_env(
            DATABASE_URL=sqlite_url,
            REDIS_URL=redis_test_url(),
            PUBLIC_BASE_URL="http://127.0.0.1:8000",
        )
    )
    app = create_app(settings)
    session = app.extensions["db"].sessions()
    add_user(session, "boss", "supervisor")
    session.close()
    response = Dashboard(app.test_client()).login("boss")
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers
    app.extensions["db"].dispose()


@pytest.mark.parametrize("lang, word", [("ru", "Войти"), ("kk", "Кіру"), ("en", "Sign in")])
def test_the_login_page_speaks_the_chosen_language(dash, client, lang, word):
    dash.post("/dashboard/language", {"lang": lang, "next": "/dashboard/login"})
    assert word in client.get("/dashboard/login").text


def test_the_default_language_is_russian_and_a_user_keeps_their_choice(dash, client, db, people):
    client.delete_cookie("hotline_lang", path="/dashboard")
    assert "Войти" in client.get("/dashboard/login").text
    dash.login("boss")
    dash.post("/dashboard/language", {"lang": "kk", "next": "/dashboard/live"})
    db.expire_all()
    assert db.get(User, people.supervisor.id).language == "kk"
    assert 'lang="kk"' in client.get("/dashboard/live").text


@pytest.mark.parametrize(
    "lang, call_log, account",
    [
        ("ru", "Журнал звонков", "Учётная запись"),
        ("kk", "Қоңыраулар журналы", "Есептік жазба"),
        ("en", "Call log", "Account"),
    ],
)
def test_the_audit_log_names_each_object_in_the_readers_language(
    dash, people, lang, call_log, account
):
    dash.login("boss")  # audited: login, object "user"
    dash.client.get("/dashboard/calls")  # audited: calllog_view, object "call_log"
    dash.post("/dashboard/language", {"lang": lang, "next": "/dashboard/audit"})
    page = dash.client.get("/dashboard/audit").text
    # The cell after each action's badge names what the action was done to.
    objects = re.findall(r"</span></td>\s*<td>([^<]*)</td>", page)
    assert f"{account} #{people.supervisor.id}" in objects
    assert call_log in objects
    assert not {"call_log", f"user #{people.supervisor.id}"} & set(objects)
