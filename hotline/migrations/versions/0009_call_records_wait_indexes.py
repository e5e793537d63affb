"""indexes for the call log sorted by wait

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00

The call log sorted by wait orders by wait_seconds with empty waits last, ties by id, either way
round. Without an index in that order PostgreSQL sorted the whole table for every page (past the
statement timeout at 5,000,000 records). (wait_seconds, id) serves the ascending order on
PostgreSQL and, read backwards, the descending one on SQLite; PostgreSQL sorts NULLs last in an
ascending index, so its descending order needs an index of its own (see CallRecord).

A plain CREATE INDEX, as the other migrations: writes to call_records wait while it builds
(seconds per million records). On PostgreSQL the build runs without the connection's statement
timeout, which is meant for webhooks, not for building an index over millions of rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        # Restored below: the migrations after this one keep the usual limit.
        timeout = bind.execute(sa.text("SHOW statement_timeout")).scalar()
        op.execute("SET LOCAL statement_timeout = 0")
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index("ix_call_records_wait_seconds_id", ["wait_seconds", "id"])
    if postgresql:
        op.create_index(
            "ix_call_records_wait_seconds_desc_id",
            "call_records",
            [sa.text("wait_seconds DESC NULLS LAST"), sa.text("id DESC")],
        )
        bind.execute(sa.text("SELECT set_config('statement_timeout', :t, true)"), {"t": timeout})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_call_records_wait_seconds_desc_id", table_name="call_records")
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index("ix_call_records_wait_seconds_id")
