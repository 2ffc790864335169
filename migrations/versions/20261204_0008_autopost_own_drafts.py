"""autopost rules of one chat's admin: autopost_rules.own_drafts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

A rule made by an admin of one chat posts only that chat's own drafts (its posts and the
uploads for it), not any draft of the store.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("autopost_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("own_drafts", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("autopost_rules", schema=None) as batch_op:
        batch_op.drop_column("own_drafts")
