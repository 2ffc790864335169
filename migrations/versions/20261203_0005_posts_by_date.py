"""posts by date: an index on posts (date, id)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

`tgpipe posts list` shows the newest posts; without this index a store of a million posts
was read and sorted whole for the first screen (7.5 s).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_posts_date_id", "posts", ["date", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_posts_date_id", table_name="posts")
