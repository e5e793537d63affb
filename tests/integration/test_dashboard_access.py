"""Every dashboard route for every role, anonymous included; another user's object gets a 404."""

from __future__ import annotations

import pytest
from test_dashboard_support import (
    START,
    add_call,
    add_callback,
    add_user,
    add_volunteer,
    clock,
    dash,
    db,
    people,
)

from hotline.models import OutcomeReport

# pytest finds fixtures by name in the test module: these imports are the fixtures.
FIXTURES = (clock, dash, db, people)


SHIFT = {"kind": "weekly", "days": ["sat", "sun"], "start": "10:00", "end": "14:00"}
NEW_VOLUNTEER = {
    "handle": "marat",
    "display_name": "Marat B.",
    "phone": "+77017770011",
    "roles": ["lawyer"],
    "topics": ["labor"],
    "languages": ["ru"],
}
EDIT_VOLUNTEER = {**NEW_VOLUNTEER, "phone": "", "display_name": "Dana Kairat"}
REPORT = {"who_called": "affected", "version": "new"}

A, V, S = "anonymous", "volunteer", "supervisor"


def expect(anonymous: int, volunteer: int, supervisor: int) -> dict[str, int]:
    return {A: anonymous, V: volunteer, S: supervisor}


SUPERVISOR_PAGE = expect(302, 403, 200)  # anonymous GETs are sent to the login page
SUPERVISOR_ACTION = expect(401, 403, 302)
# {own}: the volunteer's own roster entry; {other}: someone else's.
ROUTES: list[tuple[str, str, dict | None, dict[str, int]]] = [
    ("GET", "/dashboard/login", None, expect(200, 302, 302)),
    ("GET", "/dashboard/", None, expect(302, 302, 302)),
    ("GET", "/dashboard/live", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/calls", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/calls/{call}", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/calls.csv", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/stats", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/report", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/report.csv", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/report/print", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/coverage", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/roster", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/roster/new", None, SUPERVISOR_PAGE),
    ("POST", "/dashboard/roster/new", NEW_VOLUNTEER, SUPERVISOR_ACTION),
    ("GET", "/dashboard/roster/{other}/edit", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/roster/{own}/edit", None, SUPERVISOR_PAGE),  # not even one's own
    ("POST", "/dashboard/roster/{other}/edit", EDIT_VOLUNTEER, SUPERVISOR_ACTION),
    ("POST", "/dashboard/roster/{other}/deactivate", {}, SUPERVISOR_ACTION),
    ("POST", "/dashboard/roster/{inactive}/reactivate", {}, SUPERVISOR_ACTION),
    ("GET", "/dashboard/roster/{own}/shifts/new", None, expect(302, 200, 200)),
    ("POST", "/dashboard/roster/{own}/shifts/new", SHIFT, expect(401, 302, 302)),
    ("GET", "/dashboard/roster/{other}/shifts/new", None, expect(302, 404, 200)),
    ("POST", "/dashboard/roster/{other}/shifts/new", SHIFT, expect(401, 404, 302)),
    ("GET", "/dashboard/shifts/{own_shift}/edit", None, expect(302, 200, 200)),
    ("POST", "/dashboard/shifts/{own_shift}/edit", SHIFT, expect(401, 302, 302)),
    ("POST", "/dashboard/shifts/{own_shift}/delete", {}, expect(401, 302, 302)),
    ("GET", "/dashboard/shifts/{other_shift}/edit", None, expect(302, 404, 200)),
    ("POST", "/dashboard/shifts/{other_shift}/edit", SHIFT, expect(401, 404, 302)),
    ("POST", "/dashboard/shifts/{other_shift}/delete", {}, expect(401, 404, 302)),
    ("GET", "/dashboard/shifts/999999/edit", None, expect(302, 404, 404)),
    ("GET", "/dashboard/me", None, expect(302, 200, 403)),  # the supervisor has no roster entry
    ("POST", "/dashboard/me/available", {"available": "0"}, expect(401, 302, 403)),
    ("POST", "/dashboard/callbacks/{callback}/cancel", {}, SUPERVISOR_ACTION),
    ("POST", "/dashboard/callbacks/999999/cancel", {}, expect(401, 403, 404)),
    ("GET", "/dashboard/outcomes", None, expect(302, 200, 403)),
    ("GET", "/dashboard/outcomes/call/{own_call}", None, expect(302, 200, 403)),
    ("POST", "/dashboard/outcomes/call/{own_call}", REPORT, expect(401, 303, 403)),
    ("GET", "/dashboard/outcomes/call/{call}", None, expect(302, 404, 403)),  # not theirs
    ("GET", "/dashboard/outcomes/pending", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/outcomes/reports/{report}", None, SUPERVISOR_PAGE),
    (
        "POST",
        "/dashboard/outcomes/reports/{report}",
        {**REPORT, "version": "1"},
        expect(401, 403, 303),
    ),
    ("GET", "/dashboard/audit", None, SUPERVISOR_PAGE),
    ("GET", "/dashboard/users", None, SUPERVISOR_PAGE),
    ("POST", "/dashboard/users/{other_user}/disable", {}, SUPERVISOR_ACTION),
    ("POST", "/dashboard/users/{disabled_user}/enable", {}, SUPERVISOR_ACTION),
    ("GET", "/dashboard/account/password", None, expect(302, 200, 200)),
    # A wrong current password: the page again, nothing changed.
    ("POST", "/dashboard/account/password", {"current": "x"}, expect(401, 200, 200)),
    ("POST", "/dashboard/logout", {}, expect(401, 302, 302)),
    ("POST", "/dashboard/language", {"lang": "kk"}, expect(302, 302, 302)),
    ("POST", "/dashboard/login", {"username": "x", "password": "y"}, expect(200, 200, 200)),
    ("GET", "/dashboard/no/such/page", None, expect(404, 404, 404)),
    ("GET", "/dashboard/static/dashboard.css", None, expect(200, 200, 200)),
]


@pytest.fixture
def ids(app, db, people):
    """The objects the route table refers to."""
    call = add_call(db, START)
    callback = add_callback(app, db, START)
    inactive = add_volunteer(app, db, "gone", phone="+77017770022", active=False)
    own_call = add_call(db, START, answered_by_id=people.own.id)
    other_call = add_call(db, START, answered_by_id=people.other.id)
    report = OutcomeReport(
        call_record_id=other_call.id, volunteer_id=people.other.id, call_started_at=START,
        topic="violence", answers={"who_called": "affected"},
    )  # fmt: skip
    db.add(report)
    db.commit()
    return {
        "own_call": own_call.id,
        "report": report.id,
        "call": call.id,
        "callback": callback.id,
        "own": people.own.id,
        "other": people.other.id,
        "inactive": inactive.id,
        "own_shift": people.own_shift.id,
        "other_shift": people.other_shift.id,
        "other_user": add_user(db, "colleague", "supervisor").id,
        "disabled_user": add_user(db, "former", "volunteer", people.other, active=False).id,
    }


def _id(route) -> str:
    method, path, _data, _expected = route
    return f"{method} {path}"


@pytest.mark.parametrize("role", [A, V, S])
@pytest.mark.parametrize("route", ROUTES, ids=_id)
def test_route_answers_each_role_as_the_table_says(dash, ids, role, route):
    method, path, data, expected = route
    if role == V:
        dash.login("aigerim")
    elif role == S:
        dash.login("boss")
    url = path.format(**ids)
    response = dash.client.get(url) if method == "GET" else dash.post(url, data)
    assert response.status_code == expected[role], response.get_data(as_text=True)[:400]
    if role == A and expected[A] == 302 and method == "GET" and path != "/dashboard/login":
        assert response.headers["Location"].startswith("/dashboard/login")


def test_the_table_covers_every_dashboard_route(app):
    adapter = app.url_map.bind("localhost")
    covered = set()
    for method, path, _data, _expected in ROUTES:
        concrete = path.format_map(_AnyId())
        endpoint, _args = adapter.match(concrete, method=method)
        covered.add((endpoint, method))
    wanted = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("dashboard.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    # The catch-all 404 route is exercised by /no/such/page, for GET only.
    wanted.discard(("dashboard._not_found", "POST"))
    assert wanted - covered == set()


class _AnyId(dict):
    def __missing__(self, key: str) -> str:
        return "1"


def test_a_volunteer_cannot_edit_another_volunteers_shift_and_nothing_changes(dash, db, people):
    from hotline.models import Shift

    dash.login("aigerim")
    before = (people.other_shift.start_minute, people.other_shift.end_minute)
    dash.post(f"/dashboard/shifts/{people.other_shift.id}/edit", SHIFT)
    dash.post(f"/dashboard/shifts/{people.other_shift.id}/delete")
    db.expire_all()
    shift = db.get(Shift, people.other_shift.id)
    assert shift is not None and (shift.start_minute, shift.end_minute) == before
