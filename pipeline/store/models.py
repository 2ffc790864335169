"""The post store's tables (DESIGN.md, "The post store").

Every schema change goes through an alembic revision in ``migrations/versions``; the test
suite checks that these models and the migrations agree.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The enums live apart so that the command line has them without the ORM; re-exported here.
from pipeline.store.enums import AutopostPolicy as AutopostPolicy
from pipeline.store.enums import DuplicateReason as DuplicateReason
from pipeline.store.enums import ImportStatus as ImportStatus
from pipeline.store.enums import PostStatus as PostStatus
from pipeline.store.enums import PublicationMode as PublicationMode
from pipeline.store.enums import PublicationState as PublicationState
from pipeline.store.enums import WatchPolicy as WatchPolicy
from pipeline.store.types import UTCDateTime, now_utc

# Deterministic constraint names, so migrations can name what they alter on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(none_as_null=True),  # None is SQL NULL, not JSON null
        list[Any]: JSON(),
    }


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR + CHECK rather than a native PostgreSQL enum: adding a value later is
    # then an ordinary migration on both backends.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Channel(Base):
    """A Telegram chat known to tgpipe: a source of imports and/or a publishing target."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)  # lower case, no '@'
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    subscribers: Mapped[int | None] = mapped_column(Integer)
    # Publishing target state (``tgpipe channels add``). ``chat_id`` is the Bot API id
    # (-100... for channels); ``telegram_id`` is the id as exports write it (often bare).
    chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    chat_type: Mapped[str | None] = mapped_column(String(16))  # channel, supergroup, group
    target_since: Mapped[datetime | None] = mapped_column()  # set: tgpipe publishes here
    # Why the bot cannot post here now (a 403); cleared by adding the channel again.
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    # Telegram asked to wait (429 retry_after): no process sends here before this time.
    deferred_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    @property
    def display_name(self) -> str:
        return f"@{self.username}" if self.username else self.title


class Post(Base):
    """One piece of content, deduplicated; its sightings are :class:`PostSource` rows."""

    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_status_date", "status", "date"),
        # `posts list`: the newest posts of a large store without sorting it.
        Index("ix_posts_date_id", "date", "id"),
        CheckConstraint("duplicate_of IS NULL OR duplicate_of <> id", name="not_own_duplicate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text, default="")
    # Bot API MessageEntity dicts with UTF-16 offsets: republishable exactly as written.
    entities: Mapped[list[Any]] = mapped_column(default=list)
    media: Mapped[list[Any]] = mapped_column(default=list)
    link_preview: Mapped[dict[str, Any] | None] = mapped_column()
    title: Mapped[str | None] = mapped_column(Text)  # articles' headline
    forwarded_from: Mapped[str | None] = mapped_column(String(255))
    reply_to: Mapped[int | None] = mapped_column(BigInteger)  # a message id in the same chat
    author: Mapped[str | None] = mapped_column(String(255))
    # The author's id as the export writes it ("user123"), when the author is a sender.
    author_id: Mapped[str | None] = mapped_column(String(64))
    date: Mapped[datetime | None] = mapped_column()
    edited_at: Mapped[datetime | None] = mapped_column()
    views: Mapped[int | None] = mapped_column(BigInteger)
    # When the sighting whose reactions and views are stored was taken (its file's time):
    # a later import updates them only from a newer sighting.
    counts_seen_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[PostStatus] = mapped_column(
        _enum(PostStatus, "post_status"), default=PostStatus.DRAFT
    )
    # Normalised-content hash for same-content dedup; NULL for posts too short to compare.
    # Not indexed: equal content shares every dedup key, so post_keys finds it.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), index=True
    )
    duplicate_reason: Mapped[DuplicateReason | None] = mapped_column(
        _enum(DuplicateReason, "duplicate_reason")
    )
    similarity: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    channel: Mapped[Channel | None] = relationship(lazy="raise")
    sources: Mapped[list[PostSource]] = relationship(
        back_populates="post", lazy="raise", order_by="PostSource.id"
    )
    reactions: Mapped[list[ReactionCount]] = relationship(
        lazy="raise", order_by="ReactionCount.reaction"
    )


class PostKey(Base):
    """The dedup index: a post's LSH and content keys (``pipeline.dedup.signature``).

    Two posts sharing a key are compared; the posts similar to a new one are found through
    its keys in this table, never by scanning the store. No foreign key: the rows are derived
    from the posts' text (``pipeline.dedup.index`` rebuilds them), checking one per inserted
    row was an import's largest cost on PostgreSQL, and a key of a post that is gone finds
    nothing (the clusterer skips a post it cannot load).
    """

    __tablename__ = "post_keys"
    # The primary key is the look-up index; SQLite stores it without a separate rowid.
    __table_args__ = ({"sqlite_with_rowid": False},)

    key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    post_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class DedupState(Base):
    """One row: how the dedup index and clusters in this store were built.

    When tgpipe's features version or the configured threshold differ from these, the next
    import rebuilds the index and the clusters first.
    """

    __tablename__ = "dedup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    features_version: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    built_at: Mapped[datetime] = mapped_column(default=now_utc)


