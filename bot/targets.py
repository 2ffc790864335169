"""Checking a chat before tgpipe publishes there: the bot must be able to post.

`tgpipe channels add` and `/addchannel` call :func:`check_chat`; what it finds is stored by
``pipeline.publish.targets.record_target``.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramNetworkError
from aiogram.types import ChatMemberAdministrator, ChatMemberOwner, ChatMemberRestricted

from pipeline.errors import TgpipeError
from pipeline.publish.targets import CheckedChat, TargetError, parse_chat


async def check_chat(bot: Bot, name: str) -> CheckedChat:
    """What Telegram says about ``name``, if the bot may post there; else TargetError."""
    chat_ref = parse_chat(name)
    try:
        chat = await bot.get_chat(chat_ref)
        me = await bot.me()
        member = await bot.get_chat_member(chat.id, me.id)
    except TelegramForbiddenError as error:
        raise TargetError(
            f"cannot post to {name}: the bot is not a member there ({error.message}); "
            "add it as an administrator with the right to post"
        ) from None
    except TelegramBadRequest as error:
        raise TargetError(
            f"cannot post to {name}: Telegram does not know this chat, or the bot is not in it "
            f"({error.message}); add the bot as an administrator first"
        ) from None
    except TelegramNetworkError as error:
        raise TgpipeError(f"cannot reach the Bot API to check {name}: {error.message}") from None
    title = chat.title or chat.username or str(chat.id)
    if chat.type == ChatType.PRIVATE:
        raise TargetError(f"{name} is a private chat with a user, not a channel or group")
    if chat.type == ChatType.CHANNEL:
        if isinstance(member, ChatMemberOwner):
            pass
        elif not isinstance(member, ChatMemberAdministrator):
            raise TargetError(
                f"cannot post to {title}: the bot is not an administrator of the channel "
                f"(it is {member.status}); add it as an admin with 'Post messages'"
            )
        elif not member.can_post_messages:
            raise TargetError(
                f"cannot post to {title}: the bot is an administrator without the right to "
                "post messages; give it 'Post messages'"
            )
    elif member.status in {ChatMemberStatus.LEFT, ChatMemberStatus.KICKED}:
        raise TargetError(f"cannot post to {title}: the bot is not a member ({member.status})")
    elif isinstance(member, ChatMemberRestricted) and not member.can_send_messages:
        raise TargetError(f"cannot post to {title}: the bot may not send messages there")
    return CheckedChat(
        chat_id=chat.id, type=str(chat.type), title=title, username=chat.username or None
    )
