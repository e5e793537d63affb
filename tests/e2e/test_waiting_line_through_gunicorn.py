"""The waiting line through a real gunicorn, with the local Twilio stand-in taking the REST calls.

Three callers and one volunteer: the first is connected, the second waits and is put through in a
conference when the first call ends (after the whisper and press 1, on a leg the hotline placed),
the third waits past the line's maximum and is offered a callback. Then rounds of "the volunteer
becomes free while someone waits" measure how long until the waiting caller is in the room with
them (the stand-in answers at once; a real phone adds its ringing and the whisper).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import create_engine, select
from support import AUTH_TOKEN, journal_written, redis_test_url, test_env
from twilio_fake import FakeTwilio

from hotline.devserver import free_port, gunicorn_server
from hotline.devtools.twilio_api import post_signed
from hotline.models import CallRecord
from hotline.simulate import SimulatedCall

ROOT = Path(__file__).resolve().parents[2]
VOLUNTEER = "+77012220001"
HOTLINE = "+77270000000"
MAX_WAIT = 6
ALWAYS = '[{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}]'
ROSTER = f"""
volunteers:
  - {{handle: asel, display_name: Asel, phone: "{VOLUNTEER}", roles: [psychologist],
     topics: [violence], languages: [ru], shifts: {ALWAYS}}}
"""
ROUNDS = 20


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], FakeTwilio]]:
    tmp = tmp_path_factory.mktemp("line")
    config = tmp / "config"
    shutil.copytree(ROOT / "config", config)
    routing = (config / "routing.yaml").read_text()
    routing = routing.replace("max_wait_seconds: 180", f"max_wait_seconds: {MAX_WAIT}")
    # The volunteer frees up the moment a call ends, as if they reported at once (wrap-up has its
    # own tests: tests/integration/test_wrap_up.py, tests/e2e/test_routing_through_gunicorn.py).
    assert "wrap_up_seconds: 120" in routing
    routing = routing.replace("wrap_up_seconds: 120", "wrap_up_seconds: 0")
    (config / "routing.yaml").write_text(routing)
    Redis.from_url(redis_test_url()).flushdb()
    port = free_port()
    with FakeTwilio() as twilio:
        env = test_env(
            DATABASE_URL=f"sqlite:///{tmp / 'line.db'}",
            REDIS_URL=redis_test_url(),
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            TWILIO_API_BASE_URL=twilio.base_url,
            HOTLINE_CONFIG_DIR=str(config),
        )
        roster = tmp / "roster.yaml"
        roster.write_text(ROSTER)
        with gunicorn_server(env, port, workers=2, log_path=tmp / "gunicorn.log"):
            hotline = str(Path(sys.executable).parent / "hotline")
            subprocess.run(
                [hotline, "roster", "import", str(roster)], env={**os.environ, **env}, check=True
            )
            time.sleep(1.5)  # each worker's roster snapshot refreshes within a second
            yield f"http://127.0.0.1:{port}", env, twilio


def twiml(body: str) -> ET.Element:
    root = ET.fromstring(body)  # noqa: S314 - our own server's answer
    assert root.tag == "Response", body
    return root


def speech(root: ET.Element) -> str:
    return " ".join((e.text or "").strip() for e in root.iter("Say"))


class Caller:
    """One inbound call, played by hand as Twilio would play it."""

    def __init__(self, base_url: str, twilio: FakeTwilio, number: str) -> None:
        self.call = SimulatedCall(base_url, AUTH_TOKEN, caller=number, to=HOTLINE)
        self.sid = self.call.call_sid
        self.base_url = base_url
        twilio.add_call(self.sid, in_progress=True)  # Twilio holds the incoming call
        self.enqueue: ET.Element | None = None

    def post(self, url: str, **extra: str) -> ET.Element:
        exchange = self.call.post(url if url.startswith("http") else self.base_url + url, extra)
        assert exchange.status == 200, (url, exchange.body)
        return twiml(exchange.body)

    def route_step(self) -> str:
        """Through the menus (Russian, violence): the URL of the route step."""
        root = self.post("/twilio/voice")
        for key in ("2", "1"):
            root = self.post(root.find("./Gather").get("action"), Digits=key)
        return root.find("./Redirect").text

    def routed(self, route_url: str) -> ET.Element:
        root = self.post(route_url)
        self.enqueue = root.find("./Enqueue")
        return root

    def reach_routing(self) -> ET.Element:
        return self.routed(self.route_step())

    def waits(self) -> ET.Element:
        assert self.enqueue is not None
        # Each fetch differs (QueueTime grows): a repeat would get the first copy's answer.
        queued = str(time.monotonic_ns())
        return self.post(self.enqueue.get("waitUrl"), QueuePosition="1", QueueTime=queued)

    def leaves(self, result: str = "leave") -> ET.Element:
        assert self.enqueue is not None
        return self.post(self.enqueue.get("action"), QueueResult=result)

    def hangs_up(self) -> None:
        self.post("/twilio/status", CallStatus="completed", CallDuration="60")


def volunteer_leg(created) -> dict[str, str]:
    return {
        "CallSid": created.sid,
        "AccountSid": "AC" + "0" * 32,
        "From": created.params["From"],
        "To": created.params["To"],
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
        "ApiVersion": "2010-04-01",
    }


def volunteer_accepts(created) -> ET.Element:
    """The volunteer's phone is answered by a person who hears the whisper and presses 1."""
    leg = volunteer_leg(created)
    status, body = post_signed(created.params["Url"], dict(leg, AnsweredBy="human"), AUTH_TOKEN)
    whisper = twiml(body.decode())
    assert status == 200 and "насилие" in speech(whisper)
    status, body = post_signed(
        whisper.find("./Gather").get("action"), dict(leg, Digits="1"), AUTH_TOKEN
    )
    assert status == 200
    return twiml(body.decode())


