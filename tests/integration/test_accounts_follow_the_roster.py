"""A volunteer taken off the roster by `hotline roster import` loses their dashboard login at once:
the session they have open stops working and they cannot sign in again, as after the dashboard's
own Deactivate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from support import test_env
from test_dashboard_support import PASSWORD, add_user, browser_for, clock, dash, db

from hotline.models import AuditEvent

FIXTURES = (clock, dash, db)
HOTLINE = str(Path(sys.executable).parent / "hotline")
ALWAYS = [
    {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}
]


def volunteer(handle: str, phone: str) -> dict:
    return {
        "handle": handle,
        "display_name": handle.title(),
        "phone": phone,
        "roles": ["lawyer"],
        "topics": ["labor"],
        "languages": ["ru"],
        "shifts": ALWAYS,
    }


def roster_import(database_url: str, tmp_path: Path, *volunteers: dict) -> str:
    path = tmp_path / "roster.yaml"
    path.write_text(yaml.safe_dump({"volunteers": list(volunteers)}), encoding="utf-8")
    env = {**os.environ, **test_env(DATABASE_URL=database_url)}
    result = subprocess.run(
        [HOTLINE, "roster", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_volunteer_removed_by_an_import_is_signed_out_and_cannot_sign_in(
    app, database_url, dash, db, tmp_path
):
    from hotline.models import Volunteer

    olga, saule = volunteer("olga", "+77017770031"), volunteer("saule", "+77017770032")
    roster_import(database_url, tmp_path, olga, saule)
    ids = {v.handle: v for v in db.query(Volunteer)}
    add_user(db, "olga", "volunteer", ids["olga"])
    add_user(db, "saule", "volunteer", ids["saule"])
    assert dash.login("olga").status_code == 302
    assert dash.client.get("/dashboard/me").status_code == 200  # her session works
    other = browser_for(app)
    assert other.login("saule").status_code == 302

    out = roster_import(database_url, tmp_path, saule)  # olga is no longer in the file
    assert "deactivated 1 (olga)" in out and "dashboard accounts disabled 1" in out
    # Her open session ends: the next page sends her to the sign-in page.
    answer = dash.client.get("/dashboard/me")
    assert answer.status_code == 302 and "/dashboard/login" in answer.headers["Location"]
    assert dash.session_cookie() is None or dash.client.get("/dashboard/me").status_code == 302
    # And she cannot sign in again, with the right password.
    again = dash.login("olga", PASSWORD, address="10.11.0.1")
    assert again.status_code == 200 and "Wrong username or password" in again.text
    db.expire_all()
    failed = db.query(AuditEvent).filter_by(action="login_failed").one()
    assert failed.detail == "account disabled"
    # Saule, still on the roster, is still signed in.
    assert other.client.get("/dashboard/me").status_code == 200
