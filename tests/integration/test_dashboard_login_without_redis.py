"""Sign-in with Redis down: it still works, the per-account limit still holds exactly (it is in
the database), and a flood is still slowed, by each web process on its own (a third of the
shared allowance), rather than let through."""

from __future__ import annotations

import pytest
from support import test_env
from test_dashboard_support import PASSWORD, clock, dash, db, people

from hotline.dashboard.accounts.throttle import ADDRESS, FALLBACK_SHARE
from hotline.devserver import free_port
from hotline.settings import Settings

FIXTURES = (clock, dash, db, people)
GENERIC = "Wrong username or password"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Redis configured, and nothing listening there: Redis is down."""
    return Settings.from_env(
        test_env(DATABASE_URL=database_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    )


def test_the_owner_still_signs_in_when_redis_is_down(dash, people):
    assert dash.login("boss", PASSWORD, address="10.8.0.1").status_code == 302


def test_a_flood_is_still_slowed_per_process(dash, people):
    local = ADDRESS.share(FALLBACK_SHARE)
    statuses = [
        dash.login("nobody", "wrong password here", address="10.8.0.2").status_code
        for _ in range(local.burst + 3)
    ]
    assert statuses[: local.burst] == [200] * local.burst
    assert statuses[local.burst :] == [429] * 3


def test_the_account_limit_holds_without_redis(dash, db, people):
    for n in range(7):
        dash.login("boss", "wrong password here", address=f"10.8.1.{n}")
    answer = dash.login("boss", PASSWORD, address="10.8.2.1")
    assert answer.status_code == 200 and GENERIC in answer.text  # paused: the database says so
    from hotline.models import AuditEvent, User

    db.expire_all()
    assert db.get(User, people.supervisor.id).failed_logins == 5
    checks = db.query(AuditEvent).filter_by(action="login_failed").count()
    assert checks == 5