def volunteer_leg_ends(created) -> None:
    leg = dict(volunteer_leg(created), CallStatus="completed", CallDuration="120")
    assert post_signed(created.params["StatusCallback"], leg, AUTH_TOKEN)[0] == 200


def moved_in(twilio: FakeTwilio, caller: Caller, timeout: float = 5.0) -> ET.Element:
    """The Calls update that moved the caller out of the queue, followed as Twilio would."""
    deadline = time.monotonic() + timeout
    while True:
        call = twilio.call(caller.sid)
        if call is not None and call.updates:
            return caller.post(call.updates[-1]["Url"])
        assert time.monotonic() < deadline, "the caller was never moved into the conference"
        time.sleep(0.005)


def record_of(env, sid):
    journal_written(env)
    engine = create_engine(env["DATABASE_URL"])
    try:
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as connection:
                table = CallRecord.__table__
                row = connection.execute(select(table).where(table.c.call_sid == sid)).first()
            if row is not None and row.outcome not in ("routing", "in_menu"):
                return row
            assert time.monotonic() < deadline, f"no settled record for {sid}"
            time.sleep(0.1)
    finally:
        engine.dispose()


def connect_directly(twilio: FakeTwilio, caller: Caller) -> object:
    """The volunteer is free: routing rings them through the REST API and the caller waits in
    the Enqueue; the whisper, 1, and the caller is moved into the room. Their leg."""
    before = len(twilio.created)
    root = caller.reach_routing()
    assert root.find("./Enqueue") is not None and root.find("./Dial") is None
    created = twilio.wait_for(before + 1)[-1]  # rung before routing answered
    assert created.params["To"] == VOLUNTEER and created.params["From"] == HOTLINE
    assert volunteer_accepts(created).find("./Dial/Conference").text == caller.sid
    assert moved_in(twilio, caller).find("./Dial/Conference").text == caller.sid
    return created


def test_three_callers_one_volunteer_connected_waits_then_connected_and_times_out(world):
    base_url, env, twilio = world
    first, second, third = (Caller(base_url, twilio, f"+7701777000{i}") for i in range(3))
    rung = len(twilio.created)
    # The first caller is put straight through, in a conference named by their call sid.
    first_leg = connect_directly(twilio, first)
    # The second and third wait in line, and hear where they are.
    assert second.reach_routing().find("./Enqueue") is not None
    assert third.reach_routing().find("./Enqueue") is not None
    assert "очереди - 1" in speech(second.waits())
    assert "очереди - 2" in speech(third.waits())
    assert len(twilio.created) == rung + 1  # nobody is rung while the only volunteer talks
    # The first call ends: the volunteer is rung for the second caller, from the hotline number.
    first.hangs_up()
    volunteer_leg_ends(first_leg)
    created = twilio.wait_for(rung + 2)[-1]
    assert created.params["To"] == VOLUNTEER and created.params["From"] == HOTLINE
    room = volunteer_accepts(created).find("./Dial/Conference")
    assert room is not None and room.text == second.sid
    caller_room = moved_in(twilio, second).find("./Dial/Conference")
    assert caller_room.text == second.sid
    assert record_of(env, second.sid).outcome == "connected"
    # The third caller now is first in line; after the maximum wait, the callback offer.
    assert "очереди - 1" in speech(third.waits())
    time.sleep(MAX_WAIT)
    assert third.waits().find("./Leave") is not None
    offer = third.leaves()
    assert "node=callback_offer" in offer.find("./Gather").get("action")
    record = record_of(env, third.sid)
    assert record.outcome == "nobody_available" and record.wait_seconds >= MAX_WAIT
    assert len(twilio.created) == rung + 2  # nobody rung twice, nobody for the third caller
    second.hangs_up()
    volunteer_leg_ends(created)


