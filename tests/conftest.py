"""Shared fixtures: real SQLite and PostgreSQL databases, a real Redis, the app, signed webhooks.

The services come from the test command (`./dev test`), which exports their URLs:
HOTLINE_TEST_REDIS_URL and HOTLINE_TEST_POSTGRES_URL (an admin URL; each test run creates and drops
its own database). Tests never skip for lack of a service: a missing service is a failure.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hotline import create_app
from hotline.settings import Settings, normalize_database_url
from hotline.telephony.signature import sign

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
POSTGRES_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_DB = 15  # flushed before and after each test; never the default database 0
BASE_URL = "https://hotline.example.org"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
CALLER = "+77015550123"


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
    }
    env.update(overrides)
    return env


test_env.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, when imported


def redis_test_url(base: str = REDIS_URL) -> str:
    """The test Redis URL with the tests' own database number in place of any other."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{REDIS_TEST_DB}"))


# --- services ----------------------------------------------------------------------------------


@pytest.fixture
def redis_client() -> Iterator[Redis]:
    """A real Redis on a dedicated database, flushed before and after the test."""
    client = Redis.from_url(redis_test_url())
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test run, with the models' schema."""
    admin_url = normalize_database_url(POSTGRES_ADMIN_URL)
    name = f"hotline_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    create_schema(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def create_schema(url: str) -> None:
    """Create every model's table. (tests/integration/test_migrations.py checks that the Alembic
    migrations produce this same schema, so fixtures can skip running them each time.)"""
    from hotline.db import make_engine
    from hotline.models import Base

    engine = make_engine(normalize_database_url(url))
    Base.metadata.create_all(engine)
    engine.dispose()


def _truncate_postgres(url: str) -> None:
    from hotline.models import Base

    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite (the embedded default) and PostgreSQL, in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hotline.db'}"
        create_schema(url)
        yield url
    else:
        url = request.getfixturevalue("postgres_database")
        _truncate_postgres(url)
        yield url
        _truncate_postgres(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An SQLite database with the schema, for tests that need one backend only."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    create_schema(url)
    return url


# --- the app -----------------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, redis_client: Redis) -> Settings:
    return Settings.from_env(test_env(DATABASE_URL=database_url, REDIS_URL=redis_test_url()))


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["db"].dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


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
        return self.client.post(path, data=form, headers=headers)

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


@pytest.fixture
def twilio(client) -> TwilioWebhooks:  # type: ignore[no-untyped-def]
    return TwilioWebhooks(client)
