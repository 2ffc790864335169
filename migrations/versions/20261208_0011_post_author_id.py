"""post author ids: posts.author_id, the sender's id an export gives ("user123")

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

A personal or group chat's messages are authored by their senders; the Desktop JSON export
names each sender's id beside the name.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("author_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("author_id")
