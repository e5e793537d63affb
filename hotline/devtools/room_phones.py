"""The volunteers' phones for a call bridged in a conference, played at the local stand-in.

A caller for whom a volunteer is free waits in the hotline's <Enqueue> while the hotline rings the
volunteer through the REST API (the stand-in, TWILIO_API_BASE_URL). RoomPhones plays what Twilio
and the phones would do: each leg rung for this caller answers as `answers` says (accept, decline,
silent, voicemail, busy, no-answer, failed; `*` for any other number; accept by default), the wait
document is fetched again as Twilio fetches it, and when the volunteer presses 1 the caller follows
the Calls update into the room, talks for `talk_seconds`, and the volunteer hangs up. It is the
<Enqueue> counterpart of hotline.simulate.VolunteerPhones (which plays <Dial><Number>).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from ..simulate import SimulatedCall
from .twilio_api import LOCAL_CALLS, post_signed

WAIT_POLL_SECONDS = 1.0  # how often the wait document is fetched again (Twilio: when it ends)
GIVE_UP_SECONDS = 300.0


@dataclass
class RoomPhones:
    """Plays an <Enqueue>d call's volunteers; `legs` as VolunteerPhones: (number, from, whisper)."""

    call: SimulatedCall
    api_base_url: str
    answers: dict[str, str] = field(default_factory=dict)
    talk_seconds: float = 0.0
    legs: list[tuple[str, str, str]] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _in_room: dict[str, Any] | None = None  # the leg that pressed 1 and waits in the room

    def __call__(self, enqueue: ET.Element) -> tuple[str | None, dict[str, str]]:
        """Wait in the queue until the caller is moved into the room (the call then ends after
        the talk) or the wait document says <Leave/> (the Enqueue action is next)."""
        wait_url = self.call._absolute(enqueue.get("waitUrl", ""))
        action = self.call._absolute(enqueue.get("action", ""))
        started = time.monotonic()
        next_poll = 0.0
        while time.monotonic() - started < GIVE_UP_SECONDS:
            for leg in self._new_legs():
                self._play(leg)
            moved = self._local("GET", f"{LOCAL_CALLS}/{self.call.call_sid}")["updates"]
            if moved:
                self._in_the_room(moved[-1]["Url"])
                return None, {}
            if time.monotonic() >= next_poll:
                queued = str(int(time.monotonic() - started))
                root = self._post_caller(wait_url, {"QueueTime": queued})
                if root.find("./Leave") is not None:
                    return action, {"QueueResult": "leave"}
                next_poll = time.monotonic() + WAIT_POLL_SECONDS
            time.sleep(0.1)
        return action, {"QueueResult": "hangup"}

    # -- the stand-in ---------------------------------------------------------------------------

    def hold_incoming(self) -> None:
        """Tell the stand-in that Twilio holds the caller's call (so it can be moved)."""
        self._local("POST", f"{LOCAL_CALLS}/{self.call.call_sid}/hold")

    def _local(self, method: str, path: str, form: dict[str, str] | None = None) -> dict[str, Any]:
        data = urllib.parse.urlencode(form or {}).encode() if method == "POST" else None
        url = self.api_base_url.rstrip("/") + path
        request = urllib.request.Request(url, method=method, data=data)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return dict(json.loads(response.read() or b"{}"))

    def _new_legs(self) -> list[dict[str, Any]]:
        found = []
        for leg in self._local("GET", LOCAL_CALLS)["calls"]:
            rung_for = leg["params"].get("Url", "")
            if leg["sid"] in self._seen or f"call={self.call.call_sid}" not in rung_for:
                continue
            if leg["status"] in ("queued", "ringing"):
                self._seen.add(leg["sid"])
                found.append(leg)
        return found

    # -- the phones -----------------------------------------------------------------------------

    def _leg_form(self, leg: dict[str, Any], **extra: str) -> dict[str, str]:
        return {
            "CallSid": leg["sid"], "AccountSid": self.call.common["AccountSid"],
            "From": leg["params"].get("From", ""), "To": leg["params"].get("To", ""),
            "Direction": "outbound-api", "CallStatus": "in-progress", "ApiVersion": "2010-04-01",
            **extra,
        }  # fmt: skip

    def _post(self, url: str, form: dict[str, str]) -> ET.Element:
        status, body = post_signed(self.call._absolute(url), form, self.call.auth_token)
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        return ET.fromstring(body)  # noqa: S314 - the hotline's own answer

    def _post_caller(self, url: str, extra: dict[str, str]) -> ET.Element:
        exchange = self.call.post(self.call._absolute(url), extra)
        return ET.fromstring(exchange.body)  # noqa: S314 - the hotline's own answer

    def _play(self, leg: dict[str, Any]) -> None:
        phone = leg["params"].get("To", "")
        caller_id = leg["params"].get("From", "")
        how = self.answers.get(phone, self.answers.get("*", "accept"))
        status_url = leg["params"].get("StatusCallback", "")
        if how in ("busy", "no-answer", "failed"):
            self._local("POST", f"{LOCAL_CALLS}/{leg['sid']}/end", {"CallStatus": how})
            self.legs.append((phone, caller_id, ""))
            self._post(status_url, self._leg_form(leg, CallStatus=how))
            return
        self._local("POST", f"{LOCAL_CALLS}/{leg['sid']}/answer")
        answered_by = "machine_start" if how == "voicemail" else "human"
        root = self._post(leg["params"]["Url"], self._leg_form(leg, AnsweredBy=answered_by))
        key = {"accept": "1", "decline": "2"}.get(how)
        heard: list[str] = []
        for _ in range(6):
            heard.extend((e.text or "").strip() for e in root.iter("Say"))
            gather, redirect = root.find("./Gather"), root.find("./Redirect")
            if gather is not None and key:
                root = self._post(gather.get("action", ""), self._leg_form(leg, Digits=key))
                key = None
                continue
            if gather is None and redirect is not None:
                root = self._post(redirect.text or "", self._leg_form(leg))
                continue
            if gather is not None:  # silence: the Gather's own redirect, as Twilio follows it
                root = self._post(gather.get("action", ""), self._leg_form(leg))
                continue
            break
        self.legs.append((phone, caller_id, " ".join(h for h in heard if h)))
        if root.find("./Dial/Conference") is None:  # hung up on: the leg is over
            self._local("POST", f"{LOCAL_CALLS}/{leg['sid']}/end", {"CallStatus": "completed"})
            self._post(status_url, self._leg_form(leg, CallStatus="completed", CallDuration="5"))
        else:
            self._in_room = leg

    def _in_the_room(self, join_url: str) -> None:
        """The caller follows the Calls update into the room; they talk; the volunteer hangs up."""
        self._post_caller(join_url, {})
        time.sleep(self.talk_seconds)
        leg = self._in_room
        if leg is not None:
            self._local("POST", f"{LOCAL_CALLS}/{leg['sid']}/end", {"CallStatus": "completed"})
            duration = str(round(self.talk_seconds))
            form = self._leg_form(leg, CallStatus="completed", CallDuration=duration)
            self._post(leg["params"]["StatusCallback"], form)
