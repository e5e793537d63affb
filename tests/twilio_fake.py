"""A small stateful stand-in for Twilio: its REST API (Calls) over HTTP, and a driver for the
webhooks Twilio would send back for a callback's legs.

FakeTwilio is a real HTTP server (a thread on 127.0.0.1), so the hotline's own twilio-python client
and HTTP client are exercised exactly as in production, with TWILIO_API_BASE_URL pointing here.
CallbackLegs then plays Twilio's part: answers the volunteer's phone, presses keys, answers (or
not) the survivor's phone and reports how the legs ended, following the TwiML the hotline returns.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twiml_helpers import parse, path_and_query

_CALLS = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls\.json$")
_CALL = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls/(CA\w+)\.json$")


@dataclass
class CreatedCall:
    """One Calls.create request as the fake received it (form fields, first value each)."""

    sid: str
    params: dict[str, str]
    received_at: float  # time.perf_counter() when the request arrived
    updates: list[dict[str, str]] = field(default_factory=list)


@dataclass
class CallResource:
    """A call as Twilio keeps it in its logs (until deleted): its parent, and whether it is over."""

    sid: str
    parent: str | None = None
    in_progress: bool = False


class FakeTwilio:
    """Twilio's Calls resource on a local port: creates, updates, lists by parent and deletes.

    Every call Twilio holds is in `calls`: those created through the API, and those a test says
    Twilio has (an incoming call and the legs its <Dial> rang: add_call). A DELETE removes the
    call and is logged in `deleted`; Twilio refuses it for a call still in progress (20009) and
    answers 404 (20404) for one it does not have.
    """

    def __init__(self) -> None:
        self.created: list[CreatedCall] = []
        self.calls: dict[str, CallResource] = {}
        self.deleted: list[str] = []
        self.delete_failures: list[tuple[int, int]] = []  # (HTTP status, code) for next DELETEs
        self.failures: list[tuple[int, int]] = []  # (HTTP status, Twilio code) for the next creates
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeTwilio:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_call(self, sid: str, parent: str | None = None, in_progress: bool = False) -> None:
        """Twilio now holds this call (an incoming call, or a leg dialed from `parent`)."""
        with self._lock:
            self.calls[sid] = CallResource(sid, parent, in_progress)

    def fail_next(self, status: int = 400, code: int = 21215) -> None:
        """Answer the next Calls.create with a Twilio error (e.g. 21215: geo permissions)."""
        self.failures.append((status, code))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CreatedCall]:
        """Block until `count` calls were created; the list of them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.created) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} calls, got {len(self.created)}")
                self._arrived.wait(left)
            return list(self.created)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the test's output stays free of request lines

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if not (match := _CALLS.match(parts.path)):
                    self._json(404, {"code": 20404, "message": "not found", "status": 404})
                    return
                account = match.group(1)
                parent = parse_qs(parts.query).get("ParentCallSid", [None])[0]
                with fake._lock:
                    found = [c for c in fake.calls.values() if c.parent == parent]
                calls = [_call_json(account, c.sid, {}, "completed") for c in found]
                for call, resource in zip(calls, found, strict=True):
                    call["parent_call_sid"] = resource.parent
                page = {
                    "calls": calls,
                    "page": 0,
                    "page_size": 50,
                    "start": 0,
                    "end": max(len(calls) - 1, 0),
                    "uri": parts.path,
                    "first_page_uri": parts.path,
                    "next_page_uri": None,
                    "previous_page_uri": None,
                }
                self._json(200, page)

            def do_DELETE(self) -> None:  # noqa: N802
                match = _CALL.match(urlsplit(self.path).path)
                sid = match.group(2) if match else ""
                with fake._lock:
                    failure = fake.delete_failures.pop(0) if fake.delete_failures else None
                    call = fake.calls.get(sid)
                    if failure is None and call is not None and call.in_progress:
                        failure = (400, 20009)
                    if failure is None and call is not None:
                        del fake.calls[sid]
                        fake.deleted.append(sid)
                if failure is not None:
                    status, code = failure
                    self._json(status, {"code": code, "message": "refused", "status": status})
                elif call is None:
                    self._json(404, {"code": 20404, "message": "not found", "status": 404})
                else:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                path = urlsplit(self.path).path
                if match := _CALLS.match(path):
                    self._create(match.group(1), form)
                elif match := _CALL.match(path):
                    self._update(match.group(1), match.group(2), form)
                else:
                    self._json(404, {"code": 20404, "message": "not found", "status": 404})

            def _create(self, account: str, form: dict[str, str]) -> None:
                with fake._arrived:
                    failure = fake.failures.pop(0) if fake.failures else None
                    if failure is None:
                        sid = "CA" + secrets.token_hex(16)
                        fake.created.append(CreatedCall(sid, form, time.perf_counter()))
                        fake.calls[sid] = CallResource(sid)
                        fake._arrived.notify_all()
                if failure is not None:
                    status, code = failure
                    # Like Twilio's, the message quotes the number: the hotline must not log it.
                    message = f"The 'To' number {form.get('To')} is not allowed"
                    self._json(status, {"code": code, "message": message, "status": status})
                    return
                self._json(201, _call_json(account, sid, form, "queued"))

            def _update(self, account: str, sid: str, form: dict[str, str]) -> None:
                with fake._lock:
                    call = next((c for c in fake.created if c.sid == sid), None)
                    if call is not None:
                        call.updates.append(form)
                if call is None:
                    self._json(404, {"code": 20404, "message": "not found", "status": 404})
                    return
                self._json(200, _call_json(account, sid, call.params, form.get("Status", "")))

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _call_json(account: str, sid: str, form: dict[str, str], status: str) -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": account,
        "to": form.get("To"),
        "from": form.get("From"),
        "status": status,
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
    }


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
