"""The local stand-in for Twilio's REST API (what `./dev run` starts and the tests' FakeTwilio is):
its answers checked against Twilio's own OpenAPI spec, and its phones that ring out like Twilio's.

Prism runs as a validating proxy in front of the stand-in: the hotline's own REST client talks to
Prism, Prism checks each request and each of the stand-in's answers against the vendored spec and
answers 500 (naming the violations) when an answer does not conform.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from faults import DelayProxy
from prism import running_prism
from support import test_env

import hotline.devtools.twilio_api as twilio_api
from hotline.callbacks.runtime import DialError
from hotline.devtools.twilio_api import LocalTwilio
from hotline.settings import Settings
from hotline.telephony.rest_client import TwilioCalls, make_twilio_client
from hotline.telephony.signature import sign

ACCOUNT = "AC" + "2" * 32
TOKEN = "local-stand-in-token-0123456789"
VOLUNTEER = "+77011110001"
HOTLINE = Settings.from_env(test_env()).hotline_phone_number


class LocalServer:
    """A threaded HTTP server on a free port of this host, serving `handler`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Webhooks(LocalServer):
    """A tiny HTTP server standing in for the hotline's status callback URL: records each POST."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], str]] = []
        self.arrived = threading.Event()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                hooks.received.append((self.path, form, self.headers["X-Twilio-Signature"]))
                hooks.arrived.set()
                self.send_response(204)
                self.end_headers()

        super().__init__(Handler)


@pytest.fixture
def webhooks() -> Iterator[Webhooks]:
    hooks = Webhooks()
    yield hooks
    hooks.close()


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LocalTwilio]:
    with LocalTwilio(ACCOUNT, TOKEN, rings=True) as twilio:
        yield twilio


@pytest.fixture(scope="module")
def validated_url(stand_in: LocalTwilio, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = Path(tmp_path_factory.mktemp("prism-proxy")) / "prism.log"
    with running_prism(log, upstream=stand_in.base_url) as url:
        yield url


def twilio_client(base_url: str, token: str = TOKEN) -> Any:
    settings = Settings.from_env(
        test_env(TWILIO_API_BASE_URL=base_url, TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_AUTH_TOKEN=token)
    )
    return make_twilio_client(settings)


def calls_to(base_url: str, token: str = TOKEN) -> TwilioCalls:
    return TwilioCalls(twilio_client(base_url, token), HOTLINE)


def place(calls: TwilioCalls, status_url: str, timeout: int = 25) -> str:
    return calls.call_volunteer(
        to=VOLUNTEER,
        url="https://hotline.example.org/twilio/callback/volunteer?request=1&attempt=1",
        status_callback=status_url,
        timeout=timeout,
    )


def test_the_stand_ins_answers_match_twilios_spec(
    stand_in: LocalTwilio, validated_url: str, webhooks: Webhooks
) -> None:
    calls = calls_to(validated_url)
    sid = place(calls, f"{webhooks.url}/status")  # Prism: 500 if the 201 broke the spec
    assert sid.startswith("CA") and len(sid) == 34
    fetched = calls.client.calls(sid).fetch()  # GET, validated the same way
    assert fetched.status == "ringing" and fetched.to == VOLUNTEER
    calls.hang_up(sid)  # POST Status=completed, validated too
    assert stand_in.created[-1].updates == [{"Status": "completed"}]


def test_the_stand_ins_answer_to_a_redirect_matches_twilios_spec(
    stand_in: LocalTwilio, validated_url: str
) -> None:
    # A caller waiting in line (an incoming call Twilio holds) moved into the conference.
    sid = "CA" + "e" * 32
    stand_in.add_call(sid, in_progress=True)
    join = f"https://hotline.example.org/twilio/line/join?call={sid}"
    calls_to(validated_url).redirect(sid, join, timeout=5.0)  # Prism: 500 if the 200 broke it
    (update,) = stand_in.call(sid).updates
    assert update == {"Url": join, "Method": "POST"}


def test_the_stand_ins_answer_to_a_participant_hold_matches_twilios_spec(
    stand_in: LocalTwilio, validated_url: str
) -> None:
    sid, conference = "CA" + "f" * 32, "CF" + "f" * 32
    stand_in.add_call(sid, in_progress=True)
    hold_url = f"https://hotline.example.org/twilio/transfer/hold?call={sid}"
    calls_to(validated_url).hold(conference, sid, True, hold_url)  # Prism: 500 if the 200 broke it
    calls_to(validated_url).hold(conference, sid, False)
    assert [(c, s, f.get("Hold")) for c, s, f in stand_in.participant_updates[-2:]] == [
        (conference, sid, "true"),
        (conference, sid, "false"),
    ]


def test_the_control_an_answer_that_breaks_the_spec_is_refused(
    validated_url: str, webhooks: Webhooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control for the test above: Prism does check the stand-in's answers.
    original = twilio_api.call_resource

    def broken(account: str, call: Any) -> dict[str, Any]:
        return {**original(account, call), "status": "ringing-ish"}

    monkeypatch.setattr(twilio_api, "call_resource", broken)
    with pytest.raises(DialError) as error:
        place(calls_to(validated_url), f"{webhooks.url}/status")
    assert error.value.code == "twilio:500"


def test_wrong_credentials_are_refused_as_twilio_does(stand_in: LocalTwilio) -> None:
    with pytest.raises(DialError) as error:
        place(calls_to(stand_in.base_url, token="not-the-token"), "http://127.0.0.1:9/status")
    assert error.value.code == "twilio:20003"


def test_a_call_nobody_answers_rings_out_and_reports_no_answer_signed(
    stand_in: LocalTwilio, webhooks: Webhooks
) -> None:
    status_url = f"{webhooks.url}/twilio/callback/volunteer-status?request=7&attempt=9"
    sid = place(calls_to(stand_in.base_url), status_url, timeout=1)
    assert webhooks.arrived.wait(10), "no status callback after the ring timeout"
    ((path, form, signature),) = webhooks.received
    assert path == "/twilio/callback/volunteer-status?request=7&attempt=9"
    assert form["CallSid"] == sid and form["CallStatus"] == "no-answer"
    assert signature == sign(status_url, form, TOKEN)  # the hotline will accept it
    assert stand_in.answer(sid) is None  # too late to pick it up


def test_an_answered_call_does_not_ring_out(stand_in: LocalTwilio, webhooks: Webhooks) -> None:
    answered = place(calls_to(stand_in.base_url), f"{webhooks.url}/answered", timeout=1)
    picked = requests.post(f"{stand_in.base_url}/_local/calls/{answered}/answer", timeout=5)
    assert picked.status_code == 200 and picked.json()["status"] == "in-progress"
    again = requests.post(f"{stand_in.base_url}/_local/calls/{answered}/answer", timeout=5)
    assert again.status_code == 409  # one phone, picked up once
    assert not webhooks.arrived.wait(2.5)  # past its 1 s ring timeout: no no-answer report


def test_hanging_up_a_ringing_call_reports_it_canceled(
    stand_in: LocalTwilio, webhooks: Webhooks
) -> None:
    calls = calls_to(stand_in.base_url)
    ringing = place(calls, f"{webhooks.url}/ringing", timeout=30)
    calls.hang_up(ringing)
    assert webhooks.arrived.wait(10)
    ((path, form, _signature),) = webhooks.received
    assert path == "/ringing" and form["CallStatus"] == "canceled"


def test_the_stand_in_lists_a_calls_legs_and_deletes_them_as_twilios_spec_says(
    stand_in: LocalTwilio, validated_url: str, webhooks: Webhooks
) -> None:
    calls = calls_to(validated_url)
    parent = place(calls, f"{webhooks.url}/status")
    legs = ["CA" + "d" * 32, "CA" + "e" * 32]
    for leg in legs:
        stand_in.add_call(leg, parent=parent)
    assert sorted(calls.child_call_sids(parent)) == legs  # GET Calls.json?ParentCallSid=, validated
    for sid in [*legs, parent]:
        assert calls.delete_call(sid) is True  # DELETE .../Calls/{Sid}.json: 204, validated
    assert calls.child_call_sids(parent) == []
    assert not {parent, *legs} & set(stand_in.held())
    assert stand_in.deleted[-3:] == [*legs, parent]


def test_the_stand_in_refuses_to_delete_a_call_in_progress_and_forgets_a_deleted_one(
    stand_in: LocalTwilio,
) -> None:
    from hotline.calllog.twilio_purge import PurgeError

    calls = calls_to(stand_in.base_url)  # Twilio's errors are not in its spec: not proxied
    sid = "CA" + "f" * 32
    stand_in.add_call(sid, in_progress=True)
    with pytest.raises(PurgeError) as error:
        calls.delete_call(sid)
    assert error.value.code == "twilio:20009"
    stand_in.add_call(sid)  # it has ended
    assert calls.delete_call(sid) is True
    assert calls.delete_call(sid) is False  # 404: deleted already


def _url_of(proxy: DelayProxy) -> str:
    return f"http://127.0.0.1:{proxy.port}"


def test_rings_with_a_budget_share_one_connection_to_twilio(
    stand_in: LocalTwilio, webhooks: Webhooks
) -> None:
    """The route step rings a volunteer with a time budget: each ring opening its own TCP (and,
    at Twilio, TLS) connection cost a quarter of the step's time."""
    proxy = DelayProxy("127.0.0.1", int(stand_in.base_url.rsplit(":", 1)[1]))
    try:
        calls = calls_to(_url_of(proxy))
        for _ in range(3):
            calls.call_volunteer(
                to=VOLUNTEER, url="https://hotline.example.org/twilio/line/whisper",
                status_callback=f"{webhooks.url}/status", timeout=30, request_timeout=2.0,
            )  # fmt: skip
        assert proxy.connections == 1
    finally:
        proxy.close()


