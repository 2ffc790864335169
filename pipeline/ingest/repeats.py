"""Messages an export lists more than once.

A Desktop export (JSON or HTML) can list one message twice — an album item written again, a
page saved over an overlapping one. One rule for every format that has message ids: a
message repeated exactly is the same message, read once; the same id with different content
is an error naming the id, since either copy may be the true one and tgpipe will not pick.

"The same" is judged on the message as parsed (text, formatting, date, media, reactions…),
so two copies that differ only in something no post keeps are one message.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Hashable

from pipeline.errors import ParseError
from pipeline.ingest.model import MediaItem, Note, ParsedPost, Skipped

# Ids a note lists by number; the rest are counted.
_NOTE_IDS = 10


def content_key(event: ParsedPost | Skipped) -> int:
    """A hash of what a post keeps of a message, equal for equal messages.

    Built from hashable field values rather than a serialisation: it is computed for every
    message of an export, and ``repr`` or ``pickle`` plus a digest cost a fifth of the
    parse. Collisions between two copies of one id (2**-64) are not a concern.
    """
    if isinstance(event, Skipped):
        return hash(("skipped", event.reason))
    preview = event.link_preview
    parts: tuple[Hashable, ...] = (
        event.text,
        tuple(event.entities),
        event.date,
        event.edited,
        event.author,
        event.author_id,
        event.forwarded_from,
        event.reply_to,
        tuple(_media_key(item) for item in event.media),
        tuple(event.reactions),
        event.views,
        (preview.url, preview.site, preview.title, preview.description) if preview else None,
        event.title,
        tuple(event.album_ids),
    )
    return hash(parts)


def _media_key(item: MediaItem) -> Hashable:
    extra = repr(item.extra) if item.extra else None  # poll answers and the like nest
    return (
        item.kind, item.file, item.file_name, item.mime_type, item.size, item.width,
        item.height, item.duration, item.hash, extra,
    )  # fmt: skip


class Repeats:
    """The ids read so far in one chat, each with its content key.

    Exports list messages by ascending id, so the ids are kept in two compact sorted arrays
    (16 bytes a message: an export can hold millions) and only an id that arrives out of order
    goes to a dict.
    """

    def __init__(self) -> None:
        self._ids = array("q")
        self._keys = array("q")
        self._unordered: dict[int, int] = {}
        self.folded = 0  # messages read again, identical
        self._folded_ids: list[int] = []  # the first few of them, for the note

    def first_time(
        self,
        message_id: int,
        event: ParsedPost | Skipped,
        fail: Callable[[str], ParseError],
    ) -> bool:
        """True for a message not read before, False for an exact repeat (drop it).

        When the id was read before with different content, raises ``fail(reason)``: the
        parser's error for this message, naming the file and the place in it.
        """
        key = content_key(event)
        ids = self._ids
        if not ids or message_id > ids[-1]:
            ids.append(message_id)
            self._keys.append(key)
            return True
        at = bisect_left(ids, message_id)
        if at < len(ids) and ids[at] == message_id:
            earlier = self._keys[at]
        elif message_id in self._unordered:
            earlier = self._unordered[message_id]
        else:
            self._unordered[message_id] = key
            return True
        if earlier != key:
            raise fail("listed twice with different content (keep one copy and import again)")
        self.folded += 1
        if len(self._folded_ids) < _NOTE_IDS:
            self._folded_ids.append(message_id)
        return False

    def note(self, where: str | None = None) -> Note | None:
        """What the report says about the repeats folded (None when there were none);
        ``where`` names the chat when the file holds several."""
        count = self.folded
        if not count:
            return None
        listed = ", ".join(str(ident) for ident in self._folded_ids)
        more = f" and {count - len(self._folded_ids)} more" if count > len(self._folded_ids) else ""
        plural = "s" if count > 1 else ""
        chat = f"{where}: " if where else ""
        return Note(
            f"{chat}{count} message{plural} listed twice, identically "
            f"(id{plural} {listed}{more}); each was read once"
        )
