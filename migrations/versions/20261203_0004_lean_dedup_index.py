"""lean dedup index: no foreign key on post_keys, no index on posts.content_hash

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Both cost every import a random B-tree write per row and served no query. ``post_keys`` is
derived data (``pipeline.dedup.index`` rebuilds it from the posts' text), posts are never
deleted, and a key whose post is gone finds nothing: the clusterer loads the posts that
keys name and skips any that is missing. PostgreSQL checked the foreign key with a trigger
per inserted key row, the largest single cost of an import there. Nothing is queried by
``content_hash``: equal content shares every key, so it is found through ``post_keys``.

SQLite cannot drop a constraint, so ``post_keys`` is copied into a new table (in key order,
so the copy is written sequentially) that keeps it ``WITHOUT ROWID``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_post_keys_post_id_posts"


def _rebuild_sqlite_keys(foreign_key: bool) -> None:
    reference = (
        f", CONSTRAINT {_FK} FOREIGN KEY(post_id) REFERENCES posts (id) ON DELETE CASCADE"
        if foreign_key
        else ""
    )
    op.execute(
        "CREATE TABLE post_keys_new (key INTEGER NOT NULL, post_id INTEGER NOT NULL, "
        f"CONSTRAINT pk_post_keys PRIMARY KEY (key, post_id){reference}) WITHOUT ROWID"
    )
    op.execute("INSERT INTO post_keys_new (key, post_id) SELECT key, post_id FROM post_keys")
    op.execute("DROP TABLE post_keys")
    op.execute("ALTER TABLE post_keys_new RENAME TO post_keys")


def upgrade() -> None:
    op.drop_index("ix_posts_content_hash", table_name="posts")
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite_keys(foreign_key=False)
    else:
        op.drop_constraint(_FK, "post_keys", type_="foreignkey")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite_keys(foreign_key=True)
    else:
        op.create_foreign_key(_FK, "post_keys", "posts", ["post_id"], ["id"], ondelete="CASCADE")
    op.create_index("ix_posts_content_hash", "posts", ["content_hash"], unique=False)