def test_a_ring_with_a_budget_gives_up_on_a_slow_twilio_and_the_next_waits_as_long_as_it_may(
    stand_in: LocalTwilio, webhooks: Webhooks
) -> None:
    proxy = DelayProxy("127.0.0.1", int(stand_in.base_url.rsplit(":", 1)[1]))
    try:
        calls = calls_to(_url_of(proxy))
        proxy.delay = 0.6  # each way: an answer takes 1.2 s
        started = time.monotonic()
        with pytest.raises(DialError) as error:
            calls.call_volunteer(
                to=VOLUNTEER, url="https://hotline.example.org/twilio/line/whisper",
                status_callback=f"{webhooks.url}/status", timeout=30, request_timeout=0.4,
            )  # fmt: skip
        assert error.value.code == "network"
        assert time.monotonic() - started < 1.0  # the webhook's budget held
        # Without a budget (a worker's ring) the same client waits for Twilio's answer.
        assert place(calls, f"{webhooks.url}/status").startswith("CA")
    finally:
        proxy.close()


class HangingUpTwilio:
    """A server that reads each request and closes the connection without answering: what a
    Twilio edge restarting mid-request looks like to the client."""

    def __init__(self) -> None:
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                if connection.recv(65536):
                    self.requests += 1

    def close(self) -> None:
        self.listener.close()


