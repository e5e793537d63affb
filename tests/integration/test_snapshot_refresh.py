"""The roster snapshot after a call ends elsewhere: the volunteer moves to the back of the line
without a full reload of the roster (which, at 10,000 volunteers, would hold up every call)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import select
from support import ALWAYS_ON_SHIFT

from hotline.db import Database
from hotline.models import utcnow
from hotline.models.roster import Volunteer
from hotline.redis_conn import RedisGate
from hotline.routing.policy import RoutingPolicy
from hotline.routing.roster_file import parse_roster_text
from hotline.routing.roster_import import import_roster
from hotline.routing.snapshot_keeper import SnapshotKeeper

ROSTER = "volunteers:\n" + "".join(
    f"""  - handle: v{n}
    display_name: V{n}
    phone: "+7701888000{n}"
    roles: [lawyer]
    topics: [labor]
    languages: [ru]
    shifts:{ALWAYS_ON_SHIFT}
"""
    for n in range(3)
)


POLICY = RoutingPolicy()


def order(keeper: SnapshotKeeper) -> list[int]:
    snapshot = keeper.current()
    assert snapshot is not None
    return snapshot.ordered("labor", "ru", utcnow(), POLICY, ZoneInfo("Asia/Almaty"))


def test_a_call_ended_in_another_process_moves_one_volunteer_not_the_whole_roster(database_url):
    db = Database(database_url)
    try:
        with db.session() as session:
            fernet = MultiFernet([Fernet(Fernet.generate_key())])
            import_roster(session, parse_roster_text(ROSTER), fernet)
        keeper = SnapshotKeeper(db, RedisGate(None), refresh_seconds=600)
        keeper.tick()
        loaded = keeper.current()
        first = order(keeper)[0]
        with db.session() as session:  # what the journal writes when a call of theirs ends
            volunteer = session.scalar(select(Volunteer).where(Volunteer.id == first))
            assert volunteer is not None
            volunteer.last_call_ended_at = utcnow() + timedelta(seconds=1)

        keeper.tick()

        assert keeper.current() is loaded  # the same snapshot: no full reload
        assert order(keeper)[-1] == first

        with db.session() as session:  # an edit that changes routing: a full reload
            volunteer = session.scalar(select(Volunteer).where(Volunteer.id == first))
            assert volunteer is not None
            volunteer.topics = ["violence"]
        keeper.tick()
        assert keeper.current() is not loaded
        assert first not in order(keeper)
    finally:
        db.dispose()