class ChannelMessage(Base):
    """The identity of a message in a chat: (channel, message id) belongs to exactly one post."""

    __tablename__ = "channel_messages"
    __table_args__ = (UniqueConstraint("channel_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigInteger)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)


class PostSource(Base):
    """Provenance: one place a post was seen (a message of a chat, in one file and format).

    Re-importing the same file finds its row by (post, file, format, fingerprint) and only
    refreshes ``last_seen_at`` and the import run, so sightings never pile up.
    """

    __tablename__ = "post_sources"
    # Its leading post_id also serves look-ups of a post's sources.
    __table_args__ = (UniqueConstraint("post_id", "file", "format", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # None: the format has no ids
    import_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL"), index=True
    )
    file: Mapped[str] = mapped_column(String(1024))
    format: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))  # hash of the message as read
    first_seen_at: Mapped[datetime] = mapped_column(default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(default=now_utc)

    post: Mapped[Post] = relationship(back_populates="sources", lazy="raise")
    channel: Mapped[Channel | None] = relationship(lazy="raise")


class ReactionCount(Base):
    """The latest count of one reaction type on one post."""

    __tablename__ = "reaction_counts"
    __table_args__ = (UniqueConstraint("post_id", "reaction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    # The emoji itself, 'custom:<custom_emoji_id>' or 'paid' (the CLI's JSON keys).
    reaction: Mapped[str] = mapped_column(String(96))
    count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)


class ReactionSnapshot(Base):
    """A reaction count at one moment, so growth can be charted."""

    __tablename__ = "reaction_snapshots"
    __table_args__ = (Index("ix_reaction_snapshots_post_id_taken_at", "post_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    reaction: Mapped[str] = mapped_column(String(96))
    count: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(default=now_utc)


class AutopostRule(Base):
    """Recurring posting of drafts to one chat, on a cron expression in a time zone."""

    __tablename__ = "autopost_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    cron: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    policy: Mapped[AutopostPolicy] = mapped_column(
        _enum(AutopostPolicy, "autopost_policy"), default=AutopostPolicy.OLDEST
    )
    # Only drafts imported from this channel / carrying this hashtag (lower case, no '#').
    source_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL")
    )
    tag: Mapped[str | None] = mapped_column(String(128))
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Only drafts that are the chat's own (its posts, and uploads for it): a rule an admin of
    # one chat made draws on what that admin may see, not on the whole store.
    own_drafts: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set (posts a day): the cron is the channel's best hours (pipeline.stats), read again
    # from its history after each firing, so the rule follows what the audience does.
    best_hours: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_fired_at: Mapped[datetime | None] = mapped_column()
    # Set by the first firing that found nothing to post (the admins are told then, once);
    # cleared by the next firing that posts.
    empty_since: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    channel: Mapped[Channel] = relationship(foreign_keys=[channel_id], lazy="raise")


class AutopostFiring(Base):
    """One firing of a rule; unique per (rule, scheduled time), so no slot fires twice, in
    however many processes."""

    __tablename__ = "autopost_firings"
    __table_args__ = (UniqueConstraint("rule_id", "fire_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("autopost_rules.id", ondelete="CASCADE"))
    fire_at: Mapped[datetime] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16))  # 'queued' or 'empty'
    publication_id: Mapped[int | None] = mapped_column(
        ForeignKey("publications.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=now_utc)


class Publication(Base):
    """One planned delivery of a post (or a forward of messages) to one chat at one time."""

    __tablename__ = "publications"
    __table_args__ = (
        # The dispatcher's query: what is due, oldest first.
        Index("ix_publications_state_due_at", "state", "due_at"),
        Index("ix_publications_channel_id_state", "channel_id", "state"),
        CheckConstraint("post_id IS NOT NULL OR from_chat IS NOT NULL", name="has_content"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="RESTRICT"), index=True
    )
    mode: Mapped[PublicationMode] = mapped_column(_enum(PublicationMode, "publication_mode"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="RESTRICT"))
    # Forwards and copies: the source chat (@name or Bot API id) and its message ids (an
    # album is all of its ids).
    from_chat: Mapped[str | None] = mapped_column(String(64))
    from_message_ids: Mapped[list[Any]] = mapped_column(default=list)
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Messages this delivery sends (an album counts its items): what the send limits charge.
    size: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime] = mapped_column()
    # Not before this time (a retry's backoff); None: as soon as due.
    not_before: Mapped[datetime | None] = mapped_column()
    state: Mapped[PublicationState] = mapped_column(
        _enum(PublicationState, "publication_state"), default=PublicationState.SCHEDULED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_ids: Mapped[list[Any]] = mapped_column(default=list)  # Telegram ids once sent
    # Messages of a multi-message delivery already sent: a retry goes on from the next one.
    parts_done: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[list[Any]] = mapped_column(default=list)  # e.g. media that was missing
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # instance that is sending it
    claimed_at: Mapped[datetime | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    autopost_rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("autopost_rules.id", ondelete="SET NULL")
    )
    created_by: Mapped[int | None] = mapped_column(BigInteger)  # Telegram user id, None = CLI
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    post: Mapped[Post | None] = relationship(lazy="raise")
    channel: Mapped[Channel] = relationship(lazy="raise")


class PublishedMessage(Base):
    """A message tgpipe sent, by the chat's Bot API id: where the reactions it receives
    belong (its publication, and through it the post), with their latest counts."""

    __tablename__ = "published_messages"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    publication_id: Mapped[int] = mapped_column(
        ForeignKey("publications.id", ondelete="CASCADE"), index=True
    )
    # {reaction key: count}, keys as in reaction_counts; empty until an update arrives.
    reactions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # Telegram's time of the newest update applied: an older one never replaces it.
    counted_at: Mapped[datetime | None] = mapped_column()


class PublishedSnapshot(Base):
    """The reactions of one published message at one moment, so growth can be charted."""

    __tablename__ = "published_snapshots"
    __table_args__ = (
        # A repeated update is the same snapshot, not a second one.
        UniqueConstraint("chat_id", "message_id", "taken_at"),
        Index("ix_published_snapshots_publication_id_taken_at", "publication_id", "taken_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[datetime] = mapped_column()
    reactions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[int] = mapped_column(Integer)


class ReactionVote(Base):
    """One person's reactions to a message tgpipe sent to a group: groups report who changed
    what (``message_reaction``), not totals, so the totals are counted from these."""

    __tablename__ = "reaction_votes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["chat_id", "message_id"],
            ["published_messages.chat_id", "published_messages.message_id"],
            ondelete="CASCADE",
        ),
    )

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The user's id, or the id of the chat that reacted anonymously on its behalf.
    voter: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reactions: Mapped[list[Any]] = mapped_column(default=list)
    voted_at: Mapped[datetime] = mapped_column()


class SendLog(Base):
    """Messages sent (or claimed to be sent) to a chat: every process reads Telegram's send
    limits from here, so they hold across processes sharing the store."""

    __tablename__ = "send_log"
    __table_args__ = (Index("ix_send_log_channel_id_sent_at", "channel_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    publication_id: Mapped[int | None] = mapped_column(
        ForeignKey("publications.id", ondelete="SET NULL")
    )
    sent_at: Mapped[datetime] = mapped_column(index=True)
    messages: Mapped[int] = mapped_column(Integer)


class Watch(Base):
    """A public channel pulled from its web preview on an interval (``pipeline/sources``),
    its new posts optionally queued for a target chat after a delay."""

    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # lower case, no '@'
    every_seconds: Mapped[int] = mapped_column(Integer)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    policy: Mapped[WatchPolicy] = mapped_column(
        _enum(WatchPolicy, "watch_policy"), default=WatchPolicy.ALL
    )
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_check_at: Mapped[datetime] = mapped_column(default=now_utc, index=True)
    last_checked_at: Mapped[datetime | None] = mapped_column()
    # The newest message id the watch has seen: the next check reads back to it, no further.
    last_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # The preview's validators from the last check, to ask whether it changed since.
    etag: Mapped[str | None] = mapped_column(String(256))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    # Checks that failed in a row, since when, and why; the admins are told once a streak.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    target: Mapped[Channel | None] = relationship(lazy="raise")


class Notice(Base):
    """Something the admins must be told, once: an outbox the running bot (or the CLI) reads.

    ``key`` names the fact (e.g. ``unknown:42``), so telling it twice is a no-op.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


class Lock(Base):
    """Named rows that serialise short critical sections across processes: a claim updates
    its lock row first, which takes SQLite's write lock or PostgreSQL's row lock."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)


class AdminPrefs(Base):
    """What one admin chose for themselves in the bot (/tz): their time zone for reading and
    showing times, instead of TGPIPE_TIMEZONE."""

    __tablename__ = "admin_prefs"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)


class ImportRun(Base):
    """What one import did, kept so admins can look at it later."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=now_utc, index=True)
    finished_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[ImportStatus] = mapped_column(
        _enum(ImportStatus, "import_status"), default=ImportStatus.RUNNING
    )
    requested_by: Mapped[str | None] = mapped_column(String(64))  # 'cli' or a Telegram user id
    # The chat an admin of it imported for (an upload to the bot): its posts are theirs to see.
    into_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    parsed: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    near_duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[list[Any]] = mapped_column(default=list)  # the per-file report
    errors: Mapped[list[Any]] = mapped_column(default=list)
