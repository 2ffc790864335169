"""Reactions to the messages tgpipe published: handed to the recorder, which stores them in
batches (pipeline/reactions.py). Anyone's reactions count; nothing here answers."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import (
    MessageReactionCountUpdated,
    MessageReactionUpdated,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    ReactionTypePaid,
)

from pipeline.reactions import CountUpdate, ReactionRecorder, VoteUpdate

ReactionType = ReactionTypeEmoji | ReactionTypeCustomEmoji | ReactionTypePaid


def reaction_key(reaction: ReactionType) -> str:
    """The store's key of a reaction type: the emoji, ``custom:<id>`` or ``paid``."""
    if isinstance(reaction, ReactionTypeEmoji):
        return reaction.emoji
    if isinstance(reaction, ReactionTypeCustomEmoji):
        return f"custom:{reaction.custom_emoji_id}"
    return "paid"


async def on_reaction_count(
    update: MessageReactionCountUpdated, reactions: ReactionRecorder
) -> None:
    """A channel's anonymous totals for one message."""
    counts: dict[str, int] = {}
    for item in update.reactions:
        key = reaction_key(item.type)
        counts[key] = counts.get(key, 0) + item.total_count
    reactions.add(CountUpdate(update.chat.id, update.message_id, update.date, counts))


async def on_reaction(update: MessageReactionUpdated, reactions: ReactionRecorder) -> None:
    """One person (or a chat on their behalf) changed their reactions to a group message."""
    voter = update.user.id if update.user else update.actor_chat.id if update.actor_chat else None
    if voter is None:
        return  # Telegram names one of the two; without either there is nothing to count
    keys = tuple(dict.fromkeys(reaction_key(r) for r in update.new_reaction))
    reactions.add(VoteUpdate(update.chat.id, update.message_id, update.date, voter, keys))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message_reaction_count.register(on_reaction_count)
    router.message_reaction.register(on_reaction)
    return router
