"""Builders of realistic Bot API updates for :meth:`FakeTelegram.push_update`.

Each returns an update without ``update_id`` (the fake assigns one).  Defaults are what Telegram
would send: entities Telegram detects by itself (a leading ``/command``, urls, hashtags), integer
Unix dates, full Chat and User objects.  The fake validates every update it is given, so a
builder mistake fails loudly rather than testing the bot against impossible data.
"""

from __future__ import annotations

import itertools
import time
import zlib
from typing import Any

from tests.fake_telegram.server import detect_entities

Json = dict[str, Any]

DEFAULT_BOT_ID = 123456
DEFAULT_BOT_USERNAME = "tgpipe_test_bot"

# Message ids for private chats when a test does not care; they only need to increase.
_private_message_ids = itertools.count(1)
_callback_ids = itertools.count(1)


def _now() -> int:
    return int(time.time())


def user(
    user_id: int,
    *,
    first_name: str = "Test",
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "en",
) -> Json:
    """A human User object."""
    obj: Json = {"id": user_id, "is_bot": False, "first_name": first_name}
    if last_name:
        obj["last_name"] = last_name
    if username:
        obj["username"] = username
    if language_code:
        obj["language_code"] = language_code
    return obj


def private_chat(sender: Json) -> Json:
    chat: Json = {"id": sender["id"], "type": "private", "first_name": sender["first_name"]}
    for key in ("last_name", "username"):
        if key in sender:
            chat[key] = sender[key]
    return chat


def channel_chat(chat_id: int, *, title: str = "Test Channel", username: str | None = None) -> Json:
    _check_chat_id(chat_id)
    chat: Json = {"id": chat_id, "type": "channel", "title": title}
    if username:
        chat["username"] = username.lstrip("@")
    return chat


def _check_chat_id(chat_id: int) -> None:
    if chat_id >= 0:
        raise ValueError(f"chat id {chat_id} is not a group or channel id (they are negative)")


def _group_chat(chat_id: int, title: str) -> Json:
    _check_chat_id(chat_id)
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": title}


def private_message(
    text: str,
    *,
    user_id: int,
    chat_id: int | None = None,
    entities: list[Json] | None = None,
    first_name: str = "Admin",
    last_name: str | None = None,
    username: str | None = None,
    message_id: int | None = None,
    date: int | None = None,
    chat_title: str = "Test Group",
) -> Json:
    """A text message from a user to the bot (``chat_id`` other than the user's: a group).

    Without ``entities`` the ones Telegram detects are added (a leading ``/command`` becomes a
    bot_command entity, urls and hashtags are marked).
    """
    sender = user(user_id, first_name=first_name, last_name=last_name, username=username)
    chat = private_chat(sender) if chat_id in (None, user_id) else _group_chat(chat_id, chat_title)
    message: Json = {
        "message_id": message_id if message_id is not None else next(_private_message_ids),
        "from": sender,
        "chat": chat,
        "date": date if date is not None else _now(),
        "text": text,
    }
    found = detect_entities(text) if entities is None else entities
    if found:
        message["entities"] = found
    return {"message": message}


def document_message(
    user_id: int,
    file_name: str,
    file_id: str,
    mime_type: str,
    file_size: int,
    caption: str | None = None,
    *,
    file_unique_id: str | None = None,
    first_name: str = "Admin",
    username: str | None = None,
    message_id: int | None = None,
    date: int | None = None,
) -> Json:
    """A user sending the bot a file (an export to import).

    Register the bytes with ``fake.add_file(file_id, content)`` so the bot can download them.
    """
    sender = user(user_id, first_name=first_name, username=username)
    message: Json = {
        "message_id": message_id if message_id is not None else next(_private_message_ids),
        "from": sender,
        "chat": private_chat(sender),
        "date": date if date is not None else _now(),
        "document": {
            "file_id": file_id,
            "file_unique_id": file_unique_id or f"AgAD{zlib.crc32(file_id.encode()):010d}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": file_size,
        },
    }
    if caption:
        message["caption"] = caption
        found = detect_entities(caption)
        if found:
            message["caption_entities"] = found
    return {"message": message}


def channel_post(
    chat_id: int,
    message_id: int,
    text: str,
    *,
    entities: list[Json] | None = None,
    title: str = "Test Channel",
    username: str | None = None,
    date: int | None = None,
    author_signature: str | None = None,
    photo_file_id: str | None = None,
    media_group_id: str | None = None,
    edited: bool = False,
) -> Json:
    """A post in a channel where the bot is an admin (``channel_post``, or the edited kind).

    With ``photo_file_id`` the post is a photo and ``text`` its caption.
    """
    chat = channel_chat(chat_id, title=title, username=username)
    post: Json = {
        "message_id": message_id,
        "sender_chat": chat,
        "chat": chat,
        "date": date if date is not None else _now(),
    }
    if author_signature:
        post["author_signature"] = author_signature
    if media_group_id:
        post["media_group_id"] = media_group_id
    found = detect_entities(text) if entities is None else entities
    if photo_file_id:
        post["photo"] = [
            {
                "file_id": f"{photo_file_id}_s" if index == 0 else photo_file_id,
                "file_unique_id": f"AQAD{zlib.crc32(photo_file_id.encode()):010d}{index}",
                "width": width,
                "height": height,
                "file_size": width * height // 10,
            }
            for index, (width, height) in enumerate(((90, 60), (1280, 853)))
        ]
        if text:
            post["caption"] = text
            if found:
                post["caption_entities"] = found
    else:
        post["text"] = text
        if found:
            post["entities"] = found
    if edited:
        post["edit_date"] = post["date"] + 60
        return {"edited_channel_post": post}
    return {"channel_post": post}


