"""Test helpers shared by every test package: the test environment and signed webhooks."""

from __future__ import annotations

import os
import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet
from redis import Redis
from redis.exceptions import RedisError

from hotline.calllog import spool
from hotline.telephony.signature import sign

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
POSTGRES_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_DB = 15  # flushed before and after each test; never the default database 0
BASE_URL = "https://hotline.example.org"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
CALLER = "+77015550123"
# A roster file's shifts for a volunteer who is on shift at any hour of any day.
ALWAYS_ON_SHIFT = """
      - days: [mon, tue, wed, thu, fri, sat, sun]
        start: "00:00"
        end: "24:00"
"""


UNREACHABLE_TWILIO_API = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once


def test_env(**overrides: str) -> dict[str, str]:
    """A complete, valid environment for Settings.from_env, with test secrets."""
    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "HOTLINE_PHONE_NUMBER": "+77270000000",
        "PUBLIC_BASE_URL": BASE_URL,
        "SECRET_KEY": "test-secret-key-0123456789",
        "PSEUDONYM_KEY": "test-pseudonym-key-0123456789",
        "CALLBACK_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HOTLINE_TIMEZONE": "Asia/Almaty",
        # No test reaches api.twilio.com: where a test runs no stand-in for Twilio's REST API,
        # requests are refused at once, so a free volunteer is rung with <Dial><Number> (the
        # degraded path). Tests of the conference path give TWILIO_API_BASE_URL a FakeTwilio.
        "TWILIO_API_BASE_URL": UNREACHABLE_TWILIO_API,
    }
    env.update(overrides)
    return env


test_env.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, when imported


def redis_test_url(base: str = REDIS_URL) -> str:
    """The test Redis URL with the tests' own database number in place of any other."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{REDIS_TEST_DB}"))


class TwilioWebhooks:
    """Posts form-encoded webhooks signed like Twilio's, and parses the TwiML answers."""

    def __init__(self, client: Any, base_url: str = BASE_URL, auth_token: str = AUTH_TOKEN):
        self.client = client
        self.base_url = base_url
        self.auth_token = auth_token

    def post(
        self, path: str, params: dict[str, str] | None = None, signed: bool = True, **extra: str
    ) -> Any:
        """POST `path` (may carry a query string) with Twilio's signature for PUBLIC_BASE_URL."""
        form = dict(params or {}, **extra)
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = sign(self.base_url + path, form, self.auth_token)
        response = self.client.post(path, data=form, headers=headers)
        # Menu steps are written a moment after their answer: let them land before the test looks.
        app = getattr(self.client, "application", None)
        recorder = app.extensions.get("recorder") if app is not None else None
        if recorder is not None:
            recorder.settle()
        return response

    def call_params(self, call_sid: str | None = None, caller: str = CALLER) -> dict[str, str]:
        """What Twilio sends with every request of an inbound call."""
        return {
            "CallSid": call_sid or new_call_sid(),
            "AccountSid": "AC" + "1" * 32,
            "From": caller,
            "Caller": caller,
            "To": "+77270000000",
            "Called": "+77270000000",
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def config_without_wrap_up(tmp: Any) -> str:
    """A copy of config/ with routing.yaml's wrap_up_seconds at 0, for the end-to-end scenarios
    that place connected calls back to back as if each volunteer had reported at once (wrap-up
    itself: tests/integration/test_wrap_up.py and tests/e2e/test_routing_through_gunicorn.py)."""
    import shutil
    from pathlib import Path

    target = Path(tmp) / "config-no-wrap-up"
    if not target.exists():
        shutil.copytree(Path(__file__).resolve().parents[1] / "config", target)
        routing = target / "routing.yaml"
        text = routing.read_text(encoding="utf-8")
        assert "wrap_up_seconds: 120" in text, "config/routing.yaml: wrap_up_seconds not found"
        routing.write_text(text.replace("wrap_up_seconds: 120", "wrap_up_seconds: 0"))
    return str(target)


def journal_written(env: dict[str, str], timeout: float = 15.0) -> None:
    """Wait until the call events queued in the server's Redis so far are in its database.

    A webhook answers without waiting for the journal's writer (hotline.calllog.spool): a test
    reading a record right after a call's last webhook waits for what that webhook queued (with
    Redis away the webhook itself waits; nothing is queued in Redis then, so this returns).
    """
    url = env.get("REDIS_URL", "")
    if not url:
        return
    client = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        pushed = int(client.get(spool.PUSHED) or 0)
        deadline = time.monotonic() + timeout
        while spool.done_count(client) < pushed:
            assert time.monotonic() < deadline, "the call's events were not written in time"
            time.sleep(0.01)
    except RedisError:
        return
    finally:
        client.close()
