"""Folding consecutive album messages into one post.

Telegram delivers an album as up to ten consecutive media messages from one sender sent in
the same second, at most one of them with a caption. Exports list them as separate
messages; tgpipe stores one post with several media items so it can be republished as one
media group.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pipeline.ingest.model import Event, ParsedPost, Reaction

ALBUM_LIMIT = 10
# Media kinds Telegram can put in a media group.
ALBUM_KINDS = frozenset({"photo", "video", "document", "audio"})


def _albumable(post: ParsedPost) -> bool:
    return post.date is not None and len(post.media) == 1 and post.media[0].kind in ALBUM_KINDS


def _belongs(album: list[ParsedPost], post: ParsedPost) -> bool:
    first = album[0]
    if len(album) >= ALBUM_LIMIT or not _albumable(post):
        return False
    if first.date is None or post.date is None or first.date != post.date:
        return False
    if (first.author, first.forwarded_from) != (post.author, post.forwarded_from):
        return False
    captions = sum(1 for item in album if item.text) + (1 if post.text else 0)
    return captions <= 1


def _merge(album: list[ParsedPost]) -> ParsedPost:
    if len(album) == 1:
        return album[0]
    captioned = next((item for item in album if item.text), album[0])
    merged = ParsedPost(
        message_id=album[0].message_id,
        text=captioned.text,
        entities=list(captioned.entities),
        date=album[0].date,
        edited=max((item.edited for item in album if item.edited), default=None),
        author=album[0].author,
        forwarded_from=album[0].forwarded_from,
        reply_to=album[0].reply_to,
        media=[media for item in album for media in item.media],
        views=max((item.views for item in album if item.views is not None), default=None),
        link_preview=captioned.link_preview,
        album_ids=[item.message_id for item in album if item.message_id is not None],
    )
    # Reactions land on one message of the album; summing keeps whichever had them.
    totals: dict[str, int] = {}
    for item in album:
        for reaction in item.reactions:
            totals[reaction.key] = totals.get(reaction.key, 0) + reaction.count
    merged.reactions = [Reaction(key, count) for key, count in totals.items()]
    return merged


def group_albums(events: Iterable[Event]) -> Iterator[Event]:
    """Pass events through, folding runs of album messages into single posts (streaming)."""
    album: list[ParsedPost] = []
    for event in events:
        if isinstance(event, ParsedPost):
            if album and _belongs(album, event):
                album.append(event)
                continue
            if album:
                yield _merge(album)
            album = [event] if _albumable(event) else []
            if not album:
                yield event
            continue
        if album:
            yield _merge(album)
            album = []
        yield event
    if album:
        yield _merge(album)
