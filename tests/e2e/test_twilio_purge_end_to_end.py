"""Twilio forgets the numbers: every leg of every ended call is deleted at Twilio by the worker.

Every process is real (gunicorn, `hotline worker`, PostgreSQL, Redis); Twilio is the stand-in of
tests/twilio_fake.py, which holds each call as Twilio would (the incoming calls, the legs their
<Dial>s rang, the volunteers' and callback legs placed through the API) until a DELETE removes
it. The same requests are checked against Twilio's OpenAPI spec in
tests/integration/test_twilio_contract.py.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from callback_world import (
    HOTLINE,
    SWEEP_SECONDS,
    CallbackWorld,
    callback_world,
    roster_yaml,
    wait_until,
)
from support import AUTH_TOKEN

from hotline.devtools.room_phones import RoomPhones
from hotline.simulate import SimulatedCall, scripted

VOLUNTEERS = ["+77011110061", "+77011110062"]
REDIS_DB = 13  # this module's own database on the test Redis
DELAY_SECONDS = 2  # HOTLINE_TWILIO_PURGE_DELAY_SECONDS (default 300) for the test


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackWorld]:
    tmp = tmp_path_factory.mktemp("twilio_purge")
    with callback_world(
        tmp,
        REDIS_DB,
        roster_yaml(VOLUNTEERS),
        "hotline_twilio_purge",
        HOTLINE_TWILIO_PURGE_DELAY_SECONDS=str(DELAY_SECONDS),
    ) as world:
        yield world


def rung_legs(call: SimulatedCall) -> int:
    """How many volunteer legs the call's <Dial>s rang (one per <Number>)."""
    count = 0
    for exchange in call.exchanges:
        if "<Dial" in exchange.body:
            count += len(ET.fromstring(exchange.body).findall("./Dial/Number"))  # noqa: S314
    return count


def twilio_holds(world: CallbackWorld, call: SimulatedCall) -> list[str]:
    """Twilio has the incoming call (ended now), one child call per leg its <Dial>s rang, and the
    legs the hotline placed for it through the REST API (calls of their own); their sids."""
    world.fake.add_call(call.call_sid)
    children = ["CA" + secrets.token_hex(16) for _ in range(rung_legs(call))]
    for sid in children:
        world.fake.add_call(sid, parent=call.call_sid)
    placed = [c.sid for c in world.fake.created if f"call={call.call_sid}" in c.params["Url"]]
    return [call.call_sid, *children, *placed]


def test_every_leg_of_every_ended_call_is_deleted_at_twilio_and_reported(
    world: CallbackWorld,
) -> None:
    world.fake.reset()
    worker = world.start_worker()

    # A live call: the first volunteer declines, the second accepts and they talk.
    # The volunteers are rung through the REST API for the call's conference: legs that are no
    # children of the caller's call at Twilio, which the purge must find all the same.
    answered = SimulatedCall(world.base_url, AUTH_TOKEN, caller="+77015550201", to=HOTLINE)
    room = RoomPhones(answered, world.fake.base_url, {VOLUNTEERS[0]: "decline"})
    room.hold_incoming()
    answered.run(scripted(["2", "1"]), on_enqueue=room)
    assert [leg[0] for leg in room.legs] == VOLUNTEERS
    live_sids = twilio_holds(world, answered)
    assert len(live_sids) == 1 + len(VOLUNTEERS)

    # A call nobody answers, whose caller asks for a callback; the callback then goes through.
    caller = "+77015550202"
    consent_call, _ = world.consent(caller)
    consent_sids = twilio_holds(world, consent_call)
    assert len(consent_sids) >= 2
    (placed,) = world.wait_for_callbacks(1, timeout=30)
    legs = world.legs(placed)
    world.fake.add_call(legs.caller_sid, parent=placed.sid)  # the survivor's leg
    legs.full_call()
    callback_sids = [placed.sid, legs.caller_sid]

    everything = live_sids + consent_sids + callback_sids
    # The delay, then a sweep queues the purges and the worker deletes them: within a few sweeps.
    wait_until(
        lambda: not world.fake.held(), "Twilio to hold no call any more", timeout=SWEEP_SECONDS * 6
    )
    assert sorted(world.fake.deleted) == sorted(everything)  # each exactly once
    # Children first: a call's legs are gone before the call itself.
    for parent, children in [(live_sids[0], live_sids[1:]), (placed.sid, [legs.caller_sid])]:
        order = world.fake.deleted
        assert all(order.index(child) < order.index(parent) for child in children)

    report = world.hotline("purge", "--report").stdout
    incoming = len(live_sids) - 1 + len(consent_sids) - 1
    assert (
        f"incoming calls: 2 purged, 0 waiting, 0 failed; deleted 2 caller legs and "
        f"{incoming} volunteer legs, 0 already gone" in report
    )
    assert (
        "callback tries: 1 purged, 0 waiting, 0 failed; deleted 1 callback volunteer legs and "
        "1 callback survivor legs, 0 already gone" in report
    )
    assert "ended calls not queued yet (the worker's next sweep queues them): 0" in report
    # Counts only: no sid, no number.
    assert not any(sid in report for sid in everything)
    assert "+7701" not in report and "7701555020" not in report
    assert world.places_holding(caller) == []
    assert worker.process.poll() is None
