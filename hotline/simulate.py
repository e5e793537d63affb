"""A stand-in for Twilio's voice side: walks a call through a running hotline over HTTP.

It signs every request as Twilio does, follows <Gather>, <Redirect> and <Hangup>, answers <Dial>
(and <Enqueue>, given a player for it: hotline.devtools.room_phones) from a script, and sends the
status callback at the end, with the call's real duration (so the dashboard shows how long the
simulated call lasted). `hotline simulate` uses it from a terminal;
the end-to-end tests use it against gunicorn.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .telephony.signature import sign


@dataclass
class Heard:
    """One thing the simulated caller heard or did, in order."""

    kind: str  # say | play | gather | redirect | hangup | dial | status
    text: str = ""
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Exchange:
    """One webhook request and its answer."""

    url: str
    params: dict[str, str]
    status: int
    body: str


class CallEnded(Exception):
    pass


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


class SimulatedCall:
    """One inbound call, driven by `keys` (a callable asked at each Gather; None means silence)."""

    def __init__(
        self,
        base_url: str,
        auth_token: str,
        caller: str = "+77010000000",
        to: str = "+77000000000",
        call_sid: str | None = None,
        account_sid: str = "AC" + "0" * 32,
        timeout: float = 15.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_token = auth_token
        self.call_sid = call_sid or new_call_sid()
        self.timeout = timeout
        self.common = {
            "CallSid": self.call_sid,
            "AccountSid": account_sid,
            "From": caller,
            "To": to,
            "Caller": caller,
            "Called": to,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        self.heard: list[Heard] = []
        self.exchanges: list[Exchange] = []

    # -- HTTP, signed like Twilio --------------------------------------------------------------

    def post(self, url: str, extra: dict[str, str] | None = None, signed: bool = True) -> Exchange:
        """POST a form to the hotline, signed with the auth token, and record the exchange."""
        params = dict(self.common, **(extra or {}))
        data = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if signed:
            request.add_header("X-Twilio-Signature", sign(url, params, self.auth_token))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                exchange = Exchange(url, params, response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            exchange = Exchange(url, params, error.code, error.read().decode())
        self.exchanges.append(exchange)
        return exchange

    # -- following TwiML -----------------------------------------------------------------------

    def run(
        self,
        keys: Callable[[Heard], str | None],
        on_dial: Callable[[ET.Element], dict[str, str]] | None = None,
        max_requests: int = 60,
        send_status: bool = True,
        on_enqueue: Callable[[ET.Element], tuple[str | None, dict[str, str]]] | None = None,
    ) -> list[Heard]:
        """Play the whole call: from /twilio/voice to a hangup or the end of the document.
        `on_enqueue` plays the time in Twilio's queue: the next URL to request and its form."""
        self._on_enqueue = on_enqueue
        started = time.monotonic()
        url: str | None = f"{self.base_url}/twilio/voice"
        extra: dict[str, str] = {}
        for _ in range(max_requests):
            if url is None:
                break
            exchange = self.post(url, extra)
            url, extra = self._follow(exchange, keys, on_dial)
        if send_status:
            # Twilio reports whole seconds, from the answer to the hangup.
            duration = str(round(time.monotonic() - started))
            self.post(
                f"{self.base_url}/twilio/status",
                {"CallStatus": "completed", "CallDuration": duration},
            )
        return self.heard

    def _follow(
        self,
        exchange: Exchange,
        keys: Callable[[Heard], str | None],
        on_dial: Callable[[ET.Element], dict[str, str]] | None,
    ) -> tuple[str | None, dict[str, str]]:
        root = ET.fromstring(exchange.body)  # noqa: S314 - our own server's answer
        if root.tag != "Response":
            raise AssertionError(f"not TwiML: {exchange.body[:200]}")
        for verb in root:
            for heard in self._speech(verb):
                self.heard.append(heard)
            if verb.tag == "Gather":
                gather = Heard("gather", attrs=dict(verb.attrib))
                self.heard.append(gather)
                digits = keys(gather)
                if digits:
                    return self._absolute(verb.get("action", exchange.url)), {"Digits": digits}
                continue  # silence: Twilio goes on to the next verb
            if verb.tag == "Redirect":
                self.heard.append(Heard("redirect", verb.text or ""))
                return self._absolute(verb.text or exchange.url), {}
            if verb.tag == "Hangup":
                self.heard.append(Heard("hangup"))
                return None, {}
            if verb.tag == "Enqueue":
                self.heard.append(Heard("enqueue", attrs=dict(verb.attrib)))
                on_enqueue = getattr(self, "_on_enqueue", None)
                if on_enqueue is None:
                    return None, {}
                return on_enqueue(verb)
            if verb.tag == "Dial":
                self.heard.append(Heard("dial", attrs=dict(verb.attrib)))
                result = on_dial(verb) if on_dial else {"DialCallStatus": "no-answer"}
                action = verb.get("action")
                if action:
                    return self._absolute(action), result
        return None, {}  # the end of the document ends the call

    @staticmethod
    def _speech(verb: ET.Element) -> Iterator[Heard]:
        targets = list(verb) if verb.tag == "Gather" else [verb]
        for element in targets:
            if element.tag == "Say":
                yield Heard("say", (element.text or "").strip(), dict(element.attrib))
            elif element.tag == "Play":
                yield Heard("play", (element.text or "").strip(), dict(element.attrib))

    def _absolute(self, url: str) -> str:
        return urllib.parse.urljoin(self.base_url + "/", url)


