"""autopost best hours: a rule may post at its channel's best hours (--at best)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("autopost_rules") as batch:
        batch.add_column(sa.Column("best_hours", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("autopost_rules") as batch:
        batch.drop_column("best_hours")
