"""Clusters of duplicates: which post is canonical, and what every other one duplicates.

The clustering is defined on the whole store, so that import order never changes it: take
the posts from the most complete to the least (:class:`Rank`); each joins the most similar
canonical post ranked above it, or is canonical itself. A post's place therefore depends
only on the posts ranked above it, which makes exact incremental upkeep possible: when posts
arrive or change, they and whatever they may affect are decided again, highest rank first,
and a post whose canonical status changes passes the question on to the posts ranked below
it that resemble it. The result equals clustering the whole store from scratch.

"Resemble" (neighbours): two posts that share an index key and whose similarity reaches the
threshold, or that have equal content hashes. Through a hot key (one held by more than
``HOT_KEY`` posts: a channel of one layout) two posts meet only when their numbers are equal
too, so that a post's work stays bounded however many posts share its layout; when a key
becomes hot (or stops being), every post holding it is decided again.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import sys
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.dedup.features import is_text_hash, words_of
from pipeline.dedup.signature import HOT_KEY, exact_key, hot_mark, lsh_keys, refined_key
from pipeline.dedup.similarity import Text, numbers, similarity
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

    def forget_text(self) -> None:
        """Let the shingles go (most of a node's memory); they follow from the words again."""
        self._text = None

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


# Posts whose candidates are read and compared at a time.
_SCORED_TOGETHER = 500


class KnownNodes:
    """The nodes an import met in its earlier batches, reused instead of read again.

    In a channel of one layout, each batch's candidates are mostly the posts of the batches
    before it: reading them back (row, words, rank) was a third of the import's time, and
    grew with the channel. Only the writer changes posts while it imports, and every change
    to a post's standing goes through its node, so a kept node stays true; the writer
    forgets the posts it sights again (their counts, text or message ids may change their
    rank). Bounded, least recently met first out, without shingles (most of a node's memory).
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._nodes: OrderedDict[int, Node] = OrderedDict()

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, post_id: int) -> Node | None:
        return self._nodes.get(post_id)

    def keep(self, nodes: Iterable[Node]) -> None:
        kept = self._nodes
        for node in nodes:
            node.forget_text()
            if node.body and node.words is not None:  # a new post (stored ones have no body)
                # Interned like the words of stored posts: most are the template's.
                node.words = tuple(map(sys.intern, node.words))
                node.body = ""  # only needed to find the words
                node.keys = None  # they follow from the words again, when they are needed
            if node.id in kept:
                kept.move_to_end(node.id)
            else:
                kept[node.id] = node
        while len(kept) > self._limit:
            kept.popitem(last=False)

    def forget(self, post_ids: Iterable[int]) -> None:
        for post_id in post_ids:
            self._nodes.pop(post_id, None)


class Clusterer:
    """Settles the clusters around posts that were just added or changed, in one session."""

    def __init__(
        self,
        session: AsyncSession,
        threshold: float,
        staged: StagedKeys | None = None,
        hot: set[int] | None = None,
        known: KnownNodes | None = None,
    ) -> None:
        self._session = session
        self._threshold = threshold
        self._staged = staged  # keys of posts written earlier, not in post_keys yet
        # Keys known to be hot and marked, kept by the caller from one batch to the next:
        # their holders (thousands, in a channel of one layout) are never read again.
        self.known_hot = hot if hot is not None else set()
        self._known = known  # nodes of earlier batches, kept by the caller the same way
        self._met: set[int] = set()  # posts read here, or that met candidates: kept after
        self._nodes: dict[int, Node] = {}
        self._neighbours: dict[int, dict[int, float]] = {}
        self._unindexed: dict[int, list[int]] = {}  # key -> added posts not in post_keys yet
        self._hot: dict[int, bool] = {}  # key -> held by more than HOT_KEY posts
        self._unrefined: set[int] = set()  # posts whose refined keys are not in post_keys
        self._met_only: set[int] = set()  # posts read only as candidates, resembling none
        # What settling found the index must gain or lose besides the new posts' own keys:
        # refined keys and hot marks, as (key, post id). The caller writes them.
        self.rows_to_add: set[tuple[int, int]] = set()
        self.rows_to_drop: set[tuple[int, int]] = set()

    def add(self, node: Node, *, indexed: bool = True) -> None:
        """A post already written in this session, given so it need not be read back.

        ``indexed=False``: its keys are not in post_keys yet (the writer adds them after
        settling), so look-ups find it here. Most of a batch's keys are its own: probing the
        index for them only to drop each row was most of the candidate look-up's work."""
        self._nodes[node.id] = node
        if not indexed:
            self._unrefined.add(node.id)
            for key in node.keys or ():
                self._unindexed.setdefault(key, []).append(node.id)

    def rekeyed(self, post_ids: Iterable[int]) -> None:
        """Posts whose keys were just replaced in post_keys (and their refined keys dropped)."""
        self._unrefined.update(post_ids)

    async def settle(self, fresh: Iterable[int], removed_keys: Iterable[int] = ()) -> list[Change]:
        """Decide again ``fresh`` (new or changed) posts and everything that depends on them;
        write the changes and return them. ``removed_keys``: keys that re-keyed posts lost,
        which may have stopped being hot."""
        fresh_ids = set(fresh)
        await self._load(fresh_ids)
        # A changed post's former duplicates depend on it whatever its new rank.
        members = await self._members_of(fresh_ids)
        await self._load(members)
        pending = {i for i in fresh_ids | members if i in self._nodes}
        # Neighbours first, before anything is decided: a key that became hot, or stopped
        # being, changes whom its holders meet, and they are all decided again.
        redo = await self._find_neighbours(sorted(pending), set(removed_keys))
        while redo:
            fresh_ids |= redo
            pending |= redo
            redo = await self._find_neighbours(sorted(redo - self._neighbours.keys()))
        heap = [_Pending(self._nodes[i]) for i in pending]
        heapq.heapify(heap)
        changes: list[Change] = []
        while heap:
            node = heapq.heappop(heap).node
            if node.id not in pending:
                continue
            if node.id not in self._neighbours:
                # Posts stored before, whose keys kept their counts: only a store refined
                # under other rules has hot keys to settle here, after the first decisions.
                for other_id in await self._find_neighbours(
                    [i for i in pending if i not in self._neighbours]
                ):
                    if other_id not in pending and other_id in self._nodes:
                        fresh_ids.add(other_id)
                        pending.add(other_id)
                        heapq.heappush(heap, _Pending(self._nodes[other_id]))
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
        if self._known is not None:
            # Only posts that share keys with others are kept: the new posts of a normal
            # channel, which meet nothing, would crowd out the few it meets again.
            self._known.keep(self._nodes[i] for i in self._met)
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

    async def _find_neighbours(self, ids: list[int], removed_keys: Iterable[int] = ()) -> set[int]:
        """Find the neighbours of ``ids``. Returns the stored posts to decide again because
        one of their keys became hot, or stopped being (``removed_keys`` may have)."""
        nodes = [self._nodes[i] for i in ids if i in self._nodes]
        _compute_keys([node for node in nodes if node.keys is None])
        raw = {key for node in nodes for key in node.keys or ()}
        removed = set(removed_keys)
        holders = await _holders(
            self._session, sorted((raw - self.known_hot) | removed), self._staged
        )
        redo = await self._settle_heat(raw, removed, holders)
        # Through a hot key a post is looked up, and found, by its refined key instead.
        effective = {node.id: self._effective_keys(node) for node in nodes}
        for node in nodes:
            if node.id in self._unrefined:
                self._unrefined.discard(node.id)
                for key, instead in zip(node.keys or (), effective[node.id], strict=True):
                    if key != instead:
                        self._index(instead, node.id)
        refined = sorted({key for keys in effective.values() for key in keys} - raw)
        holders.update(await _holders(self._session, refined, self._staged))
        candidates: dict[int, set[int]] = {}
        for node in nodes:
            found = candidates[node.id] = set()
            for key in effective[node.id]:
                found.update(holders.get(key, ()))
                found.update(self._unindexed.get(key, ()))
            found.discard(node.id)
            found.discard(0)  # a hot mark's row, if a key equals one by chance
            if found:
                self._met.add(node.id)
        # A part of the posts at a time, and the shingles of a candidate that resembles none of
        # them let go after its last part: memory then follows the neighbours a batch has
        # more than its candidates (in a channel of one layout, tens of thousands that share
        # a key by chance, with most of their words).
        looked_up = list(candidates.items())
        parts = [
            looked_up[start : start + _SCORED_TOGETHER]
            for start in range(0, len(looked_up), _SCORED_TOGETHER)
        ]
        last_part = {
            other: index for index, part in enumerate(parts) for _, found in part for other in found
        }
        for index, part in enumerate(parts):
            self._met_only |= await self._load({other for _, found in part for other in found})
            for i, found in part:
                node = self._nodes[i]
                neighbours = self._neighbours.setdefault(i, {})
                for other_id in found:
                    other = self._nodes.get(other_id)
                    if other is None:
                        continue
                    score = self._score(node, other)
                    if score >= self._threshold:
                        neighbours[other_id] = score
                        self._met_only.discard(other_id)
                        # Symmetric: keep the other side's list right if it was already built.
                        if other_id in self._neighbours:
                            self._neighbours[other_id][i] = score
            done = [other for _, found in part for other in found if last_part[other] == index]
            for other_id in self._met_only.intersection(done):
                self._nodes[other_id].forget_text()
        return redo

    def _effective_keys(self, node: Node) -> tuple[int, ...]:
        keys = node.keys or ()
        if not any(self._hot[key] for key in keys):
            return keys
        figures = node.text.numbers
        return tuple(refined_key(key, figures) if self._hot[key] else key for key in keys)

    def _index(self, key: int, post_id: int) -> None:
        """A row the index must gain, found by look-ups in this session until it is written."""
        if (key, post_id) not in self.rows_to_add:
            self.rows_to_add.add((key, post_id))
            self._unindexed.setdefault(key, []).append(post_id)

    async def _settle_heat(
        self, keys: set[int], removed: set[int], holders: dict[int, list[int]]
    ) -> set[int]:
        """Learn which of ``keys`` are hot. A key's mark row says its holders are refined:
        when a key is hot but unmarked, refine its stored holders (new posts are refined as
        they are looked up); when a key that lost holders (``removed``) is marked but no
        longer hot, drop the refined keys. Returns the stored holders of such keys."""
        unknown = [key for key in keys if key not in self._hot]
        for key in [*unknown, *removed]:
            if key in self.known_hot and key not in removed:
                self._hot[key] = True
                continue
            count = len(holders.get(key, ())) + len(self._unindexed.get(key, ()))
            self._hot[key] = count > HOT_KEY
        unknown = [key for key in unknown if key not in self.known_hot]
        # Only the marks that can be out of step are looked up: those of keys just found hot,
        # and of keys that lost holders.
        asked = [key for key in unknown if self._hot[key]] + [
            key for key in removed if not self._hot[key]
        ]
        if not asked:
            return set()
        marks = {hot_mark(key): key for key in asked}
        found = await _holders(self._session, sorted(marks), self._staged)
        marked = {marks[mark] for mark in found} | {
            marks[mark] for mark, _ in self.rows_to_add if mark in marks
        }
        redo: set[int] = set()
        for key in asked:
            if self._hot[key]:
                self.known_hot.add(key)
            else:
                self.known_hot.discard(key)
            if self._hot[key] == (key in marked):
                continue
            stored = [i for i in holders.get(key, ()) if i]
            await self._load(stored)
            rows = {(refined_key(key, self._nodes[i].text.numbers), i) for i in stored}
            rows.add((hot_mark(key), 0))
            if self._hot[key]:
                log.debug("dedup key %d became hot: refining its %d posts", key, len(stored))
                for row in rows:
                    self._index(*row)
            else:
                log.debug("dedup key %d is no longer hot: %d posts", key, len(stored))
                self.rows_to_drop |= rows
            redo.update(stored)
        return redo

    async def _members_of(self, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        dialect = dialect_name(self._session)
        rows = await self._session.scalars(
            select(Post.id).where(among(Post.duplicate_of, ids, dialect))
        )
        return set(rows)

    async def _load(self, ids: Iterable[int]) -> set[int]:
        """Read the posts not known yet; returns their ids."""
        missing = sorted(i for i in ids if i not in self._nodes)
        if not missing:
            return set()
        found: list[Node] = []
        if self._known is not None:
            reused = [self._known.get(i) for i in missing]
            found = [node for node in reused if node is not None]
            missing = [i for i, node in zip(missing, reused, strict=True) if node is None]
        if missing:
            found.extend(await load_nodes(self._session, missing))
        for node in found:
            self._nodes[node.id] = node
        read = {node.id for node in found}
        self._met |= read
        return read

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
    they were stored in, and the clusters with it (the clusterer bounds them its own way, by
    refining hot keys). Stores of real channels average well under one candidate per post
    (bench/dedup_bench.py)."""
    holders = await _holders(session, sorted({key for _, keys in posts for key in keys}), staged)
    result: list[set[int]] = []
    for post_id, keys in posts:
        found: set[int] = set()
        for key in keys:
            found.update(holders.get(key, ()))
        found.discard(post_id)  # a stored post's own keys are in the index
        found.discard(0)
        result.append(found)
    return result


async def _holders(
    session: AsyncSession, keys: Sequence[int], staged: StagedKeys | None
) -> dict[int, list[int]]:
    """The posts holding each of ``keys`` in post_keys or ``staged``; each key looked up
    once, however many posts ask for it (a batch's posts share many keys)."""
    holders: dict[int, list[int]] = {}
    if not keys:
        return holders
    rows = await session.execute(
        select(PostKey.key, PostKey.post_id).where(among(PostKey.key, keys, dialect_name(session)))
    )
    for key, holder in rows:
        holders.setdefault(key, []).append(holder)
    if staged is not None:
        for key, post_ids in staged.holders(keys).items():
            holders.setdefault(key, []).extend(post_ids)
    return holders


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
    # Interned: the candidates of a batch share most of their words, often all but a few.
    texts = [
        tuple(map(sys.intern, tokens(row.text))) if is_text_hash(row.content_hash) else ()
        for row in found
    ]
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


def refined_keys(keys: Sequence[int], words: Sequence[str]) -> list[int]:
    """Each of ``keys`` as refined for a post with these comparable words, were it hot."""
    found = numbers(words)
    return [refined_key(key, found) for key in keys]


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
