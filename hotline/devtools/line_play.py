"""`hotline simulate --line`: the waiting line and a warm transfer, played from a terminal.

Simulated callers and the local stand-in for Twilio's REST API (TWILIO_API_BASE_URL, which
`./dev run` starts). Callers are put through until every volunteer who fits is on a call (each
talks for `talk` seconds); the next caller waits in line and hears their place. When a call
ends the hotline rings that volunteer through the stand-in; this plays that phone (the whisper,
1) and the waiting caller's move into the conference. With `transfer_key` the volunteer then
presses *, hears the partner menu and presses the key; the partner's phone answers at the
stand-in and hears its whisper; the volunteer leaves and the caller talks on with the partner.
Twilio's conference status callbacks are sent as Twilio would send them. Every request is
signed like Twilio's.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from ..simulate import SimulatedCall, VolunteerPhones
from .twilio_api import LOCAL_CALLS, post_signed

Say = Callable[[str], None]


class LinePlay:
    """One play of the line (and, if asked, a transfer) against a running hotline."""

    def __init__(self, base_url: str, api_base_url: str, auth_token: str, say: Say) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = api_base_url.rstrip("/")
        self.auth_token = auth_token
        self.say = say
        self.conference_sid = "CF" + secrets.token_hex(16)
        self._sequence = 0

    # -- the stand-in -------------------------------------------------------------------------

    def _local(self, method: str, path: str) -> dict[str, Any]:
        data = b"" if method == "POST" else None
        request = urllib.request.Request(self.api + path, method=method, data=data)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return dict(json.loads(response.read() or b"{}"))

    def _wait_for(self, test: Callable[[], Any], seconds: float, what: str) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = test()
            if found:
                return found
            time.sleep(0.2)
        raise TimeoutError(f"no {what} within {seconds:.0f} s")

    def _new_call(self, seen: set[str]) -> dict[str, Any] | None:
        for call in self._local("GET", LOCAL_CALLS)["calls"]:
            if call["sid"] not in seen and call["status"] == "ringing":
                return call
        return None

    def _post(self, url: str, params: dict[str, str]) -> ET.Element:
        full = url if url.startswith("http") else self.base_url + url
        status, body = post_signed(full, params, self.auth_token)
        if status != 200:
            raise RuntimeError(f"{full} answered {status}")
        return ET.fromstring(body)  # noqa: S314 - the hotline's own answer

    def _heard(self, who: str, root: ET.Element) -> None:
        for element in root.iter():
            if element.tag == "Say" and element.text:
                self.say(f"  {who} hears: {element.text.strip()}")
            elif element.tag == "Play":
                self.say(f"  {who} hears a recording")

    def _leg(self, call: dict[str, Any], **extra: str) -> dict[str, str]:
        return {
            "CallSid": call["sid"], "AccountSid": "AC" + "0" * 32,
            "From": call["params"].get("From", ""), "To": call["params"].get("To", ""),
            "Direction": "outbound-api", "CallStatus": "in-progress", "ApiVersion": "2010-04-01",
            **extra,
        }  # fmt: skip

    def _room_event(self, status_url: str, room: str, kind: str, leg: str) -> None:
        self._sequence += 1
        self._post(status_url, {
            "AccountSid": "AC" + "0" * 32, "ConferenceSid": self.conference_sid,
            "FriendlyName": room, "StatusCallbackEvent": kind, "CallSid": leg,
            "SequenceNumber": str(self._sequence),
        })  # fmt: skip

    # -- the play -----------------------------------------------------------------------------

    def play(self, keys: str = "2,1", talk: float = 3.0, transfer_key: str | None = None) -> int:
        """Play it all; 0 when the waiting caller reached the volunteer (and the partner)."""
        key_list = [k or None for k in keys.split(",")]
        talking: list[threading.Thread] = []
        second: SimulatedCall | None = None
        root: ET.Element | None = None
        # Callers are put through until every volunteer who fits is busy; the next one waits.
        for number in range(1, 11):
            call = SimulatedCall(self.base_url, self.auth_token, caller=f"+7701000000{number - 1}")
            self._local("POST", f"{LOCAL_CALLS}/{call.call_sid}/hold")  # Twilio holds the call
            rung_before = {c["sid"] for c in self._local("GET", LOCAL_CALLS)["calls"]}
            root = self._walk(call, list(key_list))
            dial = root.find("./Dial")
            # A free volunteer is rung through the REST API before routing answers (the caller
            # then waits in the Enqueue for the room); <Dial> is the fallback.
            leg = self._new_call(rung_before) if root.find("./Enqueue") is not None else None
            if dial is None and leg is None:
                second = call
                break
            self.say(f"Caller {number} (CallSid {call.call_sid}) is put through and talks.")
            target, args = (self._talk, (call, dial, talk)) if leg is None else (
                self._talk_in_room, (call, leg, talk))  # fmt: skip
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            talking.append(thread)
            time.sleep(0.5)  # the volunteer hears the whisper and presses 1
        if second is None or root is None:
            self.say("  (ten callers were all put through: too many volunteers free to wait)")
            return 1
        seen = {c["sid"] for c in self._local("GET", LOCAL_CALLS)["calls"]}
        enqueue = root.find("./Enqueue")
        self.say(f"The next caller (CallSid {second.call_sid}) calls while they talk.")
        if enqueue is None or not talking:
            self._heard("the caller", root)
            self.say("  (not put in line: nobody who fits is on shift, or the line is off)")
            return 1
        wait = self._post(enqueue.get("waitUrl", ""), dict(second.common, QueueTime="0"))
        self._heard("the waiting caller", wait)
        self.say(f"  ... waiting quietly; the other calls last {talk:.0f} s")
        leg = self._wait_for(lambda: self._new_call(seen), talk + 30, "line leg rung")
        self.say("A call ended. The hotline rings that volunteer for the waiting caller:")
        self._local("POST", f"{LOCAL_CALLS}/{leg['sid']}/answer")
        whisper = self._post(leg["params"]["Url"], self._leg(leg, AnsweredBy="human"))
        self._heard("the volunteer", whisper)
        gather = whisper.find("./Gather")
        assert gather is not None
        self.say("  > 1")
        room_doc = self._post(gather.get("action", ""), self._leg(leg, Digits="1"))
        dial = room_doc.find("./Dial")
        if dial is None or dial.find("./Conference") is None:
            self.say("  (the volunteer was not put in a conference)")
            return 1
        moved = self._wait_for(
            lambda: self._local("GET", f"{LOCAL_CALLS}/{second.call_sid}")["updates"], 10,
            "caller moved into the conference",
        )  # fmt: skip
        joined = self._post(moved[-1]["Url"], second.common)
        self._heard("the waiting caller", joined)
        conference = dial.find("./Conference")
        assert conference is not None
        room, status_url = conference.text or "", conference.get("statusCallback", "")
        self._room_event(status_url, room, "participant-join", leg["sid"])
        self._room_event(status_url, room, "participant-join", second.call_sid)
        self.say("  -- the waiting caller and the volunteer are talking, in a conference --")
        status = 0
        if transfer_key:
            status = self._transfer(dial, leg, second, room, status_url, transfer_key, seen)
        self._post("/twilio/status", dict(second.common, CallStatus="completed"))
        self._post(leg["params"]["StatusCallback"], self._leg(leg, CallStatus="completed"))
        return status

    def _talk(self, call: SimulatedCall, dial: ET.Element, talk: float) -> None:
        """A caller put through: the volunteer's phone answers, they talk, both hang up."""
        result = VolunteerPhones(call, talk_seconds=talk)(dial)
        self._post(dial.get("action", ""), dict(call.common, **result))
        self._post("/twilio/status", dict(call.common, CallStatus="completed"))

    def _talk_in_room(self, call: SimulatedCall, leg: dict[str, Any], talk: float) -> None:
        """A caller put through in a conference: the volunteer's phone (rung through the REST
        API) answers, hears the whisper and presses 1; the caller is moved in; both hang up."""
        self._local("POST", f"{LOCAL_CALLS}/{leg['sid']}/answer")
        whisper = self._post(leg["params"]["Url"], self._leg(leg, AnsweredBy="human"))
        gather = whisper.find("./Gather")
        if gather is None:
            return
        self._post(gather.get("action", ""), self._leg(leg, Digits="1"))
        moved = self._wait_for(
            lambda: self._local("GET", f"{LOCAL_CALLS}/{call.call_sid}")["updates"], 10,
            "caller moved into the conference",
        )  # fmt: skip
        self._post(moved[-1]["Url"], call.common)
        time.sleep(talk)
        self._post("/twilio/status", dict(call.common, CallStatus="completed"))
        self._post(leg["params"]["StatusCallback"], self._leg(leg, CallStatus="completed"))

    def _walk(self, call: SimulatedCall, keys: list[str | None]) -> ET.Element:
        root = self._post("/twilio/voice", call.common)
        for _ in range(8):
            gather, redirect = root.find("./Gather"), root.find("./Redirect")
            if gather is not None and keys:
                key = keys.pop(0) or ""
                root = self._post(gather.get("action", ""), dict(call.common, Digits=key))
            elif redirect is not None:
                root = self._post(redirect.text or "", call.common)
            else:
                break
        return root

    def _transfer(self, dial: ET.Element, leg: dict[str, Any], caller: SimulatedCall,
                  room: str, status_url: str, key: str, seen: set[str]) -> int:  # fmt: skip
        self.say("The volunteer presses *:")
        seen.add(leg["sid"])
        menu = self._post(dial.get("action", ""), self._leg(leg))
        self._heard("the volunteer", menu)
        gather = menu.find("./Gather")
        if gather is None:
            return 1
        self.say(f"  > {key}")
        calling = self._post(gather.get("action", ""), self._leg(leg, Digits=key))
        self._heard("the volunteer", calling)
        partner = self._wait_for(lambda: self._new_call(seen), 10, "partner rung")
        self.say(f"The partner's phone rings (from {partner['params'].get('From')}):")
        self._local("POST", f"{LOCAL_CALLS}/{partner['sid']}/answer")
        whisper = self._post(partner["params"]["Url"], self._leg(partner, AnsweredBy="human"))
        self._heard("the partner", whisper)
        self._room_event(status_url, room, "participant-join", partner["sid"])
        self.say("  -- the partner is in the room; the caller is off hold --")
        self.say("The volunteer introduces the caller and hangs up; the caller and partner talk.")
        self._room_event(status_url, room, "participant-leave", leg["sid"])
        self._post(leg["params"]["StatusCallback"], self._leg(leg, CallStatus="completed"))
        self._post(partner["params"]["StatusCallback"], self._leg(partner, CallStatus="completed"))
        return 0