def reaction_type(key: str) -> Json:
    """``"👍"`` -> emoji, ``"custom:<id>"`` -> custom emoji, ``"paid"`` -> paid (DESIGN.md keys)."""
    if key == "paid":
        return {"type": "paid"}
    if key.startswith("custom:"):
        return {"type": "custom_emoji", "custom_emoji_id": key[len("custom:") :]}
    return {"type": "emoji", "emoji": key}


def reaction_count_update(
    chat_id: int,
    message_id: int,
    reactions: dict[str, int],
    *,
    date: int | None = None,
    title: str = "Test Channel",
    username: str | None = None,
) -> Json:
    """Anonymous reaction counts of a channel post (``message_reaction_count``).

    Keys are an emoji, ``custom:<id>`` or ``paid``; a count of 0 is left out, as Telegram does.
    """
    items = []
    for key, count in reactions.items():
        if count < 0:
            raise ValueError(f"reaction {key!r} has a negative count {count}")
        if count:
            items.append({"type": reaction_type(key), "total_count": count})
    return {
        "message_reaction_count": {
            "chat": channel_chat(chat_id, title=title, username=username),
            "message_id": message_id,
            "date": date if date is not None else _now(),
            "reactions": items,
        }
    }


def reaction_update(
    chat_id: int,
    message_id: int,
    *,
    user_id: int | None = None,
    actor_chat_id: int | None = None,
    old: list[str] | None = None,
    new: list[str] | None = None,
    date: int | None = None,
    title: str = "Test Group",
) -> Json:
    """One person's reactions to a group message changed (``message_reaction``): by a user,
    or by an anonymous admin as the group itself (``actor_chat``)."""
    if (user_id is None) == (actor_chat_id is None):
        raise ValueError("a reaction comes from a user or from an actor chat, exactly one")
    chat = _group_chat(chat_id, title)
    update: Json = {
        "chat": chat,
        "message_id": message_id,
        "date": date if date is not None else _now(),
        "old_reaction": [reaction_type(key) for key in old or []],
        "new_reaction": [reaction_type(key) for key in new or []],
    }
    if user_id is not None:
        update["user"] = user(user_id)
    elif actor_chat_id is not None:
        # An anonymous admin reacts as the group; a user may react as a channel of theirs.
        update["actor_chat"] = (
            chat if actor_chat_id == chat_id else channel_chat(actor_chat_id, title="Other")
        )
    return {"message_reaction": update}


def callback_query(
    data: str,
    *,
    user_id: int,
    message: Json | None = None,
    inline_message_id: str | None = None,
    query_id: str | None = None,
    first_name: str = "Admin",
    username: str | None = None,
    chat_instance: str | None = None,
) -> Json:
    """A press of an inline button; ``message`` is the message it was under (e.g. from
    ``fake.sent``), or give ``inline_message_id`` for inline-mode messages."""
    if message is None and inline_message_id is None:
        raise ValueError("a callback query comes from a message or an inline message")
    query: Json = {
        "id": query_id or f"{4_000_000_000_000_000 + next(_callback_ids)}",
        "from": user(user_id, first_name=first_name, username=username),
        "chat_instance": chat_instance or f"-{abs(user_id) * 7919 % 10**12}",
        "data": data,
    }
    if message is not None:
        query["message"] = message
    if inline_message_id is not None:
        query["inline_message_id"] = inline_message_id
    return {"callback_query": query}


def my_chat_member(
    chat_id: int,
    *,
    by_user_id: int,
    new_status: str = "administrator",
    old_status: str = "left",
    chat_type: str = "channel",
    title: str = "Test Channel",
    username: str | None = None,
    bot_id: int = DEFAULT_BOT_ID,
    bot_username: str = DEFAULT_BOT_USERNAME,
    date: int | None = None,
) -> Json:
    """The bot's own membership changed (added to a channel as admin, removed...)."""
    chat = (
        channel_chat(chat_id, title=title, username=username)
        if chat_type == "channel"
        else {**_group_chat(chat_id, title), "type": chat_type}
    )
    bot: Json = {"id": bot_id, "is_bot": True, "first_name": "tgpipe", "username": bot_username}
    return {
        "my_chat_member": {
            "chat": chat,
            "from": user(by_user_id),
            "date": date if date is not None else _now(),
            "old_chat_member": _member(bot, old_status, chat_type),
            "new_chat_member": _member(bot, new_status, chat_type),
        }
    }


def _member(bot: Json, status: str, chat_type: str) -> Json:
    if status == "administrator":
        rights = dict.fromkeys(
            (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
            ),
            True,
        )
        member: Json = {
            "status": "administrator",
            "user": bot,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_promote_members": False,
            "can_send_welcome_messages": False,
            **rights,
        }
        if chat_type == "channel":
            member.update(can_post_messages=True, can_edit_messages=True)
        return member
    if status == "kicked":
        return {"status": "kicked", "user": bot, "until_date": 0}
    if status in {"member", "left"}:
        return {"status": status, "user": bot}
    raise ValueError(f"unsupported bot status {status!r}")
