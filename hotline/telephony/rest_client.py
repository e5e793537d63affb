"""Twilio's REST API: a client that never logs a number, and can be pointed at a mock.

twilio-python logs every request's URL, query and headers at INFO; a Calls list filtered by `To`
would put a survivor's number in the logs. QuietHttpClient logs method, path and status only.

TWILIO_API_BASE_URL sends every request to a Twilio-compatible server instead (Prism, the tests'
fake). The host is rewritten in the HTTP client, after twilio-python has built the URL, because
the Client itself rewrites hosts too: TWILIO_EDGE / TWILIO_REGION turn api.twilio.com into
api.sydney.au1.twilio.com, which a base_url set on the domain would not catch.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
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


class QuietHttpClient(TwilioHttpClient):
    """twilio-python's HTTP client, logging no parameters, headers or bodies."""

    def log_request(self, kwargs: dict[str, Any]) -> None:
        self.logger.debug("Twilio API %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Any) -> None:
        self.logger.debug("Twilio API answered %s", status_code)

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
        return super().request(
            method, self.rewrite(url), params, data, headers, auth, timeout, allow_redirects
        )

    def rewrite(self, url: str) -> str:
        """Where the request goes: Twilio's URL as twilio-python built it."""
        return url


class BaseUrlHttpClient(QuietHttpClient):
    """Sends every request for a *.twilio.com host to base_url (same path and query)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
        http_client = BaseUrlHttpClient(
            settings.twilio_api_base_url, timeout=REQUEST_TIMEOUT_SECONDS
        )
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
        except (TwilioException, requests.RequestException) as exc:
            raise _network_error(exc) from None
        return str(call.sid)

    def hang_up(self, call_sid: str, timeout: float | None = None) -> None:
        """End a call, ringing or in progress (a cancelled request's volunteer leg)."""
        try:
            with bounded_requests(timeout):
                self.client.calls(call_sid).update(status="completed")
        except TwilioRestException as exc:
            raise _twilio_error(exc) from None
        except (TwilioException, requests.RequestException) as exc:
            raise _network_error(exc) from None

    def redirect(self, call_sid: str, url: str, timeout: float | None = None) -> None:
        """Move a call in progress (a caller waiting in line) to the TwiML at `url`."""
        try:
            with bounded_requests(timeout):
                self.client.calls(call_sid).update(url=url, method="POST")
        except TwilioRestException as exc:
            raise _twilio_error(exc) from None
        except (TwilioException, requests.RequestException) as exc:
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
        except (TwilioException, requests.RequestException) as exc:
            raise _network_error(exc) from None

    def announce(self, conference_sid: str, call_sid: str, announce_url: str) -> None:
        """Say something to one participant only (`announce_url`'s TwiML: Say or Play)."""
        try:
            self.client.conferences(conference_sid).participants(call_sid).update(
                announce_url=announce_url, announce_method="POST"
            )
        except TwilioRestException as exc:
            raise _twilio_error(exc) from None
        except (TwilioException, requests.RequestException) as exc:
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
        except (TwilioException, requests.RequestException):
            raise PurgeError("network") from None

    def delete_call(self, sid: str) -> bool:
        """Delete an ended call's record at Twilio; False when Twilio no longer has it."""
        try:
            return bool(self.client.calls(sid).delete())
        except TwilioRestException as exc:
            if exc.status == 404:
                return False  # deleted already (by an earlier try, or in the console)
            raise PurgeError(_twilio_error(exc).code) from None
        except (TwilioException, requests.RequestException):
            raise PurgeError("network") from None


def _twilio_error(exc: TwilioRestException) -> DialError:
    # Twilio's message can quote the 'To' number: masked here, at the source, and kept out of the
    # code (which the database stores).
    return DialError(f"twilio:{exc.code or exc.status}", redact(str(exc.msg or "")))


def _network_error(exc: Exception) -> DialError:
    return DialError("network", redact(cause(exc)))
