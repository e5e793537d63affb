"""daily outcome totals summed over topics and languages; daily callback totals

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 07:00:00

The statistics read daily_outcomes for one (topic, language) pair, '*' standing for "every", like
daily_unanswered and daily_waits (0005): an index for that read, and the '*' rows for the days
closed before this version (sums of the rows they already hold, so no count changes).
Callback requests per day and status (daily_callbacks), and the days counted there: the worker
counts the days of the requests still kept on its next sweep; an index on their creation time
for the days read from the requests themselves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

_DETAIL = "topic <> '*' AND language <> '*'"
_SUMS = (("topic", "'*'"), ("'*'", "language"), ("'*'", "'*'"))


def upgrade() -> None:
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_requests_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "daily_callback_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_daily_callback_days")),
    )
    op.create_table(
        "daily_callbacks",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "topic", "language", "status", name=op.f("pk_daily_callbacks")
        ),
    )
    with op.batch_alter_table("daily_outcomes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_daily_outcomes_topic_language_day", ["topic", "language", "day"], unique=False
        )
    for topic, language in _SUMS:
        groups = ", ".join(c for c in ("day", topic, language) if not c.startswith("'"))
        op.execute(
            "INSERT INTO daily_outcomes (day, topic, language, field, option, calls) "  # noqa: S608 - constants only
            f"SELECT day, {topic}, {language}, field, option, SUM(calls) "
            f"FROM daily_outcomes WHERE {_DETAIL} GROUP BY {groups}, field, option"
        )


def downgrade() -> None:
    op.execute("DELETE FROM daily_outcomes WHERE topic = '*' OR language = '*'")
    with op.batch_alter_table("daily_outcomes", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_outcomes_topic_language_day")
    op.drop_table("daily_callbacks")
    op.drop_table("daily_callback_days")
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_requests_created_at"))
