"""publishing: targets, the queue, claims and leases, send log, autopost firings, notices

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

``publications`` and ``autopost_rules`` are recreated in their new shape: before this revision
no command could create a row in them, so nothing is lost. Channels gain the publishing
target columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLICATION_STATES = ("scheduled", "sending", "sent", "failed", "cancelled", "unknown", "missed")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("chat_type", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("target_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("blocked_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("deferred_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_channels_chat_id"), ["chat_id"])

    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index("ix_publications_state_due_at")
        batch_op.drop_index(batch_op.f("ix_publications_post_id"))
        batch_op.drop_index(batch_op.f("ix_publications_target_chat"))
    op.drop_table("publications")
    with op.batch_alter_table("autopost_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_autopost_rules_target_chat"))
    op.drop_table("autopost_rules")

    op.create_table(
        "autopost_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "policy", _enum("autopost_policy", "oldest", "newest", "random", "top"), nullable=False
        ),
        sa.Column("source_channel_id", sa.Integer(), nullable=True),
        sa.Column("tag", sa.String(length=128), nullable=True),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("empty_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_autopost_rules_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_channel_id"],
            ["channels.id"],
            name=op.f("fk_autopost_rules_source_channel_id_channels"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopost_rules")),
    )
    with op.batch_alter_table("autopost_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_autopost_rules_channel_id"), ["channel_id"], unique=False
        )

    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("mode", _enum("publication_mode", "copy", "forward", "send"), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("from_chat", sa.String(length=64), nullable=True),
        sa.Column("from_message_ids", sa.JSON(), nullable=False),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", _enum("publication_state", *PUBLICATION_STATES), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("parts_done", sa.Integer(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("autopost_rule_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_publications_attempts_non_negative")),
        sa.CheckConstraint(
            "post_id IS NOT NULL OR from_chat IS NOT NULL",
            name=op.f("ck_publications_has_content"),
        ),
        sa.ForeignKeyConstraint(
            ["autopost_rule_id"],
            ["autopost_rules.id"],
            name=op.f("fk_publications_autopost_rule_id_autopost_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_publications_channel_id_channels"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_publications_post_id_posts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
    )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publications_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_publications_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index(
            "ix_publications_channel_id_state", ["channel_id", "state"], unique=False
        )

    op.create_table(
        "autopost_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("publication_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publications.id"],
            name=op.f("fk_autopost_firings_publication_id_publications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["autopost_rules.id"],
            name=op.f("fk_autopost_firings_rule_id_autopost_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopost_firings")),
        sa.UniqueConstraint("rule_id", "fire_at", name=op.f("uq_autopost_firings_rule_id_fire_at")),
    )
    op.create_table(
        "send_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("publication_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_send_log_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publications.id"],
            name=op.f("fk_send_log_publication_id_publications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_log")),
    )
    with op.batch_alter_table("send_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_send_log_channel_id_sent_at", ["channel_id", "sent_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_send_log_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_notices_key")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_sent_at"), ["sent_at"], unique=False)

    locks = op.create_table(
        "locks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_locks")),
    )
    op.bulk_insert(locks, [{"name": "dispatch", "counter": 0}])


def downgrade() -> None:
    op.drop_table("locks")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_sent_at"))
    op.drop_table("notices")
    with op.batch_alter_table("send_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_send_log_sent_at"))
        batch_op.drop_index("ix_send_log_channel_id_sent_at")
    op.drop_table("send_log")
    op.drop_table("autopost_firings")
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index("ix_publications_channel_id_state")
        batch_op.drop_index("ix_publications_state_due_at")
        batch_op.drop_index(batch_op.f("ix_publications_post_id"))
    op.drop_table("publications")
    with op.batch_alter_table("autopost_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_autopost_rules_channel_id"))
    op.drop_table("autopost_rules")

    # The shapes of revision 0001.
    op.create_table(
        "autopost_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_chat", sa.String(length=64), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("source_channel_id", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_channel_id"],
            ["channels.id"],
            name=op.f("fk_autopost_rules_source_channel_id_channels"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopost_rules")),
    )
    with op.batch_alter_table("autopost_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_autopost_rules_target_chat"), ["target_chat"], unique=False
        )

    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column(
            "mode",
            sa.Enum(
                "copy",
                "forward",
                "send",
                name="publication_mode",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("target_chat", sa.String(length=64), nullable=False),
        sa.Column("from_chat", sa.String(length=64), nullable=True),
        sa.Column("from_message_id", sa.BigInteger(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "scheduled",
                "sending",
                "sent",
                "failed",
                "cancelled",
                "unknown",
                name="publication_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("autopost_rule_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_publications_attempts_non_negative")),
        sa.CheckConstraint(
            "post_id IS NOT NULL OR (from_chat IS NOT NULL AND from_message_id IS NOT NULL)",
            name=op.f("ck_publications_has_content"),
        ),
        sa.ForeignKeyConstraint(
            ["autopost_rule_id"],
            ["autopost_rules.id"],
            name=op.f("fk_publications_autopost_rule_id_autopost_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_publications_post_id_posts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
    )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publications_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_publications_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_publications_target_chat"), ["target_chat"], unique=False
        )

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_channels_chat_id"), type_="unique")
        batch_op.drop_column("deferred_until")
        batch_op.drop_column("blocked_reason")
        batch_op.drop_column("target_since")
        batch_op.drop_column("chat_type")
        batch_op.drop_column("chat_id")
