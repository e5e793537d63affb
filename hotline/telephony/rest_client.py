"""Twilio's REST API: a client that never logs a number, and can be pointed at a mock.

twilio-python logs every request's URL, query and headers at INFO; a Calls list filtered by `To`
would put a survivor's number in the logs. QuietHttpClient logs method, path and status only.

It is also lean: urllib3 directly, not requests. A webhook rings a volunteer through the API
before it answers, and requests' own work (preparing the request, merging the environment's proxy
settings, hooks, cookies) was a quarter of the route step's CPU; twilio-python only needs the
HttpClient interface. Proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) are read once, when
the client is made.

TWILIO_API_BASE_URL sends every request to a Twilio-compatible server instead (Prism, the tests'
fake). The host is rewritten in the HTTP client, after twilio-python has built the URL, because
the Client itself rewrites hosts too: TWILIO_EDGE / TWILIO_REGION turn api.twilio.com into
api.sydney.au1.twilio.com, which a base_url set on the domain would not catch.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import certifi
import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from ..callbacks.runtime import DialError
from ..calllog.twilio_purge import PurgeError
from ..logs import cause
from ..redaction import redact
from ..settings import Settings

log = logging.getLogger(__name__)
# A REST call runs inside an RQ job; a Twilio that hangs must not hold the worker for long.
REQUEST_TIMEOUT_SECONDS = 10.0
# A shorter bound for the requests made inside `bounded_requests` (a webhook with a budget).
_bound: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "hotline_twilio_request_bound", default=None
)


@contextlib.contextmanager
def bounded_requests(timeout: float | None) -> Iterator[None]:
    """Inside, every Twilio request gives up after `timeout` seconds (None: the client's own).
    The same client, its session and its kept-alive connections serve every bound: a client made
    per request opened a new TCP (and TLS) connection for every ring, a quarter of the route
    step's time."""
    token = _bound.set(timeout)
    try:
        yield
    finally:
        _bound.reset(token)


class NetworkError(TwilioException):
    """The request did not get an answer (refused, reset, timed out): the urllib3 error's type."""


class QuietHttpClient(HttpClient):
    """An HTTP client for twilio-python on urllib3's pool, logging no parameters, headers or
    bodies. Never retries on its own (a repeated Calls.create would ring a phone twice)."""

    def __init__(self, timeout: float | None = None, pool_size: int = 16) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        options: dict[str, Any] = {
            "maxsize": pool_size,
            "block": False,
            "retries": False,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": certifi.where(),  # the bundle requests used: the same trust as before
        }
        self._direct = urllib3.PoolManager(**options)
        self._proxied = {
            scheme: urllib3.ProxyManager(proxy, **options)
            for scheme, proxy in urllib.request.getproxies().items()
            if scheme in ("http", "https")
        }

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        bound = _bound.get()
        if bound is not None:
            timeout = bound if timeout is None else min(timeout, bound)
        if timeout is None:
            timeout = self.timeout
        elif timeout <= 0:
            raise ValueError(timeout)  # as twilio-python's own client: a bug, not the network
        url = self.rewrite(url)
        if params:
            url += ("&" if "?" in url else "?") + _form(params)
        sent = dict(headers or {})
        body: str | None = None
        if sent.get("Content-Type") in ("application/json", "application/scim+json"):
            body = json.dumps(data)
        elif data:
            body = _form(data)
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            sent["Authorization"] = f"Basic {token}"
        self.logger.debug("Twilio API %s %s", method.upper(), urlsplit(url).path)
        try:
            answer = self._pool_for(url).request(
                method.upper(),
                url,
                body=body,
                headers=sent,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                redirect=allow_redirects,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise NetworkError(type(exc).__name__) from None
        self.logger.debug("Twilio API answered %s", answer.status)
        text = answer.data.decode("utf-8", "replace")
        return Response(int(answer.status), text, dict(answer.headers))

    def _pool_for(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        proxied = self._proxied.get(parts.scheme)
        if proxied is None or urllib.request.proxy_bypass(parts.hostname or ""):
            return self._direct
        return proxied

    def rewrite(self, url: str) -> str:
        """Where the request goes: Twilio's URL as twilio-python built it."""
        return url


class BaseUrlHttpClient(QuietHttpClient):
    """Sends every request for a *.twilio.com host to base_url (same path and query)."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        super().__init__(timeout)
        self.base_url = base_url.rstrip("/")

    def rewrite(self, url: str) -> str:
        """The URL with Twilio's host (any edge or region) replaced by base_url."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        base = urlsplit(self.base_url)
        return urlunsplit(
            (base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, "")
        )


def make_twilio_client(settings: Settings) -> Client:
    """A twilio-python Client for our account; to TWILIO_API_BASE_URL when it is set."""
    http_client: QuietHttpClient
    if settings.twilio_api_base_url:
        http_client = BaseUrlHttpClient(settings.twilio_api_base_url, REQUEST_TIMEOUT_SECONDS)
    else:
        http_client = QuietHttpClient(timeout=REQUEST_TIMEOUT_SECONDS)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)


class TwilioCalls:
    """Places and ends callback legs, and deletes ended calls, through Twilio's Calls resource."""

    def __init__(self, client: Client, from_number: str) -> None:
        self.client = client
        self.from_number = from_number

    def call_volunteer(
        self, *, to: str, url: str, status_callback: str, timeout: int,
        request_timeout: float | None = None,
    ) -> str:  # fmt: skip
        """Ring the volunteer from the hotline number; Twilio fetches `url` once AMD has decided.
        `request_timeout` bounds the HTTP request (a webhook waiting on it has a budget)."""
        try:
            with bounded_requests(request_timeout):
                call = self.client.calls.create(
                    to=to,
                    from_=self.from_number,
                    url=url,
                    method="POST",
                    status_callback=status_callback,
                    status_callback_method="POST",
                    # Synchronous AMD: the whisper URL is fetched with AnsweredBy, so a volunteer's
                    # voicemail is hung up on instead of hearing (and recording) the whisper.
                    machine_detection="Enable",
                    timeout=timeout,
                )
        except TwilioRestException as exc:
            raise _twilio_error(exc) from None
        except TwilioException as exc:
            raise _network_error(exc) from None
        return str(call.sid)

    def hang_up(self, call_sid: str, timeout: float | None = None) -> None:
        """End a call, ringing or in progress (a cancelled request's volunteer leg)."""
        try:
            with bounded_requests(timeout):
                self.client.calls(call_sid).update(status="completed")
        except TwilioRestException as exc:
            raise _twilio_error(exc) from None
        except TwilioException as exc:
            raise _network_error(exc) from None

    def redirect(self, call_sid: str, url: str, timeout: float | None = None) -> None:
        """Move a call in progress (a caller waiting in line) to the TwiML at `url`."""
        try:
            with bounded_requests(timeout):
                self.client.calls(call_sid).update(url=url, method="POST")
        except TwilioRestException as exc:
            raise _twilio_error(exc) from None
        except TwilioException as exc:
            raise _network_error(exc) from None

    def hold(self, conference_sid: str, call_sid: str, hold: bool, hold_url: str = "") -> None:
        """Put a conference participant on hold (hearing `hold_url`'s TwiML) or take them off."""
        kwargs: dict[str, Any] = {"hold": hold}
        if hold and hold_url:
            kwargs.update(hold_url=hold_url, hold_method="POST")
        try:
            self.client.conferences(conference_sid).participants(call_sid).update(**kwargs)
        except TwilioRestException as exc:
            raise _twilio_error(exc) from None
        except TwilioException as exc:
            raise _network_error(exc) from None

    def announce(self, conference_sid: str, call_sid: str, announce_url: str) -> None:
        """Say something to one participant only (`announce_url`'s TwiML: Say or Play)."""
        try:
            self.client.conferences(conference_sid).participants(call_sid).update(
                announce_url=announce_url, announce_method="POST"
            )
        except TwilioRestException as exc:
            raise _twilio_error(exc) from None
        except TwilioException as exc:
            raise _network_error(exc) from None

    def child_call_sids(self, parent_sid: str) -> list[str]:
        """The legs a call dialed (an incoming call's volunteers, a callback's survivor)."""
        try:
            # One page of Twilio's largest size: a call rings a handful of legs, never 1,000.
            # Only the sids are read: each listed call's JSON also holds its numbers.
            page = self.client.calls.page(parent_call_sid=parent_sid, page_size=1000)
            return [str(call.sid) for call in page]
        except TwilioRestException as exc:
            raise PurgeError(_twilio_error(exc).code) from None
        except TwilioException:
            raise PurgeError("network") from None

    def delete_call(self, sid: str) -> bool:
        """Delete an ended call's record at Twilio; False when Twilio no longer has it."""
        try:
            return bool(self.client.calls(sid).delete())
        except TwilioRestException as exc:
            if exc.status == 404:
                return False  # deleted already (by an earlier try, or in the console)
            raise PurgeError(_twilio_error(exc).code) from None
        except TwilioException:
            raise PurgeError("network") from None


def _twilio_error(exc: TwilioRestException) -> DialError:
    # Twilio's message can quote the 'To' number: masked here, at the source, and kept out of the
    # code (which the database stores).
    return DialError(f"twilio:{exc.code or exc.status}", redact(str(exc.msg or "")))


def _network_error(exc: Exception) -> DialError:
    return DialError("network", redact(cause(exc)))


def _form(values: dict[str, object]) -> str:
    """A form or query as requests encoded it: a list as repeated keys, None left out."""
    pairs = []
    for name, value in values.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            if one is not None:
                pairs.append((name, one))
    return urlencode(pairs)
