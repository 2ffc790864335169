"""/start and /help."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot.filters import HasAccess

COMMANDS = {
    "help": "what this bot can do",
    "posts": "the latest posts; /posts CHANNEL, words or #tag to search",
    "post": "a post as it will be published, with buttons: /post ID",
    "dup": "a post's duplicates: /dup ID",
    "channels": "the chats tgpipe publishes to",
    "addchannel": "make a chat a publishing target: /addchannel CHAT",
    "schedule": "plan a post: /schedule ID WHEN [CHAT]",
    "now": "publish a post now: /now ID [CHAT]",
    "forward": "forward a channel's message: /forward LINK WHEN [CHAT]",
    "queue": "what is planned, with buttons to cancel, move or send now",
    "cancel": "cancel a planned publication: /cancel ID",
    "autopost": "recurring posting rules: list, add, pause, remove",
    "watch": "public channels read on an interval, new posts queued: list, add, pause",
    "import": "how to import an export: send it as a document",
    "stats": "a channel's reactions, top posts and best hours, with a chart: /stats [CHAT]",
    "tz": "your time zone for WHEN: /tz Europe/Berlin",
}

HELP_TEXT = "<b>tgpipe</b>: your channels' content pipeline.\n\n" + "\n".join(
    f"/{name} — {description}" for name, description in COMMANDS.items()
)


async def cmd_help(message: Message) -> None:
    await message.answer(HELP_TEXT)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.message.register(cmd_help, CommandStart())
    router.message.register(cmd_help, Command("help"))
    return router
