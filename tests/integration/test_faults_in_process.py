"""Claims, records and the fallback document when Redis or the database is away, in one process.

Real SQLite and PostgreSQL; Redis is a real one, or an address where nothing listens (port 1).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from support import ALWAYS_ON_SHIFT, TwilioWebhooks, test_env
from twiml_helpers import parse, path_and_query

from hotline import create_app
from hotline.calllog import journal
from hotline.models import CallRecord, VolunteerClaim, utcnow
from hotline.routing import db_claims
from hotline.routing.roster_file import parse_roster_text
from hotline.routing.roster_import import import_roster
from hotline.settings import Settings

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_POSTGRES = "postgresql://postgres@127.0.0.1:1/hotline"
PHONES = [f"+7701888000{n}" for n in range(4)]
ROSTER = "volunteers:\n" + "".join(
    f"""  - handle: v{n}
    display_name: V{n}
    phone: "{phone}"
    roles: [lawyer]
    topics: [labor]
    languages: [ru]
    shifts:{ALWAYS_ON_SHIFT}"""
    for n, phone in enumerate(PHONES)
)
HOTLINE = str(Path(sys.executable).parent / "hotline")


@pytest.fixture
def redis_down_app(database_url, tmp_path):
    app = create_app(
        Settings.from_env(
            test_env(DATABASE_URL=database_url, REDIS_URL=DEAD_REDIS,
                     HOTLINE_SPOOL_DIR=str(tmp_path / "spool"))
        )
    )  # fmt: skip
    with app.extensions["db"].session() as session:
        import_roster(session, parse_roster_text(ROSTER), app.extensions["fernet"])
    yield app
    app.extensions["db"].dispose()


def route(twilio: TwilioWebhooks) -> tuple[dict[str, str], list[str]]:
    params = twilio.call_params()
    root = parse(twilio.post("/twilio/voice", params).data)
    for key in ("2", "3"):
        root = parse(twilio.post(path_and_query(root.find("./Gather").get("action")), params,
                                 Digits=key).data)  # fmt: skip
    answer = parse(twilio.post(path_and_query(root.find("./Redirect").text), params).data)
    return params, [n.text.strip() for n in answer.iter("Number")]


def test_with_redis_down_each_caller_rings_a_different_volunteer_claimed_in_the_database(
    redis_down_app,
):
    twilio = TwilioWebhooks(redis_down_app.test_client())
    rung = [route(twilio)[1] for _ in range(len(PHONES) + 1)]
    assert [len(numbers) for numbers in rung] == [1, 1, 1, 1, 0]  # the fifth: everyone is busy
    assert sorted(n for numbers in rung for n in numbers) == sorted(PHONES)
    with redis_down_app.extensions["db"].session() as session:
        assert len(session.scalars(select(VolunteerClaim)).all()) == len(PHONES)


def test_database_claims_are_taken_once_under_racing_threads(redis_down_app):
    db = redis_down_app.extensions["db"]
    winners: list[list[int]] = []
    barrier = threading.Barrier(6)

    def race(owner: str) -> None:
        barrier.wait()
        with db.session() as session:
            winners.append(db_claims.claim_free(session, [1, 2], owner, 80, 1, utcnow(), 3600))

    threads = [threading.Thread(target=race, args=(f"call:CA{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [ids[0] for ids in winners if ids]
    assert sorted(claimed) == [1, 2]  # two volunteers, each claimed by exactly one call


def test_an_expired_database_claim_can_be_taken_again(redis_down_app):
    db = redis_down_app.extensions["db"]
    past = utcnow() - timedelta(hours=1)
    with db.session() as session:
        assert db_claims.claim_free(session, [1], "call:CAold", 80, 1, past, 3600) == [1]
        assert db_claims.claim_free(session, [1], "call:CAnew", 80, 1, utcnow(), 3600) == [1]
        assert db_claims.claim_free(session, [1], "call:CAthird", 80, 1, utcnow(), 3600) == []


def test_with_redis_and_the_database_down_nobody_is_rung(tmp_path):
    app = create_app(Settings.from_env(test_env(
        DATABASE_URL=DEAD_POSTGRES, REDIS_URL=DEAD_REDIS,
        HOTLINE_SPOOL_DIR=str(tmp_path / "spool"),
    )))  # fmt: skip
    try:
        _params, numbers = route(TwilioWebhooks(app.test_client()))
        assert numbers == []
    finally:
        app.extensions["db"].dispose()


def test_events_written_out_of_order_still_leave_the_record_right(sqlite_url):
    from hotline.db import Database

    db = Database(sqlite_url)
    sid = "CA" + "e" * 32
    status = journal.event("status", sid, status="completed", duration=30)
    events = [
        journal.event("opened", sid, caller_key="k" * 64, key_version=1),
        journal.event("step", sid, visited=["greeting", "language"]),
        journal.event("routing", sid, language="ru", topic="labor"),
        journal.event("ring", sid, seq=0, volunteer=7),
    ]
    try:
        with db.session() as session:
            for item in [events[0], status, *events[1:], events[3]]:  # ring replayed twice
                journal.apply(session, item)
            assert journal.apply(session, status) is False  # a replayed event changes nothing
        with db.session() as session:
            record = session.scalar(select(CallRecord))
            assert record.twilio_status == "completed" and record.ended_at is not None
            assert record.ivr_path == ["greeting", "language", "routing"]
            # The ring arrived after the final status: closed as canceled, never left ringing.
            assert [(a.seq, a.outcome) for a in record.attempts] == [(0, "canceled")]
    finally:
        db.dispose()


def test_the_exported_fallback_document_is_what_the_fallback_url_answers(app, tmp_path):
    env = test_env()
    result = subprocess.run(
        [HOTLINE, "fallback", "export", str(tmp_path / "site"),
         "--base-url", env["PUBLIC_BASE_URL"]],
        env={**env, "PATH": str(Path(sys.executable).parent)}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    exported = (tmp_path / "site" / "fallback.xml").read_text()
    answer = TwilioWebhooks(app.test_client()).post("/twilio/fallback", {"ErrorCode": "11200"})
    assert exported == answer.get_data(as_text=True)
    assert "1 1 2" in exported
    for played in parse(exported).iter("Play"):  # every recording it plays is in the folder
        path = path_and_query(played.text).split("?")[0]
        assert (tmp_path / "site" / path.lstrip("/")).is_file()


def test_a_fallback_with_recordings_needs_the_address_it_will_be_served_from(tmp_path):
    # The shipped Kazakh message is a recording: Twilio must be able to fetch it from the host.
    env = {**test_env(), "PATH": str(Path(sys.executable).parent)}
    refused = subprocess.run([HOTLINE, "fallback", "export", str(tmp_path / "site")], env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert refused.returncode == 2 and "--base-url" in refused.stderr
    assert not (tmp_path / "site" / "fallback.xml").exists()
    done = subprocess.run(
        [HOTLINE, "fallback", "export", str(tmp_path / "site"), "--base-url",
         "https://fallback.example.org/hotline"], env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    xml = (tmp_path / "site" / "fallback.xml").read_text()
    assert "https://fallback.example.org/hotline/ivr-audio/audio/kk/" in xml