def test_a_caller_hanging_up_in_line_is_recorded_as_abandoned_with_the_wait(world):
    base_url, env, twilio = world
    talking, waiting = (
        Caller(base_url, twilio, "+77017770100"),
        Caller(base_url, twilio, "+77017770101"),
    )
    rung = len(twilio.created)
    _connect_through_the_line_or_directly(twilio, talking, rung)
    assert waiting.reach_routing().find("./Enqueue") is not None
    time.sleep(1.2)
    assert waiting.leaves("hangup").find("./*") is None
    waiting.hangs_up()
    record = record_of(env, waiting.sid)
    assert record.outcome == "abandoned_waiting" and record.wait_seconds >= 1
    _finish(twilio, talking)


def _connect_through_the_line_or_directly(twilio, caller, rung):
    caller.leg = connect_directly(twilio, caller)


def _finish(twilio, caller):
    caller.hangs_up()
    volunteer_leg_ends(caller.leg)


def test_time_from_a_volunteer_becoming_free_to_the_waiting_caller_hearing_them(world):
    base_url, env, twilio = world
    talking = Caller(base_url, twilio, "+77017770200")
    _connect_through_the_line_or_directly(twilio, talking, len(twilio.created))
    free_to_room, free_to_ring = [], []
    legs = []
    for round_number in range(ROUNDS):
        waiting = Caller(base_url, twilio, f"+770177703{round_number:02d}")
        assert waiting.reach_routing().find("./Enqueue") is not None
        before = len(twilio.created)
        started = time.perf_counter()
        # The volunteer becomes free: the conversation in progress ends.
        if round_number == 0:
            _finish(twilio, talking)
        else:
            talking.hangs_up()
            volunteer_leg_ends(legs[-1])
        created = twilio.wait_for(before + 1)[-1]
        free_to_ring.append(created.received_at - started)
        assert volunteer_accepts(created).find("./Dial/Conference").text == waiting.sid
        assert moved_in(twilio, waiting).find("./Dial/Conference").text == waiting.sid
        free_to_room.append(time.perf_counter() - started)
        legs.append(created)
        talking = waiting
    talking.hangs_up()
    volunteer_leg_ends(legs[-1])
    ordered = sorted(free_to_room)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    print(
        f"\nwaiting line, {ROUNDS} rounds through gunicorn: volunteer free -> their phone rung "
        f"median {statistics.median(free_to_ring) * 1000:.0f} ms; "
        f"-> the waiting caller in the room with them (whisper and 1 answered at once) "
        f"median {statistics.median(free_to_room) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    assert statistics.median(free_to_room) < 2.0


def test_hotline_simulate_plays_the_line_and_a_transfer_to_the_police(world):
    from hotline.devtools.line_play import LinePlay

    base_url, env, twilio = world
    lines: list[str] = []
    play = LinePlay(base_url, twilio.base_url, AUTH_TOKEN, lines.append)
    assert play.play("2,1", talk=1.0, transfer_key="1") == 0, "\n".join(lines)
    text = "\n".join(lines)
    assert "the waiting caller hears: Все консультанты сейчас заняты. Ваше место в очереди" in text
    assert "the volunteer hears: Звонок на горячую линию. Тема - насилие." in text
    assert "the waiting caller hears: Соединяю вас с консультантом." in text
    assert "Полиция - нажмите 1" in text and "Звоню партнёру" in text
    assert "The partner's phone rings (from +77270000000)" in text
    assert "the partner hears: Звонок с горячей линии доверия" in text
    assert "+7701000000" not in text  # the simulated callers' numbers are never shown


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, p99 {_p99(values) * 1000:.0f} ms"


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def test_a_direct_call_in_a_conference_is_as_quick_as_with_dial(world):
    """From the route step to the volunteer's phone ringing, and to the caller in the room with
    them (the whisper and 1 answered at once), against <Dial><Number> in the same run (the REST
    API failing for that call: the fallback). With <Dial>, the phone rings when Twilio has the
    route step's answer, and the two are bridged when the whisper's 1 is answered."""
    base_url, env, twilio = world
    figures: dict[str, dict[str, list[float]]] = {
        "conference": {"rung": [], "room": []}, "dial": {"rung": [], "room": []},
    }  # fmt: skip
    for round_number in range(ROUNDS):
        for way in ("conference", "dial"):
            caller = Caller(base_url, twilio, f"+770177704{round_number:02d}")
            route_url = caller.route_step()
            before = len(twilio.created)
            if way == "dial":
                twilio.fail_next(500, 20500)
            started = time.perf_counter()
            root = caller.routed(route_url)
            if way == "conference":
                created = twilio.wait_for(before + 1)[-1]
                figures[way]["rung"].append(created.received_at - started)
                assert volunteer_accepts(created).find("./Dial/Conference") is not None
                assert moved_in(twilio, caller).find("./Dial/Conference").text == caller.sid
                figures[way]["room"].append(time.perf_counter() - started)
                caller.hangs_up()
                volunteer_leg_ends(created)
            else:
                figures[way]["rung"].append(time.perf_counter() - started)
                number = root.find("./Dial/Number")
                assert number is not None
                leg = {**caller.call.common, "CallSid": "CA" + "d" * 32,
                       "ParentCallSid": caller.sid}  # fmt: skip
                whisper = twiml(post_signed(number.get("url"), leg, AUTH_TOKEN)[1].decode())
                post_signed(whisper.find("./Gather").get("action"), dict(leg, Digits="1"),
                            AUTH_TOKEN)  # fmt: skip
                figures[way]["room"].append(time.perf_counter() - started)
                caller.post(root.find("./Dial").get("action"), DialCallStatus="completed",
                            DialBridged="true")  # fmt: skip
                caller.hangs_up()
    lines = []
    for way, found in figures.items():
        rung, room = found["rung"], found["room"]
        lines.append(f"{way}: route -> volunteer rung {_ms(rung)}; -> caller in room {_ms(room)}")
    print(f"\ndirect calls, {ROUNDS} rounds each through gunicorn:\n  " + "\n  ".join(lines))
    conference, dial = figures["conference"], figures["dial"]
    # Twilio adds its own REST round trip (~0.1-0.3 s) to the conference path; here, locally,
    # the path itself must add no more than that.
    assert statistics.median(conference["room"]) - statistics.median(dial["room"]) < 0.3


def test_hotline_simulate_follows_a_direct_call_into_its_conference(world):
    from hotline.devtools.room_phones import RoomPhones
    from hotline.simulate import VolunteerPhones, scripted

    base_url, env, twilio = world
    call = SimulatedCall(base_url, AUTH_TOKEN, caller="+77017770500", to=HOTLINE)
    room = RoomPhones(call, twilio.base_url, talk_seconds=0.5)
    room.hold_incoming()
    heard = call.run(scripted(["2", "1"]), on_dial=VolunteerPhones(call), on_enqueue=room)
    assert any(h.kind == "enqueue" for h in heard) and not any(h.kind == "dial" for h in heard)
    ((number, caller_id, whisper),) = room.legs
    assert number == VOLUNTEER and caller_id == HOTLINE and "насилие" in whisper
    record = record_of(env, call.call_sid)
    assert record.outcome == "connected" and record.answered_by_id is not None
    # Nobody answers: the caller is offered a callback when the list runs out.
    call = SimulatedCall(base_url, AUTH_TOKEN, caller="+77017770501", to=HOTLINE)
    room = RoomPhones(call, twilio.base_url, answers={"*": "no-answer"})
    room.hold_incoming()
    heard = call.run(scripted(["2", "1"]), on_dial=VolunteerPhones(call), on_enqueue=room)
    gathers = [h for h in heard if h.kind == "gather"]
    assert "node=callback_offer" in gathers[-1].attrs["action"]
    assert record_of(env, call.call_sid).outcome == "no_answer"
