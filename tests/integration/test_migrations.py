"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support import POSTGRES_ADMIN_URL

from hotline.migrate import upgrade
from hotline.models import Base
from hotline.models.base import include_object_for
from hotline.settings import normalize_database_url


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            only_here = include_object_for(connection.dialect.name)  # as migrations/env.py
            context = MigrationContext.configure(
                connection, opts={"compare_type": False, "include_object": only_here}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_migrations_match_the_models_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    upgrade(url)  # a second run (every deploy's release step) changes nothing
    assert _differences(url) == []


def test_migrations_match_the_models_on_postgresql():
    admin_url = normalize_database_url(POSTGRES_ADMIN_URL)
    name = f"hotline_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        assert _differences(url) == []
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("form", ["postgres://", "postgresql://"])
def test_hosting_provider_urls_pick_the_psycopg_driver(form):
    assert normalize_database_url(form + "u:p@h:5432/db").startswith("postgresql+psycopg://u:p@h")


def test_0005_adds_the_summed_rows_of_days_closed_before_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'summed.db'}"
    upgrade(url, "0004")
    engine = create_engine(url)
    with engine.begin() as connection:
        for topic, language, wait, calls in (("violence", "ru", 30, 2), ("violence", "kk", 30, 1),
                                             ("labor", "ru", 45, 4)):  # fmt: skip
            connection.execute(
                text("INSERT INTO daily_waits VALUES ('2025-03-01', :t, :l, :w, :c)"),
                {"t": topic, "l": language, "w": wait, "c": calls},
            )
        connection.execute(
            text("INSERT INTO daily_unanswered VALUES ('2025-03-01', 'labor', 'ru', 9, 3, 1)")
        )
    upgrade(url)
    with engine.connect() as connection:
        waits = connection.execute(
            text(
                "SELECT topic, language, wait_seconds, calls FROM daily_waits "
                "WHERE topic = '*' OR language = '*' ORDER BY 1, 2, 3"
            )  # fmt: skip
        ).all()
        hours = connection.execute(
            text(
                "SELECT topic, language, missed, abandoned FROM daily_unanswered "
                "WHERE topic = '*' OR language = '*' ORDER BY 1, 2"
            )  # fmt: skip
        ).all()
    engine.dispose()
    assert waits == [
        ("*", "*", 30, 3), ("*", "*", 45, 4), ("*", "kk", 30, 1), ("*", "ru", 30, 2),
        ("*", "ru", 45, 4), ("labor", "*", 45, 4), ("violence", "*", 30, 3),
    ]  # fmt: skip
    assert hours == [("*", "*", 3, 1), ("*", "ru", 3, 1), ("labor", "*", 3, 1)]


def test_0007_adds_the_summed_outcome_rows_of_days_closed_before_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'outcomes.db'}"
    upgrade(url, "0005")
    engine = create_engine(url)
    with engine.begin() as connection:
        for topic, language, field, option, calls in (
            ("violence", "ru", "sex", "female", 2), ("violence", "kk", "sex", "female", 1),
            ("labor", "ru", "harm", "unpaid_wages", 4),
        ):  # fmt: skip
            connection.execute(
                text("INSERT INTO daily_outcomes VALUES ('2025-03-01', :t, :l, :f, :o, :c)"),
                {"t": topic, "l": language, "f": field, "o": option, "c": calls},
            )
    upgrade(url)
    with engine.connect() as connection:
        summed = connection.execute(
            text(
                "SELECT topic, language, option, calls FROM daily_outcomes "
                "WHERE topic = '*' OR language = '*' ORDER BY 1, 2, 3"
            )
        ).all()
    engine.dispose()
    assert summed == [
        ("*", "*", "female", 3), ("*", "*", "unpaid_wages", 4), ("*", "kk", "female", 1),
        ("*", "ru", "female", 2), ("*", "ru", "unpaid_wages", 4), ("labor", "*", "unpaid_wages", 4),
        ("violence", "*", "female", 3),
    ]  # fmt: skip
