#!/usr/bin/env bash
# Developers only, before the first release: rebuild the single initial migration from the models.
# After a release, add new migrations with `hotline db revision -m "..."` instead.
# Generated against PostgreSQL: its rendering of defaults (true/false) also works on SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
admin="${HOTLINE_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
rm -f hotline/migrations/versions/0001_*.py
.venv/bin/python - "$admin" <<'PY'
import sys, uuid
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from hotline.migrate import alembic_config
from hotline.settings import normalize_database_url

admin_url = normalize_database_url(sys.argv[1])
name = f"hotline_regen_{uuid.uuid4().hex[:8]}"
admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
with admin.connect() as c:
    c.execute(text(f'CREATE DATABASE "{name}"'))
try:
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    command.revision(alembic_config(url), message="initial schema", autogenerate=True, rev_id="0001")
finally:
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
PY
.venv/bin/ruff format -q hotline/migrations/versions/