def test_a_ring_whose_connection_drops_is_sent_once_and_fails_as_network() -> None:
    """Calls.create is not idempotent: a client retrying on its own would ring a phone twice."""
    twilio = HangingUpTwilio()
    try:
        with pytest.raises(DialError) as error:
            place(calls_to(twilio.url), "https://hotline.example.org/twilio/line/leg-status")
        assert error.value.code == "network"
        time.sleep(0.3)  # a retry would arrive now
        assert twilio.requests == 1
    finally:
        twilio.close()


class RecordingTwilio(LocalServer):
    """An HTTP server answering every POST with a new call's JSON, noting what it received."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
                seen.update(path=self.path, body=parse_qs(raw), type=self.headers["Content-Type"])
                seen["auth"] = self.headers["Authorization"]
                payload = b'{"sid": "CA' + b"a" * 32 + b'"}'
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        super().__init__(Handler)


def test_the_ring_reaches_twilio_as_a_form_with_repeated_keys_and_basic_auth() -> None:
    """What requests sent before: a list as repeated keys, no empty parameter, Basic auth."""
    twilio = RecordingTwilio()
    try:
        twilio_client(twilio.url).calls.create(
            to=VOLUNTEER, from_="+77270000000", url="https://h.example.org/x",
            status_callback_event=["initiated", "completed"],
        )  # fmt: skip
    finally:
        twilio.close()
    seen = twilio.seen
    assert seen["body"]["StatusCallbackEvent"] == ["initiated", "completed"]
    assert seen["body"]["To"] == [VOLUNTEER]
    assert "Timeout" not in seen["body"]  # twilio-python's unset values are not sent
    assert seen["type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert seen["auth"] == f"Basic {expected}"


def test_the_rest_calls_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = RecordingTwilio()  # answers as Twilio would, through the proxy
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        # twilio.invalid resolves nowhere: only a proxy can carry the request.
        sid = calls_to("http://twilio.invalid").call_volunteer(
            to=VOLUNTEER, url="https://h.example.org/x", status_callback="https://h.example.org/s",
            timeout=25,
        )  # fmt: skip
    finally:
        proxy.close()
    assert sid.startswith("CA")
    assert proxy.seen["path"].startswith(f"http://twilio.invalid/2010-04-01/Accounts/{ACCOUNT}/")
