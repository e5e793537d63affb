"""Roster import on real SQLite and PostgreSQL: idempotent, all or nothing, numbers encrypted."""

# ruff: noqa: F811  (fixtures imported from _fixtures are used as test parameters)

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from _fixtures import RoutingDatabase, fernet, routing_db, routing_postgres_url  # noqa: F401
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import event, func, select, text

from hotline.crypto import decrypt, make_fernet
from hotline.models import Base, DashboardSession, Shift, User, Volunteer
from hotline.routing import roster_import
from hotline.routing.policy import RoutingPolicy, pick_volunteers
from hotline.routing.roster_file import RosterError, parse_roster, parse_roster_text
from hotline.routing.roster_import import ImportReport, import_roster
from hotline.routing.roster_queries import (
    VolunteerNotFound,
    load_candidates,
    record_call_ended,
    volunteer_phone,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "roster.example.yaml"
ALMATY = ZoneInfo("Asia/Almaty")
KZ_NUMBER = "+77011234567"
# Every way the number could be written down; none may appear anywhere in storage.
KZ_FORMS = ["+77011234567", "77011234567", "87011234567", "7011234567", "701 123 45 67"]


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["volunteers"][0]["phone"] = "8 701 123 45 67"  # aigerim: a Kazakh number, national form
    return data


def run_import(rdb: RoutingDatabase, data: dict[str, Any], fernet: MultiFernet) -> ImportReport:
    roster = parse_roster(copy.deepcopy(data), "roster.yaml")
    with rdb.db.session() as session:
        return import_roster(session, roster, fernet)


def volunteers(rdb: RoutingDatabase) -> dict[str, Volunteer]:
    with rdb.db.session() as session:
        rows = session.scalars(select(Volunteer).order_by(Volunteer.id)).all()
        for row in rows:
            _ = row.shifts  # load them before the session closes
        return {row.handle: row for row in rows}


def test_import_creates_every_volunteer(routing_db: RoutingDatabase, fernet: MultiFernet) -> None:
    report = run_import(routing_db, example(), fernet)
    assert report.created == ("aigerim", "yerlan", "dmitry", "nurlan", "olga", "saule")
    assert (report.updated, report.deactivated, report.unchanged) == ((), (), ())
    stored = volunteers(routing_db)
    aigerim = stored["aigerim"]
    assert decrypt(fernet, aigerim.phone_encrypted) == KZ_NUMBER
    assert (aigerim.phone_last_digits, aigerim.phone_hint) == ("67", "…67")
    assert (aigerim.roles, aigerim.topics, aigerim.languages) == (
        ["psychologist"],
        ["violence", "trafficking"],
        ["kk", "ru"],
    )
    assert aigerim.active and aigerim.available and aigerim.last_call_ended_at is None
    weekly, one_off = aigerim.shifts
    assert (weekly.days, weekly.on_date, weekly.start_minute, weekly.end_minute) == (
        ["mon", "tue", "wed", "thu", "fri"],
        None,
        540,
        1080,
    )
    assert (one_off.days, str(one_off.on_date), one_off.end_minute) == (None, "2026-12-31", 1440)
    assert stored["dmitry"].shifts[0].days == ["mon", "tue", "wed", "thu", "sun"]


def test_a_second_import_of_the_same_file_changes_nothing(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    run_import(routing_db, example(), fernet)
    before = _snapshot(routing_db)
    report = run_import(routing_db, example(), fernet)
    assert not report.changed
    assert report.unchanged == ("aigerim", "yerlan", "dmitry", "nurlan", "olga", "saule")
    assert _snapshot(routing_db) == before  # same tokens, same shift ids, same updated_at


def test_reordered_lists_are_the_same_roster(routing_db: RoutingDatabase, fernet: MultiFernet):
    run_import(routing_db, example(), fernet)
    data = example()
    data["volunteers"][0]["languages"] = ["ru", "kk"]
    data["volunteers"][0]["shifts"].reverse()
    data["volunteers"][0]["shifts"][1]["days"] = ["fri", "thu", "wed", "tue", "mon"]
    assert not run_import(routing_db, data, fernet).changed


def test_an_import_updates_fields_phone_and_shifts(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    run_import(routing_db, example(), fernet)
    before = volunteers(routing_db)
    data = example()
    aigerim = data["volunteers"][0]
    aigerim["display_name"] = "Aigerim Seitkali"
    aigerim["phone"] = "+7 702 765 43 21"
    aigerim["shifts"] = [{"days": ["sat"], "start": "22:00", "end": "06:00"}]
    data["volunteers"][1]["roles"] = ["lawyer", "social_worker"]
    report = run_import(routing_db, data, fernet)
    assert report.updated == ("aigerim", "yerlan")
    assert len(report.unchanged) == 4
    after = volunteers(routing_db)
    assert after["aigerim"].display_name == "Aigerim Seitkali"
    assert decrypt(fernet, after["aigerim"].phone_encrypted) == "+77027654321"
    assert after["aigerim"].phone_last_digits == "21"
    [night] = after["aigerim"].shifts
    assert (night.days, night.start_minute, night.end_minute) == (["sat"], 1320, 360)
    assert after["aigerim"].updated_at > before["aigerim"].updated_at
    assert after["yerlan"].roles == ["lawyer", "social_worker"]
    assert after["olga"].updated_at == before["olga"].updated_at
    with routing_db.db.session() as session:  # the old shifts are gone, not orphaned
        assert session.scalar(select(func.count()).select_from(Shift)) == 7


def test_a_volunteer_missing_from_the_file_is_deactivated_not_deleted(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    run_import(routing_db, example(), fernet)
    data = example()
    del data["volunteers"][4]  # olga
    report = run_import(routing_db, data, fernet)
    assert report.deactivated == ("olga",)
    olga = volunteers(routing_db)["olga"]
    assert not olga.active and len(olga.shifts) == 1
    assert not run_import(routing_db, data, fernet).changed  # deactivating twice is a no-op
    report = run_import(routing_db, example(), fernet)
    assert report.updated == ("olga",)
    assert volunteers(routing_db)["olga"].active


def test_a_volunteer_taken_off_the_roster_loses_their_login_and_every_session(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    run_import(routing_db, example(), fernet)
    with routing_db.db.session() as session:
        ids = {v.handle: v.id for v in session.scalars(select(Volunteer))}
        for handle in ("olga", "saule"):
            account = User(
                username=f"{handle}-login",
                password_hash="$argon2id$x",
                role="volunteer",
                volunteer_id=ids[handle],
                active=True,
            )
            session.add(account)
            session.flush()
            for n in range(2):  # signed in on two browsers
                session.add(
                    DashboardSession(id_hash=f"{handle}{n}", user_id=account.id, csrf_token="t")
                )
    data = example()
    del data["volunteers"][4]  # olga
    report = run_import(routing_db, data, fernet)
    assert report.deactivated == ("olga",) and report.accounts_disabled == ("olga-login",)
    assert "dashboard accounts disabled 1" in report.summary()
    with routing_db.db.session() as session:
        active = {u.username: u.active for u in session.scalars(select(User))}
        assert active == {"olga-login": False, "saule-login": True}
        left = sorted(s.id_hash for s in session.scalars(select(DashboardSession)))
        assert left == ["saule0", "saule1"]


def test_import_leaves_the_volunteers_own_state_alone(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    run_import(routing_db, example(), fernet)
    ended = datetime(2026, 6, 5, 6, 0, tzinfo=UTC)
    with routing_db.db.session() as session:
        volunteer = session.scalars(select(Volunteer).where(Volunteer.handle == "saule")).one()
        volunteer.available = False
        record_call_ended(session, volunteer.id, ended)
    assert not run_import(routing_db, example(), fernet).changed
    saule = volunteers(routing_db)["saule"]
    assert not saule.available and saule.last_call_ended_at == ended


def test_a_file_with_one_bad_row_imports_nothing(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    run_import(routing_db, example(), fernet)
    before = _snapshot(routing_db)
    data = example()
    data["volunteers"][0]["display_name"] = "Changed"
    data["volunteers"].append(dict(data["volunteers"][1], handle="newbie", phone="not a phone"))
    with pytest.raises(RosterError, match=r"volunteer 7 \(newbie\): phone"):
        run_import(routing_db, data, fernet)
    assert _snapshot(routing_db) == before


def test_a_failure_halfway_through_rolls_everything_back(
    routing_db: RoutingDatabase, fernet: MultiFernet, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def failing_encrypt(f: MultiFernet, plaintext: str) -> str:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("disk full")
        return Fernet(Fernet.generate_key()).encrypt(plaintext.encode()).decode()

    monkeypatch.setattr(roster_import, "encrypt", failing_encrypt)
    with pytest.raises(RuntimeError, match="disk full"):
        run_import(routing_db, example(), fernet)
    assert volunteers(routing_db) == {}


def test_no_phone_number_is_stored_in_plaintext(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    run_import(routing_db, example(), fernet)
    data = example()
    data["volunteers"][1]["display_name"] = "Yerlan Bekov"  # a second write of every table
    run_import(routing_db, data, fernet)
    hits = []
    with routing_db.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    if _betrays(value):
                        hits.append(f"{table.name}.{column}")
    assert hits == []
    if routing_db.sqlite_file is not None:  # and not in the file's free pages or the WAL
        for path in routing_db.sqlite_file.parent.glob(routing_db.sqlite_file.name + "*"):
            assert not _betrays(path.read_bytes().decode("latin-1")), path


def _betrays(value: object) -> bool:
    written = str(value)
    digits = re.sub(r"\D", "", written)
    return any(form in written for form in KZ_FORMS) or "7011234567" in digits


def test_load_candidates_uses_two_queries_and_skips_the_inactive(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    data = example()
    run_import(routing_db, data, fernet)
    del data["volunteers"][5]  # saule leaves
    run_import(routing_db, data, fernet)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(routing_db.db.engine, "before_cursor_execute", count)
    try:
        with routing_db.db.session() as session:
            candidates = load_candidates(session)
    finally:
        event.remove(routing_db.db.engine, "before_cursor_execute", count)
    assert len(statements) == 2
    assert len(candidates) == 5 and all(c.active for c in candidates)
    by_id = {c.id: c for c in candidates}
    with routing_db.db.session() as session:
        olga_id = session.scalar(select(Volunteer.id).where(Volunteer.handle == "olga"))
    olga = by_id[olga_id]
    assert olga.roles == frozenset({"psychologist"}) and olga.languages == frozenset({"ru", "en"})
    # Saturday 03:00 in Almaty, an English-speaking caller about violence: Olga's night shift.
    saturday_night = datetime(2026, 6, 6, 3, 0, tzinfo=ALMATY)
    picked = pick_volunteers(
        candidates, "violence", "en", saturday_night, RoutingPolicy(), tz=ALMATY
    )
    assert [c.id for c in picked] == [olga_id]


def test_the_phone_is_decrypted_only_for_an_active_volunteer(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    run_import(routing_db, example(), fernet)
    data = example()
    del data["volunteers"][0]
    run_import(routing_db, data, fernet)
    with routing_db.db.session() as session:
        ids = dict(session.execute(select(Volunteer.handle, Volunteer.id)).all())
        assert volunteer_phone(session, fernet, ids["yerlan"]) == "+12025550102"
        with pytest.raises(VolunteerNotFound):
            volunteer_phone(session, fernet, ids["aigerim"])  # deactivated
        with pytest.raises(VolunteerNotFound):
            volunteer_phone(session, fernet, 999_999)


def test_key_rotation_keeps_an_import_idempotent(
    routing_db: RoutingDatabase, fernet: MultiFernet
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    run_import(routing_db, example(), make_fernet((old_key,)))
    rotated = make_fernet((new_key, old_key))
    assert not run_import(routing_db, example(), rotated).changed
    # With the old key gone, the unreadable tokens are replaced by the file's numbers.
    only_new = make_fernet((new_key,))
    assert len(run_import(routing_db, example(), only_new).updated) == 6
    assert decrypt(only_new, volunteers(routing_db)["aigerim"].phone_encrypted) == KZ_NUMBER


def test_the_example_file_imports_as_shipped(routing_db: RoutingDatabase, fernet: MultiFernet):
    roster = parse_roster_text(EXAMPLE.read_text(), str(EXAMPLE))
    with routing_db.db.session() as session:
        assert len(import_roster(session, roster, fernet).created) == 6


def _snapshot(rdb: RoutingDatabase) -> list[tuple[Any, ...]]:
    with rdb.db.engine.connect() as connection:
        rows = []
        for table in ("volunteers", "shifts"):
            rows += [
                tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            ]
        return rows
