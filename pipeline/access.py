"""Who may manage what: the rule, apart from how the bot learns who administers a chat.

Users in ``TGPIPE_ADMIN_IDS`` manage everything. An administrator of a publishing target
(a channel or group the store knows by its Bot API id) manages that chat only: its queue,
rules, stats, the posts imported into it. Everyone else manages nothing, and is told nothing
about what exists: a post, channel or publication outside someone's scope is answered as if
it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.store.models import Channel


@dataclass(frozen=True, slots=True)
class Access:
    """What one person may manage."""

    user_id: int
    everything: bool = False  # a global admin
    channel_ids: frozenset[int] = frozenset()  # store ids of the target chats they administer

    @property
    def anything(self) -> bool:
        return self.everything or bool(self.channel_ids)

    @property
    def scope(self) -> frozenset[int] | None:
        """The channels a query may show; None: all of them."""
        return None if self.everything else self.channel_ids

    def allows(self, channel_id: int | None) -> bool:
        return self.everything or (channel_id is not None and channel_id in self.channel_ids)


async def target_chats(session: AsyncSession) -> list[tuple[int, int]]:
    """(store id, Bot API chat id) of every publishing target: the chats that have admins."""
    rows = await session.execute(
        select(Channel.id, Channel.chat_id)
        .where(Channel.target_since.is_not(None), Channel.chat_id.is_not(None))
        .order_by(Channel.id)
    )
    return [(channel_id, chat_id) for channel_id, chat_id in rows if chat_id is not None]
