"""dedup index: post_keys, dedup_state, posts.counts_seen_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Posts stored before this revision have no keys yet: with no ``dedup_state`` row, the next
import (or ``tgpipe dedup rebuild``) computes them and clusters the whole store first. The
keys are computed by tgpipe's code, not here, so this revision never changes with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dedup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("features_version", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedup_state")),
    )
    op.create_table(
        "post_keys",
        sa.Column("key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("post_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_keys_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", "post_id", name=op.f("pk_post_keys")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counts_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("counts_seen_at")

    op.drop_table("post_keys")
    op.drop_table("dedup_state")
