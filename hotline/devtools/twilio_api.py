"""A local stand-in for Twilio's REST API (the Calls resource), with phones that ring.

LocalTwilio is a real HTTP server on 127.0.0.1, so the hotline's own twilio-python client is used
exactly as in production, with TWILIO_API_BASE_URL pointing here. Calls.create answers 201 with a
call resource shaped as in Twilio's OpenAPI spec (the tests check it against the vendored copy).

With `rings=True` (as `./dev run` starts it) a created call rings like a real phone: until someone
answers it through the `/_local/calls/{sid}/answer` endpoint (`hotline simulate --answer-callback`
does, then plays that phone's side), or until its Timeout passes, when the stand-in sends the call's
StatusCallback with CallStatus=no-answer, signed with the auth token as Twilio signs it.

A conference participant (a call the stand-in knows) can be updated (`Hold`, `HoldUrl`: a caller
put on hold while the volunteer picks a partner). Calls can be listed by ParentCallSid and deleted
(`DELETE .../Calls/{Sid}.json`, 204), as the
hotline's Twilio purge does; a call in progress is refused with Twilio's error 20009. Calls placed
by Twilio itself rather than through the API (an incoming call, the legs its <Dial> rings) are
added with add_call().

    python -m hotline.devtools.twilio_api --port 5010     # credentials from the environment

Not a Twilio emulator: no TwiML is fetched by the stand-in itself, and nothing is ever dialed.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..telephony.signature import sign
from .calls import FINAL, CreatedCall, call_resource, participant_resource

_CALLS = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls\.json$")
_CALL = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls/(CA\w+)\.json$")
_PARTICIPANT = re.compile(
    r"^/2010-04-01/Accounts/(AC\w+)/Conferences/(CF\w+)/Participants/(CA\w+)\.json$"
)
_LOCAL_CALL = re.compile(r"^/_local/calls/(CA\w+)/(answer|end|hold)$")
_LOCAL_ONE = re.compile(r"^/_local/calls/(CA\w+)$")
LOCAL_CALLS = "/_local/calls"
DEFAULT_TIMEOUT_SECONDS = 60  # Twilio's default ring time for Calls.create


class LocalTwilio:
    """Twilio's Calls resource on a local port: records creates and updates, answers 201/200."""

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        rings: bool = False,
        port: int = 0,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token  # None: any credentials are accepted (the tests' fake)
        self.rings = rings
        self.say = say or (lambda _line: None)
        self.created: list[CreatedCall] = []
        self.added: list[CreatedCall] = []  # calls Twilio placed itself (add_call)
        self.deleted: list[str] = []  # sids, in the order DELETE removed them
        self.failures: list[tuple[int, int]] = []  # (HTTP status, Twilio code) for the next creates
        # Participant updates (hold, unhold): (conference sid, call sid, form), in order.
        self.participant_updates: list[tuple[str, str, dict[str, str]]] = []
        self.delete_failures: list[tuple[int, int]] = []  # (HTTP status, code) for next DELETEs
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._timers: dict[str, threading.Timer] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LocalTwilio:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int = 400, code: int = 21215) -> None:
        """Answer the next Calls.create with a Twilio error (e.g. 21215: geo permissions)."""
        self.failures.append((status, code))

    def add_call(self, sid: str, parent: str | None = None, in_progress: bool = False) -> None:
        """Twilio now holds this call: an incoming call, or a leg dialed from `parent`."""
        status = "in-progress" if in_progress else "completed"
        with self._lock:
            self.added = [c for c in self.added if c.sid != sid]
            self.added.append(
                CreatedCall(sid, {}, time.perf_counter(), status=status, parent=parent)
            )

    def call(self, sid: str) -> CreatedCall | None:
        """The call with this sid (placed through the API or added), or None."""
        with self._lock:
            return self._find(sid)

    def held(self) -> list[str]:
        """The sids of every call still in Twilio's logs (not deleted)."""
        with self._lock:
            return [c.sid for c in [*self.created, *self.added] if not c.deleted]

    def wait_for(
        self, count: int, timeout: float = 10.0, where: Callable[[CreatedCall], bool] | None = None
    ) -> list[CreatedCall]:
        """Block until `count` calls (those `where` picks, if given) were created; the list."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(found := [c for c in self.created if where is None or where(c)]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} calls, got {len(found)}")
                self._arrived.wait(left)
            return found

    # -- the phones ------------------------------------------------------------------------------

    def answer(self, sid: str) -> CreatedCall | None:
        """Pick up a ringing call (once): it is in progress; None if it is not ringing."""
        with self._lock:
            call = self._find(sid)
            if call is None or call.status != "ringing":
                return None
            call.status, call.answered_at = "in-progress", time.monotonic()
            timer = self._timers.pop(sid, None)
        if timer is not None:
            timer.cancel()
        self.say(f"{sid}: answered")
        return call

    def end(self, sid: str, status: str) -> CreatedCall | None:
        """The call ended (the simulator reports it after playing its phone's side)."""
        with self._lock:
            call = self._find(sid)
            if call is not None and call.status not in FINAL:
                call.status = status if status in FINAL else "completed"
        if call is not None:
            self.say(f"{sid}: {call.status}")
        return call

    def _ring(self, call: CreatedCall) -> None:
        timeout = _seconds(call.params.get("Timeout"), DEFAULT_TIMEOUT_SECONDS)
        with self._lock:
            call.status = "ringing"
            if self.rings:
                timer = threading.Timer(timeout, self._ring_out, args=(call.sid,))
                timer.daemon = True
                self._timers[call.sid] = timer
                timer.start()
        to = call.params.get("To", "")
        self.say(
            f"{call.sid}: ringing the phone ending in {to[-2:]} for {timeout} s "
            "(./dev simulate --answer-callback answers it)"
        )

    def _ring_out(self, sid: str) -> None:
        with self._lock:
            call = self._find(sid)
            self._timers.pop(sid, None)
            if call is None or call.status != "ringing":
                return
            call.status = "no-answer"
        self.say(f"{sid}: nobody answered; reporting no-answer")
        self.report(call, "no-answer")

    def report(self, call: CreatedCall, status: str, duration: int = 0) -> int | None:
        """POST the call's StatusCallback, signed like Twilio's; the HTTP status, or None."""
        url = call.params.get("StatusCallback")
        if not url or self.auth_token is None:
            return None
        params = {
            "CallSid": call.sid,
            "AccountSid": self.account_sid or "",
            "From": call.params.get("From", ""),
            "To": call.params.get("To", ""),
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallStatus": status,
            "CallDuration": str(duration),
        }
        try:
            return post_signed(url, params, self.auth_token)[0]
        except OSError as error:  # the hotline is down or unreachable: Twilio gives up too
            self.say(f"{call.sid}: status callback not delivered ({error})")
            return None

    def _find(self, sid: str) -> CreatedCall | None:
        return next((c for c in [*self.created, *self.added] if c.sid == sid), None)

    def _children(self, parent: str | None) -> list[CreatedCall]:
        return [c for c in [*self.created, *self.added] if c.parent == parent and not c.deleted]

    # -- HTTP ------------------------------------------------------------------------------------

    def _authorized(self, header: str | None, account: str | None) -> bool:
        if self.auth_token is None:
            return True
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}" and account in (None, self.account_sid)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        twilio = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as Twilio's API has: a client that reuses its connection is measured
            # as it would run (every answer here says its Content-Length).
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: with Nagle's algorithm on a kept-alive
            # connection, the body waited for the client's delayed ACK (40 ms a request).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # request lines carry numbers in query strings: never printed

            def do_GET(self) -> None:  # noqa: N802
                parts = urllib.parse.urlsplit(self.path)
                path = parts.path
                match = _CALL.match(path)
                if listing := _CALLS.match(path):
                    if self._authorized(listing.group(1)):
                        self._list(listing.group(1), parts.query)
                elif path == LOCAL_CALLS:
                    with twilio._lock:
                        calls = [call.summary() for call in twilio.created]
                    self._json(200, {"calls": calls})
                elif one := _LOCAL_ONE.match(path):
                    with twilio._lock:
                        found = twilio._find(one.group(1))
                        summary = found.summary() if found is not None else None
                    if summary is None:
                        self._not_found()
                    else:
                        self._json(200, summary)
                elif match is None:
                    self._not_found()
                elif self._authorized(match.group(1)):
                    with twilio._lock:
                        call = twilio._find(match.group(2))
                    if call is None or call.deleted:
                        self._not_found()
                    else:
                        self._json(200, call_resource(match.group(1), call))

            def do_DELETE(self) -> None:  # noqa: N802
                match = _CALL.match(urllib.parse.urlsplit(self.path).path)
                if match is None:
                    self._not_found()
                    return
                if not self._authorized(match.group(1)):
                    return
                removed = False
                with twilio._lock:
                    failure = twilio.delete_failures.pop(0) if twilio.delete_failures else None
                    call = twilio._find(match.group(2))
                    if failure is None and call is not None and call.status == "in-progress":
                        failure = (
                            409,
                            20009,
                        )  # "Cannot delete this resource before it is complete"
                    if failure is None and call is not None and not call.deleted:
                        call.deleted, removed = True, True
                        twilio.deleted.append(call.sid)
                if failure is not None:
                    status, code = failure
                    self._json(status, {"code": code, "message": "refused", "status": status})
                elif not removed:
                    self._not_found()
                else:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def _list(self, account: str, query: str) -> None:
                parent = urllib.parse.parse_qs(query).get("ParentCallSid", [None])[0]
                with twilio._lock:
                    calls = [call_resource(account, c) for c in twilio._children(parent)]
                # Absolute, as the spec's format "uri" asks (Twilio itself answers with a path).
                uri = f"{twilio.base_url}/2010-04-01/Accounts/{account}/Calls.json"
                self._json(
                    200,
                    {
                        "calls": calls,
                        "page": 0,
                        "page_size": max(len(calls), 50),
                        "start": 0,
                        "end": max(len(calls) - 1, 0),
                        "uri": uri,
                        "first_page_uri": uri,
                        "next_page_uri": None,
                        "previous_page_uri": None,
                    },
                )

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
                path = urllib.parse.urlsplit(self.path).path
                if match := _LOCAL_CALL.match(path):
                    self._local(match.group(1), match.group(2), form)
                elif match := _CALLS.match(path):
                    if self._authorized(match.group(1)):
                        self._create(match.group(1), form)
                elif match := _CALL.match(path):
                    if self._authorized(match.group(1)):
                        self._update(match.group(1), match.group(2), form)
                elif match := _PARTICIPANT.match(path):
                    if self._authorized(match.group(1)):
                        self._participant(*match.groups(), form)
                else:
                    self._not_found()

            def _authorized(self, account: str) -> bool:
                if twilio._authorized(self.headers.get("Authorization"), account):
                    return True
                self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return False

            def _create(self, account: str, form: dict[str, str]) -> None:
                with twilio._arrived:
                    failure = twilio.failures.pop(0) if twilio.failures else None
                    if failure is None:
                        call = CreatedCall("CA" + secrets.token_hex(16), form, time.perf_counter())
                        twilio.created.append(call)
                        twilio._arrived.notify_all()
                if failure is not None:
                    status, code = failure
                    # Like Twilio's, the message quotes the number: the hotline must not log it.
                    message = f"The 'To' number {form.get('To')} is not allowed"
                    self._json(status, {"code": code, "message": message, "status": status})
                    return
                twilio._ring(call)
                self._json(201, call_resource(account, call))

            def _update(self, account: str, sid: str, form: dict[str, str]) -> None:
                with twilio._lock:
                    call = twilio._find(sid)
                    if call is not None:
                        call.updates.append(form)
                if call is None:
                    self._not_found()
                    return
                wanted = form.get("Status", "")
                if wanted in {"completed", "canceled"}:
                    was_ringing = call.status in {"queued", "ringing"}
                    twilio.end(sid, "canceled" if was_ringing else "completed")
                    with twilio._lock:
                        timer = twilio._timers.pop(sid, None)
                    if timer is not None:
                        timer.cancel()
                    if was_ringing:  # Twilio reports it after answering, on its own time
                        threading.Thread(
                            target=twilio.report, args=(call, "canceled"), daemon=True
                        ).start()
                self._json(200, call_resource(account, call))

            def _participant(
                self, account: str, conference: str, sid: str, form: dict[str, str]
            ) -> None:
                with twilio._lock:
                    call = twilio._find(sid)
                    if call is not None:
                        twilio.participant_updates.append((conference, sid, form))
                if call is None:
                    self._not_found()
                    return
                self._json(200, participant_resource(account, conference, call, form))

            def _local(self, sid: str, action: str, form: dict[str, str]) -> None:
                if action == "hold":
                    # An incoming call the simulator places: Twilio now holds it, in progress.
                    twilio.add_call(sid, in_progress=True)
                    call = twilio.call(sid)
                    assert call is not None
                    self._json(200, call.summary())
                    return
                if action == "answer":
                    call = twilio.answer(sid)
                    if call is None:
                        self._json(409, {"message": "not ringing"})
                        return
                else:
                    call = twilio.end(sid, form.get("CallStatus", "completed"))
                    if call is None:
                        self._not_found()
                        return
                self._json(200, call.summary())

            def _not_found(self) -> None:
                self._json(404, {"code": 20404, "message": "not found", "status": 404})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def post_signed(
    url: str, params: dict[str, str], auth_token: str, timeout: float = 15
) -> tuple[int, bytes]:
    """POST a form to the hotline signed as Twilio signs webhooks; its HTTP status and body."""
    request = urllib.request.Request(  # noqa: S310 - the hotline's own URL
        url, data=urllib.parse.urlencode(params).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("X-Twilio-Signature", sign(url, params, auth_token))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def _seconds(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() else default


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped, with the hotline's credentials (TWILIO_ACCOUNT_SID, _AUTH_TOKEN)."""
    from ..settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = Settings.from_env()

    def say(line: str) -> None:
        print(line, flush=True)

    twilio = LocalTwilio(
        settings.twilio_account_sid, settings.twilio_auth_token, rings=True, port=args.port, say=say
    )
    say(f"Twilio's REST API (Calls) stand-in on {twilio.base_url}")
    try:
        twilio.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        twilio.server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
