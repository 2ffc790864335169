"""Keeping the whole dedup index in step with tgpipe and its settings.

The index (``post_keys``, ``posts.content_hash``) and the clusters depend on the features
version of this tgpipe and on the threshold in the settings. ``dedup_state`` records what
they were built with; when either differs (or the store predates dedup), the next import
rebuilds everything first: keys from every post's text, then the clusters from scratch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.dedup.cluster import Clusterer
from pipeline.dedup.features import compute
from pipeline.dedup.signature import FEATURES_VERSION
from pipeline.store.bulk import BulkInsert
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import DedupState, Post, PostKey
from pipeline.store.types import now_utc

log = logging.getLogger(__name__)

_CHUNK = 2000


@dataclass(slots=True, frozen=True)
class RebuildResult:
    posts: int  # posts re-keyed
    duplicates: int  # posts that are duplicates afterwards
    reason: str  # why it was rebuilt


async def _state(session: AsyncSession) -> DedupState | None:
    return await session.scalar(select(DedupState).order_by(DedupState.id).limit(1))


async def ensure_current(factory: SessionFactory, threshold: float) -> RebuildResult | None:
    """Rebuild the index when it was built differently (or never); None when it is current."""
    async with unit_of_work(factory) as session:
        state = await _state(session)
        if state is not None and (state.features_version, state.threshold) == (
            FEATURES_VERSION,
            threshold,
        ):
            return None
        if state is None:
            has_posts = await session.scalar(select(func.count()).select_from(Post)) or 0
            if not has_posts:
                session.add(DedupState(features_version=FEATURES_VERSION, threshold=threshold))
                return None
            reason = "the store had no dedup index yet"
        elif state.features_version != FEATURES_VERSION:
            reason = f"dedup features changed (v{state.features_version} → v{FEATURES_VERSION})"
        else:
            reason = f"the dedup threshold changed ({state.threshold:g} → {threshold:g})"
        return await rebuild(session, threshold, reason)


async def rebuild(session: AsyncSession, threshold: float, reason: str = "asked") -> RebuildResult:
    """Re-key every post and cluster the whole store from scratch, in the caller's session."""
    log.info("rebuilding the dedup index: %s", reason)
    connection = await session.connection()
    keys_insert = BulkInsert(cast(Table, PostKey.__table__), ("key", "post_id"), connection.dialect)
    await session.execute(delete(PostKey))
    await session.execute(
        update(Post)
        .where(Post.duplicate_of.is_not(None))
        .values(duplicate_of=None, duplicate_reason=None, similarity=None)
    )
    posts = 0
    last_id = 0
    while True:
        rows = (
            await session.execute(
                select(Post.id, Post.text, Post.media)
                .where(Post.id > last_id)
                .order_by(Post.id)
                .limit(_CHUNK)
            )
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        posts += len(rows)
        features = compute([row.text for row in rows], [_stored_hashes(row.media) for row in rows])
        await session.execute(
            update(Post),
            [
                {"id": row.id, "content_hash": f.content_hash}
                for row, f in zip(rows, features, strict=True)
            ],
        )
        await keys_insert.run(
            connection,
            [(key, row.id) for row, f in zip(rows, features, strict=True) for key in f.keys],
        )
    # Only posts sharing a key with another can be anything but canonical.
    shared = select(PostKey.key).group_by(PostKey.key).having(func.count() > 1)
    involved = sorted(
        set(await session.scalars(select(PostKey.post_id).where(PostKey.key.in_(shared))))
    )
    clusterer = Clusterer(session, threshold)
    changes = await clusterer.settle(involved)
    # The hot keys' refined keys (from scratch, none is dropped).
    await keys_insert.run(connection, sorted(clusterer.rows_to_add))
    state = await _state(session)
    if state is None:
        session.add(DedupState(features_version=FEATURES_VERSION, threshold=threshold))
    else:
        state.features_version, state.threshold, state.built_at = (
            FEATURES_VERSION,
            threshold,
            now_utc(),
        )
    await session.flush()
    duplicates = sum(1 for change in changes if change.duplicate_of is not None)
    log.info("dedup index rebuilt: %d posts, %d duplicates", posts, duplicates)
    return RebuildResult(posts, duplicates, reason)


def _stored_hashes(media: Sequence[Any] | None) -> list[str]:
    return [
        str(item["hash"]) for item in media or () if isinstance(item, dict) and item.get("hash")
    ]
