"""The Twilio purge's core against a real database (SQLite and PostgreSQL) and the Twilio
stand-in over HTTP, through the hotline's own twilio-python client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import test_env
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio_fake import FakeTwilio

from hotline.calllog import journal, twilio_purge
from hotline.calllog.purge_report import overview
from hotline.db import Database
from hotline.models import (
    CallbackAttempt,
    CallbackRequest,
    CallRecord,
    PlacedLeg,
    TwilioCallPurge,
)
from hotline.settings import Settings
from hotline.telephony.rest_client import TwilioCalls, make_twilio_client

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DELAY = timedelta(minutes=5)
CALLER_LEG = "CA" + "1" * 32
VOLUNTEER_LEGS = ["CA" + "2" * 32, "CA" + "3" * 32]


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    store = Database(database_url)
    with store.sessions() as session:
        yield session
    store.dispose()


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def twilio_of(fake: FakeTwilio) -> TwilioCalls:
    settings = Settings.from_env(test_env(TWILIO_API_BASE_URL=fake.base_url))
    return TwilioCalls(make_twilio_client(settings), settings.hotline_phone_number)


def add_call(session: Session, sid: str, ended: datetime | None, started: datetime) -> None:
    session.add(CallRecord(call_sid=sid, started_at=started, ended_at=ended, ivr_path=[]))
    session.commit()


def a_call_twilio_holds(session: Session, fake: FakeTwilio, ended: datetime | None) -> None:
    add_call(session, CALLER_LEG, ended, NOW - timedelta(minutes=30))
    fake.add_call(CALLER_LEG)
    for sid in VOLUNTEER_LEGS:
        fake.add_call(sid, parent=CALLER_LEG)


def only_row(session: Session) -> TwilioCallPurge:
    (row,) = session.scalars(select(TwilioCallPurge).execution_options(populate_existing=True))
    return row


def test_a_call_is_queued_once_after_the_delay_then_every_leg_is_deleted(
    session: Session, fake: FakeTwilio
) -> None:
    a_call_twilio_holds(session, fake, ended=NOW - timedelta(minutes=4))
    assert twilio_purge.queue_ended_calls(session, NOW, DELAY, timedelta(days=2)) == 0
    later = NOW + timedelta(minutes=1)
    assert twilio_purge.queue_ended_calls(session, later, DELAY, timedelta(days=2)) == 1
    assert twilio_purge.queue_ended_calls(session, later, DELAY, timedelta(days=2)) == 0
    row = only_row(session)
    assert (row.call_sid, row.source, row.status) == (CALLER_LEG, "call", "pending")

    assert twilio_purge.purge_call(session, twilio_of(fake), row.id, later) == "done"
    assert fake.held() == []
    assert fake.deleted == [*VOLUNTEER_LEGS, CALLER_LEG]  # the legs first, then the call
    row = only_row(session)
    assert (row.status, row.parent_deleted, row.children_deleted, row.already_gone) == (
        "done",
        1,
        2,
        0,
    )
    # Run again (a redelivered job): nothing more is asked of Twilio.
    assert twilio_purge.purge_call(session, twilio_of(fake), row.id, later) == "not_pending"
    assert len(fake.deleted) == 3


def test_a_call_without_a_final_status_is_purged_once_it_cannot_be_going_on(
    session: Session, fake: FakeTwilio
) -> None:
    add_call(session, CALLER_LEG, None, NOW - timedelta(hours=1))
    assert twilio_purge.queue_ended_calls(session, NOW, DELAY, None) == 0
    assert twilio_purge.queue_ended_calls(session, NOW + timedelta(hours=4), DELAY, None) == 1


def test_a_call_still_in_progress_at_twilio_is_retried_later_and_then_deleted(
    session: Session, fake: FakeTwilio
) -> None:
    a_call_twilio_holds(session, fake, ended=NOW - timedelta(minutes=10))
    fake.add_call(CALLER_LEG, in_progress=True)  # Twilio has not finished with it: 20009
    twilio_purge.queue_ended_calls(session, NOW, DELAY, None)
    row = only_row(session)
    assert twilio_purge.purge_call(session, twilio_of(fake), row.id, NOW) == "retry"
    row = only_row(session)
    assert (row.status, row.tries, row.last_error) == ("pending", 1, "twilio:20009")
    assert row.due_at == NOW + timedelta(minutes=twilio_purge.RETRY_MINUTES[0])
    assert row.children_deleted == 2  # the legs went on the first try
    assert twilio_purge.purge_call(session, twilio_of(fake), row.id, NOW) == "not_due"

    fake.add_call(CALLER_LEG)  # now it is over
    assert twilio_purge.purge_call(session, twilio_of(fake), row.id, row.due_at) == "done"
    row = only_row(session)
    assert (row.status, row.parent_deleted, row.children_deleted, row.last_error) == (
        "done",
        1,
        2,
        None,
    )
    assert fake.held() == []


def test_a_call_twilio_no_longer_has_counts_as_already_gone(
    session: Session, fake: FakeTwilio
) -> None:
    add_call(session, CALLER_LEG, NOW - timedelta(hours=1), NOW - timedelta(hours=2))
    twilio_purge.queue_ended_calls(session, NOW, DELAY, None)
    row = only_row(session)
    assert twilio_purge.purge_call(session, twilio_of(fake), row.id, NOW) == "done"
    row = only_row(session)
    assert (row.parent_deleted, row.already_gone) == (0, 1)


def test_a_purge_that_keeps_failing_gives_up_and_is_reported(
    session: Session, fake: FakeTwilio
) -> None:
    a_call_twilio_holds(session, fake, ended=NOW - timedelta(hours=1))
    twilio_purge.queue_ended_calls(session, NOW, DELAY, None)
    row = only_row(session)
    at = NOW
    for _ in twilio_purge.RETRY_MINUTES:
        fake.delete_failures.append((401, 20003))  # the auth token was changed, say
        outcome = twilio_purge.purge_call(session, twilio_of(fake), row.id, at)
        at = only_row(session).due_at
    assert outcome == "failed"
    row = only_row(session)
    assert (row.status, row.tries) == ("failed", len(twilio_purge.RETRY_MINUTES))
    lines = "\n".join(overview(session, NOW, DELAY).lines())
    assert "incoming calls: 0 purged, 0 waiting, 1 failed" in lines
    assert "last error twilio:20003: 1" in lines
    assert CALLER_LEG not in lines


def test_callback_legs_are_queued_by_their_volunteer_leg_and_its_survivor_leg_deleted(
    session: Session, fake: FakeTwilio
) -> None:
    volunteer_leg, survivor_leg = "CA" + "4" * 32, "CA" + "5" * 32
    request = CallbackRequest(
        topic="violence",
        language="ru",
        window="any",
        identify=False,
        status="completed",
        expires_at=NOW,
        number_last_digits="67",
    )
    request.history.append(
        CallbackAttempt(
            round=1,
            volunteer_call_sid=volunteer_leg,
            outcome="caller_connected",
            started_at=NOW - timedelta(hours=1),
            ended_at=NOW - timedelta(minutes=50),
        )
    )
    # A leg whose sid nobody learned (Twilio never placed it) cannot be, and is not, queued.
    request.history.append(
        CallbackAttempt(round=1, outcome="lost", started_at=NOW - timedelta(hours=1))
    )
    session.add(request)
    session.commit()
    fake.add_call(volunteer_leg)
    fake.add_call(survivor_leg, parent=volunteer_leg)
    assert twilio_purge.queue_ended_calls(session, NOW, DELAY, None) == 1
    row = only_row(session)
    assert row.source == "callback"
    assert twilio_purge.purge_call(session, twilio_of(fake), row.id, NOW) == "done"
    assert fake.deleted == [survivor_leg, volunteer_leg]
    lines = "\n".join(overview(session, NOW, DELAY).lines())
    assert (
        "callback tries: 1 purged, 0 waiting, 0 failed; deleted 1 callback volunteer legs and "
        "1 callback survivor legs, 0 already gone"
    ) in lines


def test_legs_placed_through_the_rest_api_are_deleted_with_the_call(
    session: Session, fake: FakeTwilio
) -> None:
    # A volunteer rung from the waiting line and a partner rung for a transfer: calls of their own
    # at Twilio, not children of the caller's. Their "leg" events say whose they are.
    placed = ["CA" + "6" * 32, "CA" + "7" * 32]
    add_call(session, CALLER_LEG, NOW - timedelta(minutes=20), NOW - timedelta(minutes=30))
    fake.add_call(CALLER_LEG)
    for sid in placed:
        fake.add_call(sid)
    events = [journal.event("leg", CALLER_LEG, leg=sid) for sid in placed]
    assert journal.apply_many(session, [*events, events[0]]) == 2
    # The same leg told again by another event (a retried webhook) is still one leg.
    assert journal.apply(session, journal.event("leg", CALLER_LEG, leg=placed[1])) is True
    session.commit()
    assert len(session.scalars(select(PlacedLeg)).all()) == 2

    assert twilio_purge.queue_ended_calls(session, NOW, DELAY, timedelta(days=2)) == 1
    row = only_row(session)
    assert twilio_purge.purge_call(session, twilio_of(fake), row.id, NOW) == "done"
    assert fake.held() == []
    assert fake.deleted == [*placed, CALLER_LEG]
    row = only_row(session)
    assert (row.parent_deleted, row.children_deleted, row.already_gone) == (1, 2, 0)
    assert session.scalars(select(PlacedLeg)).all() == []  # nothing left that names the legs