@dataclass
class VolunteerPhones:
    """The volunteers' side of <Dial>: how each number answers, and what each leg heard.

    `answers` maps a number to accept | decline | silent | busy | no-answer | failed; a number
    not listed does what `*` says, or accepts. `legs` records (number, callerId, whisper speech)
    per leg rung. A bridged call lasts `talk_seconds` (really: DialCallDuration is measured).
    """

    call: SimulatedCall
    answers: dict[str, str] = field(default_factory=dict)
    legs: list[tuple[str, str, str]] = field(default_factory=list)
    talk_seconds: float = 0.0

    def __call__(self, dial: ET.Element) -> dict[str, str]:
        for number in dial.iter("Number"):
            phone = (number.text or "").strip()
            action = self.answers.get(phone, self.answers.get("*", "accept"))
            if action in {"busy", "no-answer", "failed"}:
                self.legs.append((phone, dial.get("callerId", ""), ""))
                continue
            bridged, speech = self._whisper(number.get("url", ""), action)
            self.legs.append((phone, dial.get("callerId", ""), speech))
            if bridged:
                started = time.monotonic()
                time.sleep(self.talk_seconds)
                return {
                    "DialCallStatus": "completed",
                    "DialBridged": "true",
                    "DialCallDuration": str(round(time.monotonic() - started)),
                }
            return {"DialCallStatus": "completed", "DialBridged": "false"}
        last = (
            self.answers.get(self.legs[-1][0], self.answers.get("*", "no-answer"))
            if self.legs
            else "no-answer"
        )
        return {"DialCallStatus": last if last in {"busy", "failed"} else "no-answer"}

    def _whisper(self, url: str, action: str) -> tuple[bool, str]:
        """Follow the whisper on the child leg; True when it ends bridged (no <Hangup>)."""
        key = {"accept": "1", "decline": "2"}.get(action)
        leg = SimulatedCall(self.call.base_url, self.call.auth_token, caller=self.call.common["To"])
        leg.common.update(ParentCallSid=self.call.call_sid, Direction="outbound-dial")
        speech: list[str] = []
        next_url: str | None = self.call._absolute(url)
        extra: dict[str, str] = {}
        for _ in range(10):
            if next_url is None:
                break
            root = ET.fromstring(leg.post(next_url, extra).body)  # noqa: S314
            next_url, extra = None, {}
            for verb in root:
                speech.extend(h.text for h in SimulatedCall._speech(verb) if h.kind == "say")
                if verb.tag == "Gather" and key:
                    next_url, extra = self.call._absolute(verb.get("action", "")), {"Digits": key}
                    break
                if verb.tag == "Redirect":
                    next_url = self.call._absolute(verb.text or "")
                    break
                if verb.tag == "Hangup":
                    return False, " ".join(speech)
        return True, " ".join(speech)


def scripted(keys: list[str | None]) -> Callable[[Heard], str | None]:
    """Answer each Gather with the next key in the list; silence once the list runs out."""
    remaining = list(keys)

    def answer(_gather: Heard) -> str | None:
        return remaining.pop(0) if remaining else None

    return answer
