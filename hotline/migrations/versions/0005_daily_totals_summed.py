"""daily totals summed over topics and languages

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:20:00

The statistics read daily_unanswered and daily_waits for one (topic, language) pair, '*' standing
for "every": an index for that read, and the '*' rows for the days closed before this version
(sums of the rows they already hold, so no count changes).
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_DETAIL = "topic <> '*' AND language <> '*'"
_SUMS = (("topic", "'*'"), ("'*'", "language"), ("'*'", "'*'"))


def upgrade() -> None:
    with op.batch_alter_table("daily_unanswered", schema=None) as batch_op:
        batch_op.create_index(
            "ix_daily_unanswered_topic_language_day", ["topic", "language", "day"], unique=False
        )
    with op.batch_alter_table("daily_waits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_daily_waits_topic_language_day", ["topic", "language", "day"], unique=False
        )
    for topic, language in _SUMS:
        groups = ", ".join(c for c in ("day", topic, language) if not c.startswith("'"))
        op.execute(
            "INSERT INTO daily_unanswered (day, topic, language, hour, missed, abandoned) "  # noqa: S608 - constants only
            f"SELECT day, {topic}, {language}, hour, SUM(missed), SUM(abandoned) "
            f"FROM daily_unanswered WHERE {_DETAIL} GROUP BY {groups}, hour"
        )
        op.execute(
            "INSERT INTO daily_waits (day, topic, language, wait_seconds, calls) "  # noqa: S608 - constants only
            f"SELECT day, {topic}, {language}, wait_seconds, SUM(calls) "
            f"FROM daily_waits WHERE {_DETAIL} GROUP BY {groups}, wait_seconds"
        )


def downgrade() -> None:
    op.execute("DELETE FROM daily_unanswered WHERE topic = '*' OR language = '*'")
    op.execute("DELETE FROM daily_waits WHERE topic = '*' OR language = '*'")
    with op.batch_alter_table("daily_waits", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_waits_topic_language_day")
    with op.batch_alter_table("daily_unanswered", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_unanswered_topic_language_day")
