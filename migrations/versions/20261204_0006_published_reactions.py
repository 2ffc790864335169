"""published reactions: the messages tgpipe sent, their reaction counts and snapshots

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Reaction updates name a chat and a message; ``published_messages`` maps them to the
publication (and its post) and keeps the latest counts, ``published_snapshots`` their
history, ``reaction_votes`` the per-person reactions groups report instead of totals.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "published_messages",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("reactions", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publications.id"],
            name=op.f("fk_published_messages_publication_id_publications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_published_messages")),
    )
    op.create_index(
        op.f("ix_published_messages_publication_id"),
        "published_messages",
        ["publication_id"],
        unique=False,
    )
    op.create_table(
        "published_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reactions", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publications.id"],
            name=op.f("fk_published_snapshots_publication_id_publications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_snapshots")),
        sa.UniqueConstraint(
            "chat_id",
            "message_id",
            "taken_at",
            name=op.f("uq_published_snapshots_chat_id_message_id_taken_at"),
        ),
    )
    op.create_index(
        "ix_published_snapshots_publication_id_taken_at",
        "published_snapshots",
        ["publication_id", "taken_at"],
        unique=False,
    )
    op.create_table(
        "reaction_votes",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("voter", sa.BigInteger(), nullable=False),
        sa.Column("reactions", sa.JSON(), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id", "message_id"],
            ["published_messages.chat_id", "published_messages.message_id"],
            name=op.f("fk_reaction_votes_chat_id_published_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", "voter", name=op.f("pk_reaction_votes")),
    )
    # Recorders in several processes take turns on this row (pipeline/store/locks.py).
    op.execute("INSERT INTO locks (name, counter) VALUES ('reactions', 0)")


def downgrade() -> None:
    op.execute("DELETE FROM locks WHERE name = 'reactions'")
    op.drop_table("reaction_votes")
    op.drop_index(
        "ix_published_snapshots_publication_id_taken_at", table_name="published_snapshots"
    )
    op.drop_table("published_snapshots")
    op.drop_index(op.f("ix_published_messages_publication_id"), table_name="published_messages")
    op.drop_table("published_messages")
