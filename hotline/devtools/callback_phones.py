"""The two phones of a callback, played from a terminal: the volunteer's, then the caller's.

When a worker places a callback's volunteer leg through the local stand-in for Twilio's REST API
(hotline.devtools.twilio_api), the leg rings there. CallbackPhones picks it up and plays Twilio's
part for both phones, as Twilio would: signed webhooks, following the TwiML the hotline returns.
The volunteer's phone is answered (by a person, or a voicemail), hears the whisper and presses a
key; on 1 the hotline dials the caller, whose phone answers (or is busy, or a voicemail); they
talk for `talk_seconds`; then the ends of both legs are reported, with their real durations.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from ..simulate import SimulatedCall
from .twilio_api import LOCAL_CALLS, post_signed

VOLUNTEER_ACTIONS = ("accept", "decline", "silent", "voicemail")
CALLER_ACTIONS = ("answer", "voicemail", "busy", "no-answer")
_KEYS = {"accept": "1", "decline": "2"}


@dataclass
class Phone:
    """What one phone saw: who rang it (caller id), what it heard, and how its leg ended."""

    who: str  # "volunteer" | "caller"
    number_tail: str  # the last two digits only: a log of a test run is a log too
    caller_id: str
    heard: list[str] = field(default_factory=list)
    pressed: list[str] = field(default_factory=list)
    outcome: str = ""


class CallbackPhones:
    """Answers the callback legs ringing at the stand-in at `api_base_url` (TWILIO_API_BASE_URL)."""

    def __init__(
        self, api_base_url: str, account_sid: str, auth_token: str, timeout: float = 15.0
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.timeout = timeout

    def wait_for_ringing(self, seconds: float) -> dict[str, Any] | None:
        """The first call ringing at the stand-in (sid, status, params), waiting up to `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            ringing = [
                c for c in self._local("GET", LOCAL_CALLS)["calls"] if c["status"] == "ringing"
            ]
            if ringing:
                return ringing[0]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.25)

    def answer(
        self,
        call: dict[str, Any],
        volunteer: str = "accept",
        caller: str = "answer",
        talk_seconds: float = 0.0,
    ) -> list[Phone]:
        """Pick up the volunteer's leg and play both phones to the end; what each phone saw."""
        sid, params = call["sid"], call["params"]
        self._local("POST", f"{LOCAL_CALLS}/{sid}/answer")
        answered = time.monotonic()
        phone = Phone("volunteer", params.get("To", "")[-2:], params.get("From", ""))
        phones = [phone]
        leg = {
            "CallSid": sid,
            "AccountSid": self.account_sid,
            "From": params.get("From", ""),
            "To": params.get("To", ""),
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallStatus": "in-progress",
        }
        answered_by = "machine_start" if volunteer == "voicemail" else "human"
        url: str | None = params["Url"]
        extra = {"AnsweredBy": answered_by}
        for _ in range(10):
            if url is None:
                break
            root = self._post(url, {**leg, **extra})
            url, extra = None, {}
            for verb in root:
                phone.heard += [h.text for h in SimulatedCall._speech(verb) if h.text]
                if verb.tag == "Gather" and volunteer in _KEYS:
                    phone.pressed.append(_KEYS[volunteer])
                    url, extra = verb.get("action", ""), {"Digits": _KEYS[volunteer]}
                    break
                if verb.tag == "Redirect":
                    url = (verb.text or "").strip()
                    break
                if verb.tag == "Dial":
                    ended = self._dial(verb, sid, leg, caller, talk_seconds, phones)
                    phone.heard += ended
                    break
                if verb.tag == "Hangup":
                    break
        phone.outcome = "hung up"
        duration = round(time.monotonic() - answered)
        status = {**leg, "CallStatus": "completed", "CallDuration": str(duration)}
        post_signed(params["StatusCallback"], status, self.auth_token, self.timeout)
        self._local("POST", f"{LOCAL_CALLS}/{sid}/end", {"CallStatus": "completed"})
        return phones

    def _dial(
        self,
        dial: ET.Element,
        parent: str,
        leg: dict[str, str],
        action: str,
        talk_seconds: float,
        phones: list[Phone],
    ) -> list[str]:
        """The volunteer's leg dials the caller; what the volunteer hears after the Dial."""
        number = dial.find("./Number")
        if number is None:
            return []
        phone = Phone("caller", (number.text or "").strip()[-2:], dial.get("callerId", ""))
        phones.append(phone)
        child = "CA" + secrets.token_hex(16)
        bridged = False
        talked = 0.0
        if action in {"busy", "no-answer"}:
            status = action
        else:
            status = "completed"
            answered_by = "machine_end_beep" if action == "voicemail" else "human"
            root = self._post(
                number.get("url", ""),
                {
                    "CallSid": child,
                    "ParentCallSid": parent,
                    "AccountSid": self.account_sid,
                    "From": dial.get("callerId", ""),
                    "To": (number.text or "").strip(),
                    "Direction": "outbound-dial",
                    "CallStatus": "in-progress",
                    "AnsweredBy": answered_by,
                    "ApiVersion": "2010-04-01",
                },
            )
            for verb in root:
                phone.heard += [h.text for h in SimulatedCall._speech(verb) if h.text]
            # An empty document bridges the legs; a <Hangup> ends the caller's leg at once.
            bridged = root.find("./Hangup") is None
            if bridged:
                started = time.monotonic()
                time.sleep(talk_seconds)
                talked = time.monotonic() - started
        phone.outcome = "connected" if bridged else status
        result = {
            **leg,
            "DialCallStatus": status,
            "DialCallSid": child,
            "DialBridged": "true" if bridged else "false",
            "DialCallDuration": str(round(talked)),
        }
        root = self._post(dial.get("action", ""), result)
        return [h.text for verb in root for h in SimulatedCall._speech(verb) if h.text]

    # -- HTTP ------------------------------------------------------------------------------------

    def _post(self, url: str, params: dict[str, str]) -> ET.Element:
        status, body = post_signed(url, params, self.auth_token, self.timeout)
        if status != 200:
            raise OSError(f"the hotline answered {status} to {urllib.parse.urlsplit(url).path}")
        return ET.fromstring(body)  # noqa: S314 - the hotline's own TwiML

    def _local(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        if method == "POST" and data is None:
            data = b""
        request = urllib.request.Request(self.api_base_url + path, data=data, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read())
