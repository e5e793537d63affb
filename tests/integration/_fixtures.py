"""Fixtures for the routing integration tests: a real Redis (database 14) and real databases.

Kept apart from tests/conftest.py on purpose (its redis_client / database_url were being written
at the same time); the names here are distinct so both can live side by side until merged.
Test modules import the fixtures they use: `from _fixtures import routing_redis`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet, MultiFernet
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hotline.crypto import make_fernet
from hotline.db import Database
from hotline.models import Base

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
POSTGRES_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ROUTING_REDIS_DB = 14  # flushed before and after each test; never database 0


def routing_redis_url() -> str:
    """The test Redis URL with database 14 in place of whatever the URL names."""
    return urlunsplit(urlsplit(REDIS_URL)._replace(path=f"/{ROUTING_REDIS_DB}"))


def connect_redis() -> Redis:
    """A fresh client on the test database (each process and thread makes its own)."""
    return Redis.from_url(routing_redis_url())


@pytest.fixture
def routing_redis() -> Iterator[Redis]:
    """A real Redis on database 14, flushed before and after the test."""
    client = connect_redis()
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _postgres_admin_sqlalchemy_url() -> str:
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def routing_postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database `hotline_test_<random>` for this run, dropped at the end."""
    admin_url = _postgres_admin_sqlalchemy_url()
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class RoutingDatabase:
    backend: str
    url: str
    db: Database
    sqlite_file: Path | None = None


@pytest.fixture(params=["sqlite", "postgresql"])
def routing_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RoutingDatabase]:
    """An empty database with the models' schema: SQLite, then PostgreSQL."""
    sqlite_file = None
    if request.param == "sqlite":
        sqlite_file = tmp_path / "routing.db"
        url = f"sqlite:///{sqlite_file}"
    else:
        url = request.getfixturevalue("routing_postgres_url")
    db = Database(url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    yield RoutingDatabase(request.param, url, db, sqlite_file)
    Base.metadata.drop_all(db.engine)
    db.dispose()


@pytest.fixture
def fernet() -> MultiFernet:
    """A MultiFernet with a fresh key, as CALLBACK_ENCRYPTION_KEYS would give."""
    return make_fernet((Fernet.generate_key().decode(),))
