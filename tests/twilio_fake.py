"""Twilio for the tests: its REST API (Calls) over HTTP, and a driver for the webhooks Twilio would
send back for a callback's legs.

FakeTwilio is the project's local stand-in (hotline.devtools.twilio_api.LocalTwilio, the one
`./dev run` starts), quiet and with phones that never ring by themselves: a real HTTP server, so the
hotline's own twilio-python client and HTTP client are exercised exactly as in production, with
TWILIO_API_BASE_URL pointing there. Its answers are checked against Twilio's OpenAPI spec in
tests/integration/test_twilio_contract.py. CallbackLegs then plays Twilio's part step by step:
answers the volunteer's phone, presses keys, answers (or not) the survivor's phone and reports how
the legs ended, following the TwiML the hotline returns.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import Any

from twiml_helpers import parse, path_and_query

from hotline.devtools.calls import CreatedCall
from hotline.devtools.twilio_api import LocalTwilio

__all__ = ["CallbackLegs", "CreatedCall", "FakeTwilio"]


class FakeTwilio(LocalTwilio):
    """Twilio's Calls resource for a test: any credentials, no ringing timers, no output."""


class CallbackLegs:
    """Plays Twilio's side of one callback, posting signed webhooks to the app's test client."""

    def __init__(self, twilio: Any, created: CreatedCall) -> None:
        self.twilio = twilio  # conftest.TwilioWebhooks
        self.created = created
        self.volunteer_sid = created.sid
        self.caller_sid = "CA" + secrets.token_hex(16)
        self.root: ET.Element | None = None  # the last TwiML the app returned
        self.dial: ET.Element | None = None  # the last <Dial> the app returned

    def _leg_params(self, **extra: str) -> dict[str, str]:
        return {
            "CallSid": self.volunteer_sid,
            "AccountSid": "AC" + "1" * 32,
            "From": self.created.params["From"],
            "To": self.created.params["To"],
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallStatus": "in-progress",
            **extra,
        }

    def _post(self, url: str, params: dict[str, str]) -> ET.Element:
        response = self.twilio.post(path_and_query(url), params)
        assert response.status_code == 200, response.data
        self.root = parse(response.data)
        dial = self.root.find("./Dial")
        self.dial = dial if dial is not None else self.dial
        return self.root

    def volunteer_answers(self, answered_by: str = "human") -> ET.Element:
        """The volunteer's phone is picked up (AMD reports `answered_by`); the whisper TwiML."""
        return self._post(self.created.params["Url"], self._leg_params(AnsweredBy=answered_by))

    def volunteer_presses(self, digits: str) -> ET.Element:
        """Keys pressed in the whisper's Gather (empty: silence, following the Redirect)."""
        assert self.root is not None
        if digits:
            url = self.root.find("./Gather").get("action")
            return self._post(url, self._leg_params(Digits=digits))
        return self._post(self.root.find("./Redirect").text, self._leg_params())

    def dialed_number(self) -> ET.Element:
        """The <Number> the volunteer's leg dials."""
        assert self.dial is not None, "the app returned no <Dial>"
        number = self.dial.find("./Number")
        assert number is not None
        return number

    def caller_answers(self, answered_by: str = "human") -> ET.Element:
        """The survivor's phone is picked up; Twilio fetches <Number url> with AnsweredBy."""
        params = {
            "CallSid": self.caller_sid,
            "ParentCallSid": self.volunteer_sid,
            "AccountSid": "AC" + "1" * 32,
            "Direction": "outbound-dial",
            "CallStatus": "in-progress",
            "AnsweredBy": answered_by,
            "ApiVersion": "2010-04-01",
        }
        return self._post(self.dialed_number().get("url"), params)

    def dial_ends(self, status: str = "completed", bridged: bool = True) -> ET.Element:
        """The <Dial> on the volunteer's leg ended; Twilio requests its action."""
        assert self.dial is not None, "the app returned no <Dial>"
        params = self._leg_params(
            DialCallStatus=status, DialCallSid=self.caller_sid, DialBridged=str(bridged).lower()
        )
        return self._post(self.dial.get("action"), params)

    def volunteer_leg_ends(self, status: str = "completed") -> ET.Element:
        """The status callback for the volunteer's leg."""
        params = self._leg_params(CallStatus=status, CallDuration="42")
        return self._post(self.created.params["StatusCallback"], params)

    def full_call(self) -> None:
        """The happy path: the volunteer accepts, the survivor answers, they talk, both hang up."""
        self.volunteer_answers()
        self.volunteer_presses("1")
        self.caller_answers()
        self.dial_ends("completed", bridged=True)
        self.volunteer_leg_ends("completed")
