"""imports into a chat: import_runs.into_channel_id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

An admin of one chat who uploads an export to the bot imports it for that chat; the posts of
such runs are theirs to see and publish.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("into_channel_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_import_runs_into_channel_id"), ["into_channel_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_import_runs_into_channel_id_channels"),
            "channels",
            ["into_channel_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_import_runs_into_channel_id_channels"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_import_runs_into_channel_id"))
        batch_op.drop_column("into_channel_id")
