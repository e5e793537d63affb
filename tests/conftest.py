"""Shared fixtures: real SQLite and PostgreSQL databases, a real Redis, the app, signed webhooks.

The services come from the test command (`./dev test`), which exports their URLs:
HOTLINE_TEST_REDIS_URL and HOTLINE_TEST_POSTGRES_URL (an admin URL; each test run creates and drops
its own database). Tests never skip for lack of a service: a missing service is a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support import (  # noqa: F401 - re-exported for tests that import them from conftest
    AUTH_TOKEN,
    BASE_URL,
    CALLER,
    POSTGRES_ADMIN_URL,
    REDIS_TEST_DB,
    REDIS_URL,
    TwilioWebhooks,
    config_without_wrap_up,
    new_call_sid,
    redis_test_url,
    test_env,
)

from hotline import create_app
from hotline.settings import Settings, normalize_database_url

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


@pytest.fixture
def twilio(client) -> TwilioWebhooks:  # type: ignore[no-untyped-def]
    return TwilioWebhooks(client)


# --- a real server -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """(base_url, env, log_path) of a real gunicorn serving the hotline on a free port.

    One server per test module (starting gunicorn takes a second); tests tell their calls apart
    by CallSid. Redis's test database is flushed when the server starts. Wrap-up after a
    connected call is off unless the module sets WRAP_UP = True (support.config_without_wrap_up).
    """
    from hotline.devserver import free_port, gunicorn_server

    tmp_path = tmp_path_factory.mktemp("server")
    Redis.from_url(redis_test_url()).flushdb()
    port = free_port()
    env = test_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'e2e.db'}",
        REDIS_URL=redis_test_url(),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    if not getattr(request.module, "WRAP_UP", False):
        env["HOTLINE_CONFIG_DIR"] = config_without_wrap_up(tmp_path)
    log_path = tmp_path / "gunicorn.log"
    with gunicorn_server(env, port, workers=2, log_path=log_path):
        yield f"http://127.0.0.1:{port}", env, log_path
