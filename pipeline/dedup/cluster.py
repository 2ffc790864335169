"""Clusters of duplicates: which post is canonical, and what every other one duplicates.

The clustering is defined on the whole store, so that import order never changes it: take
the posts from the most complete to the least (:class:`Rank`); each joins the most similar
canonical post ranked above it, or is canonical itself. A post's place therefore depends
only on the posts ranked above it, which makes exact incremental upkeep possible: when posts
arrive or change, they and whatever they may affect are decided again, highest rank first,
and a post whose canonical status changes passes the question on to the posts ranked below
it that resemble it. The result equals clustering the whole store from scratch.

"Resemble" (neighbours): two posts that share an index key and whose similarity reaches the
threshold, or that have equal content hashes.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.dedup.features import is_text_hash, words_of
from pipeline.dedup.signature import exact_key, lsh_keys
from pipeline.dedup.similarity import Text, similarity
from pipeline.dedup.staging import StagedKeys
from pipeline.dedup.text import tokens
from pipeline.store.models import (
    Channel,
    ChannelMessage,
    DuplicateReason,
    Post,
    PostKey,
    ReactionCount,
)
from pipeline.store.values import among, dialect_name

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True, order=True)
class Rank:
    """How complete a version is; greater is more complete.

    Longest comparable text first (so a footer or a preview's lost lines do not count), then
    formatting, media, reactions, views, then the earliest date (the original), then a
    tie-break taken from the post's own identity, never from the order it was stored in.
    """

    words: int
    entities: int
    media: int
    reactions: int
    views: int
    earliness: float
    tiebreak: str


def rank_of(
    *,
    words: int,
    entities: int,
    media: int,
    reactions: int,
    views: int | None,
    date: datetime | None,
    channel: str,
    message_id: int | None,
    text: str,
) -> Rank:
    digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    return Rank(
        words,
        entities,
        media,
        reactions,
        views or 0,
        -date.timestamp() if date else float("-inf"),
        f"{channel}\x1f{message_id if message_id is not None else ''}\x1f{digest}",
    )


@dataclass(slots=True)
class Node:
    """One post as the clustering sees it."""

    id: int
    rank: Rank
    channel_id: int | None
    has_ids: bool  # False for posts from formats without message ids (text copies)
    content_hash: str | None
    keys: tuple[int, ...] | None  # None: not computed yet (only needed to find neighbours)
    words: tuple[str, ...] | None  # () for posts compared only by media bytes; None: not
    # computed yet (from ``body``, when the post first meets a candidate)
    body: str = ""
    duplicate_of: int | None = None
    reason: DuplicateReason | None = None
    similarity: float | None = None
    stored: tuple[int | None, DuplicateReason | None, float | None] | None = None
    _text: Text | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.stored is None:
            self.stored = self.state  # as read from the store, or as just written to it

    @property
    def compared_words(self) -> tuple[str, ...]:
        if self.words is None:
            self.words = words_of(self.body, self.content_hash)
        return self.words

    @property
    def text(self) -> Text:
        if self._text is None:
            self._text = Text(self.compared_words)
        return self._text

    @property
    def state(self) -> tuple[int | None, DuplicateReason | None, float | None]:
        return (self.duplicate_of, self.reason, self.similarity)


@dataclass(slots=True)
class Change:
    post_id: int
    duplicate_of: int | None
    reason: DuplicateReason | None
    similarity: float | None
    was_canonical: bool


def relation(duplicate: Node, canonical: Node, score: float) -> DuplicateReason:
    """Why ``duplicate`` is a duplicate of ``canonical``.

    The same message seen through a format without message ids is the same source; the same
    text again in one channel is the same content; a re-post by another channel, equal or
    not, and any merely similar text is a near duplicate.
    """
    same_channel = duplicate.channel_id == canonical.channel_id
    one_without_ids = not (duplicate.has_ids and canonical.has_ids)
    if same_channel and duplicate.channel_id is not None and one_without_ids:
        return DuplicateReason.SAME_SOURCE
    if same_channel and duplicate.content_hash == canonical.content_hash:
        return DuplicateReason.SAME_CONTENT
    return DuplicateReason.NEAR_DUPLICATE


class _Pending:
    """A heap entry: the highest rank comes out first."""

    __slots__ = ("node", "order")

    def __init__(self, node: Node) -> None:
        self.node = node
        # The rank as a plain tuple, compared in C: a heap of a batch compares thousands.
        rank = node.rank
        self.order = (
            rank.words, rank.entities, rank.media, rank.reactions, rank.views, rank.earliness,
            rank.tiebreak,
        )  # fmt: skip

    def __lt__(self, other: _Pending) -> bool:
        return self.order > other.order


class Clusterer:
    """Settles the clusters around posts that were just added or changed, in one session."""

    def __init__(
        self, session: AsyncSession, threshold: float, staged: StagedKeys | None = None
    ) -> None:
        self._session = session
        self._threshold = threshold
        self._staged = staged  # keys of posts written earlier, not in post_keys yet
        self._nodes: dict[int, Node] = {}
        self._neighbours: dict[int, dict[int, float]] = {}
        self._unindexed: dict[int, list[int]] = {}  # key -> added posts not in post_keys yet

    def add(self, node: Node, *, indexed: bool = True) -> None:
        """A post already written in this session, given so it need not be read back.

        ``indexed=False``: its keys are not in post_keys yet (the writer adds them after
        settling), so look-ups find it here. Most of a batch's keys are its own: probing the
        index for them only to drop each row was most of the candidate look-up's work."""
        self._nodes[node.id] = node
        if not indexed:
            for key in node.keys or ():
                self._unindexed.setdefault(key, []).append(node.id)

    async def settle(self, fresh: Iterable[int]) -> list[Change]:
        """Decide again ``fresh`` (new or changed) posts and everything that depends on them;
        write the changes and return them."""
        fresh_ids = set(fresh)
        await self._load(fresh_ids)
        # A changed post's former duplicates depend on it whatever its new rank.
        members = await self._members_of(fresh_ids)
        await self._load(members)
        pending = {i for i in fresh_ids | members if i in self._nodes}
        heap = [_Pending(self._nodes[i]) for i in pending]
        heapq.heapify(heap)
        changes: list[Change] = []
        while heap:
            node = heapq.heappop(heap).node
            if node.id not in pending:
                continue
            if node.id not in self._neighbours:
                await self._find_neighbours([i for i in pending if i not in self._neighbours])
            pending.discard(node.id)
            was_canonical = node.duplicate_of is None
            self._decide(node)
            is_canonical = node.duplicate_of is None
            if node.id in fresh_ids or was_canonical != is_canonical:
                for other_id in self._neighbours[node.id]:
                    other = self._nodes[other_id]
                    if other.rank < node.rank and other_id not in pending:
                        pending.add(other_id)
                        heapq.heappush(heap, _Pending(other))
            if node.state != node.stored:
                changes.append(
                    Change(node.id, node.duplicate_of, node.reason, node.similarity, was_canonical)
                )
                node.stored = node.state
        await self._write(changes)
        return changes

    def _decide(self, node: Node) -> None:
        best: Node | None = None
        best_score = 0.0
        for other_id, score in self._neighbours[node.id].items():
            other = self._nodes[other_id]
            eligible = other.rank > node.rank and other.duplicate_of is None
            if eligible and (best is None or (score, other.rank) > (best_score, best.rank)):
                best, best_score = other, score
        if best is None:
            node.duplicate_of = node.reason = node.similarity = None
        else:
            node.duplicate_of = best.id
            node.reason = relation(node, best, best_score)
            node.similarity = round(best_score, 4)

    def _score(self, a: Node, b: Node) -> float:
        if a.content_hash is not None and a.content_hash == b.content_hash:
            return 1.0
        if not a.compared_words or not b.compared_words:
            return 0.0
        return similarity(a.text, b.text, floor=self._threshold)

    async def _find_neighbours(self, ids: list[int]) -> None:
        _compute_keys([self._nodes[i] for i in ids if self._nodes[i].keys is None])
        found_for = await find_candidates(
            self._session, [(i, self._nodes[i].keys or ()) for i in ids], self._staged
        )
        candidates = dict(zip(ids, found_for, strict=True))
        if self._unindexed:
            for i, found in candidates.items():
                for key in self._nodes[i].keys or ():
                    found.update(self._unindexed.get(key, ()))
                found.discard(i)
        await self._load({other for found in candidates.values() for other in found})
        for i, found in candidates.items():
            node = self._nodes[i]
            neighbours = self._neighbours.setdefault(i, {})
            for other_id in found:
                other = self._nodes.get(other_id)
                if other is None:
                    continue
                score = self._score(node, other)
                if score >= self._threshold:
                    neighbours[other_id] = score
                    # Symmetric: keep the other side's list right if it was already built.
                    if other_id in self._neighbours:
                        self._neighbours[other_id][i] = score

    async def _members_of(self, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        dialect = dialect_name(self._session)
        rows = await self._session.scalars(
            select(Post.id).where(among(Post.duplicate_of, ids, dialect))
        )
        return set(rows)

    async def _load(self, ids: Iterable[int]) -> None:
        missing = sorted(i for i in ids if i not in self._nodes)
        if missing:
            for node in await load_nodes(self._session, missing):
                self._nodes[node.id] = node

    async def _write(self, changes: list[Change]) -> None:
        if changes:
            await self._session.execute(
                update(Post),
                [
                    {
                        "id": change.post_id,
                        "duplicate_of": change.duplicate_of,
                        "duplicate_reason": change.reason,
                        "similarity": change.similarity,
                    }
                    for change in changes
                ],
            )


async def find_candidates(
    session: AsyncSession,
    posts: Sequence[tuple[int | None, Sequence[int]]],
    staged: StagedKeys | None = None,
) -> list[set[int]]:
    """For each (post id or None, its keys): the stored posts sharing a key with it, by
    ``post_keys`` and the keys ``staged`` to be written to it.

    All of them, however many: capping them would make which posts meet depend on the order
    they were stored in, and the clusters with it. Stores of real channels average well
    under one candidate per post (bench/dedup_bench.py); a post repeated many times is cheap
    (equal content hashes need no shingles); a huge family of template posts is slow."""
    result: list[set[int]] = [set() for _ in posts]
    wanted = sorted({key for _, keys in posts for key in keys})
    if not wanted:
        return result
    # Each key once, however many posts ask for it: a batch's posts share many keys, and
    # a template channel's share most. Its holders then reach every post asking for it.
    holders: dict[int, list[int]] = {}
    rows = await session.execute(
        select(PostKey.key, PostKey.post_id).where(
            among(PostKey.key, wanted, dialect_name(session))
        )
    )
    for key, holder in rows:
        holders.setdefault(key, []).append(holder)
    if staged is not None:
        for key, post_ids in staged.holders(wanted).items():
            holders.setdefault(key, []).extend(post_ids)
    for found, (post_id, keys) in zip(result, posts, strict=True):
        for key in keys:
            if key in holders:
                found.update(holders[key])
        found.discard(post_id)  # a stored post's own keys are in the index
    return result


async def load_nodes(session: AsyncSession, ids: Sequence[int]) -> list[Node]:
    """Stored posts as nodes, with their keys recomputed from their text."""
    reactions = (
        select(func.coalesce(func.sum(ReactionCount.count), 0))
        .where(ReactionCount.post_id == Post.id)
        .scalar_subquery()
    )
    first_message = (
        select(func.min(ChannelMessage.message_id))
        .where(ChannelMessage.post_id == Post.id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            Post.id,
            Post.channel_id,
            Post.text,
            # Only their lengths count here: decoding every post's JSON cost more than the
            # rest of the row.
            func.json_array_length(Post.entities).label("entities"),
            func.json_array_length(Post.media).label("media"),
            Post.views,
            Post.date,
            Post.content_hash,
            Post.duplicate_of,
            Post.duplicate_reason,
            Post.similarity,
            reactions,
            first_message,
            Channel.username,
            Channel.title,
        )
        .outerjoin(Channel, Channel.id == Post.channel_id)
        .where(among(Post.id, ids, dialect_name(session)))
    )
    found = rows.all()
    texts = [tuple(tokens(row.text)) if is_text_hash(row.content_hash) else () for row in found]
    nodes = []
    for row, words in zip(found, texts, strict=True):
        node = Node(
            id=row.id,
            rank=rank_of(
                words=len(words),
                entities=row.entities or 0,
                media=row.media or 0,
                reactions=int(row[11] or 0),
                views=row.views,
                date=row.date,
                channel=row.username or row.title or "",
                message_id=row[12],
                text=row.text,
            ),
            channel_id=row.channel_id,
            has_ids=row[12] is not None,
            content_hash=row.content_hash,
            keys=None,
            words=words,
            duplicate_of=row.duplicate_of,
            reason=row.duplicate_reason,
            similarity=row.similarity,
        )
        nodes.append(node)
    return nodes


def _compute_keys(nodes: Sequence[Node]) -> None:
    """A stored post's keys follow from its text: recomputing them (only for the posts whose
    neighbours are needed) is cheaper than reading post_keys, whose index is by key."""
    with_words = [node for node in nodes if node.compared_words]
    words = [node.compared_words for node in with_words]
    for node, keys in zip(with_words, lsh_keys(words), strict=True):
        node.keys = tuple(keys)
    for node in nodes:
        if node.keys is None:
            node.keys = (exact_key(node.content_hash),) if node.content_hash else ()
