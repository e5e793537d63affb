"""legs placed through the REST API, for Twilio's purge

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00

A volunteer rung from the waiting line or for a direct call, and a partner rung for a transfer,
are calls of their own at Twilio, not children of the caller's call: the purge finds them here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hotline.models.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "twilio_placed_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("leg_sid", sa.String(length=64), nullable=False),
        sa.Column("created_at", hotline.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twilio_placed_legs")),
        sa.UniqueConstraint("leg_sid", name=op.f("uq_twilio_placed_legs_leg_sid")),
    )
    with op.batch_alter_table("twilio_placed_legs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_twilio_placed_legs_call_sid"), ["call_sid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("twilio_placed_legs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_twilio_placed_legs_call_sid"))
    op.drop_table("twilio_placed_legs")
