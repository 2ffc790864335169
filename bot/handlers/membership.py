"""The bot's own rights in chats (my_chat_member) and changes of who administers them
(chat_member): targets the bot can no longer post to are held back, the admins told."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.types import ChatMemberAdministrator, ChatMemberRestricted, ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import ChatAdmins
from pipeline.publish.targets import record_rights

log = logging.getLogger(__name__)


def _rights(update: ChatMemberUpdated) -> tuple[bool, str]:
    """Whether the bot may post in the chat now, and what changed, in words."""
    member = update.new_chat_member
    channel = update.chat.type == ChatType.CHANNEL
    by = update.from_user.full_name if update.from_user else None
    done_by = f" (by {by})" if by else ""
    if member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.KICKED):
        return False, f"the bot was removed{done_by}"
    if isinstance(member, ChatMemberAdministrator):
        if channel and not member.can_post_messages:
            return False, f"the bot may no longer post{done_by}"
        return True, f"the bot is an administrator{done_by}"
    if isinstance(member, ChatMemberRestricted) and not member.can_send_messages:
        return False, f"the bot may no longer send messages{done_by}"
    if channel:  # a plain member of a channel cannot post
        return False, f"the bot is no longer an administrator{done_by}"
    return True, f"the bot is a member{done_by}"


async def on_my_chat_member(
    update: ChatMemberUpdated, session: AsyncSession, chat_admins: ChatAdmins
) -> None:
    await chat_admins.forget(update.chat.id)
    can_post, change = _rights(update)
    channel = await record_rights(
        session, update.chat.id, can_post=can_post, change=change, at=update.date
    )
    if channel is not None:
        log.info("rights in %s changed: %s", channel.display_name, change)


async def on_chat_member(update: ChatMemberUpdated, chat_admins: ChatAdmins) -> None:
    """Someone was promoted or demoted: who manages the chat is asked again next time."""
    await chat_admins.forget(update.chat.id)


def create_router() -> Router:
    router = Router(name=__name__)
    router.my_chat_member.register(on_my_chat_member)
    router.chat_member.register(on_chat_member)
    return router
