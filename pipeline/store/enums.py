"""The store's enumerations, apart from :mod:`pipeline.store.models` (and SQLAlchemy).

The command line declares its options with them, so they are importable without the ORM;
``pipeline.store.models`` re-exports every one.
"""

from __future__ import annotations

import enum


class PostStatus(enum.StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class DuplicateReason(enum.StrEnum):
    SAME_SOURCE = "same_source"
    SAME_CONTENT = "same_content"
    NEAR_DUPLICATE = "near_duplicate"


class PublicationMode(enum.StrEnum):
    COPY = "copy"  # copyMessage of the post's published original
    FORWARD = "forward"  # forwardMessage of an existing message
    SEND = "send"  # send the stored post's content


class PublicationState(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # was 'sending' when a process died: maybe delivered, never resent
    MISSED = "missed"  # fell due while nothing was running, longer ago than the grace period


class AutopostPolicy(enum.StrEnum):
    """Which draft an autopost firing takes."""

    OLDEST = "oldest"
    NEWEST = "newest"
    RANDOM = "random"
    TOP = "top"  # most reactions


class WatchPolicy(enum.StrEnum):
    """Which of a watched channel's new posts are queued for the watch's target."""

    ALL = "all"  # every new post that is not a duplicate
    ORIGINALS = "originals"  # only the channel's own posts, not what it forwarded


class ImportStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
