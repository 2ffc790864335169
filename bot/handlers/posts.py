"""/posts, /post and /dup: browsing the store from Telegram."""

from __future__ import annotations

import re

from aiogram import Bot, F, Router, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import Courier
from bot.filters import HasAccess
from bot.handlers.queue import PostAction, usage_reply
from bot.publisher import Publisher
from pipeline.access import Access
from pipeline.channels import find_channel
from pipeline.errors import NotFoundError
from pipeline.posts import PostView, get_post, list_posts
from pipeline.publish.render import render_post

PAGE = 10


def _line(post: PostView) -> str:
    date = post.date.strftime("%Y-%m-%d") if post.date else "—"
    reactions = sum(post.reactions.values())
    title = post.title or "(media only)"
    return f"<code>#{post.id}</code> {date} {html.quote(title[:80])}" + (
        f" · {reactions}❤" if reactions else ""
    )


class PostsPage(CallbackData, prefix="posts"):
    """A page of the /posts listing; the search itself is kept in the chat's state."""

    page: int


async def _posts_page(
    session: AsyncSession, access: Access, search: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    channel = text = None
    if search:
        try:
            await find_channel(session, search, access.scope)
            channel = search
        except NotFoundError:
            text = search  # not one of one's channels: words to look for
    posts = await list_posts(
        session,
        channel=channel,
        text=text,
        limit=PAGE + 1,
        offset=page * PAGE,
        scope=access.scope,
    )
    if not posts:
        if page:
            return await _posts_page(session, access, search, 0)
        return ("No posts match." if search else "No posts yet. Import an export first."), None
    more, posts = len(posts) > PAGE, posts[:PAGE]
    nav = []
    if page:
        nav.append(("‹ Newer", page - 1))
    if more:
        nav.append(("Older ›", page + 1))
    markup = (
        InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text=label, callback_data=PostsPage(page=to).pack())
                    for label, to in nav
                ]
            ]
        )
        if nav
        else None
    )
    heading = f"<b>Posts</b>{f' · {html.quote(search)}' if search else ''}"
    if page or more:
        heading += f" · page {page + 1}"
    return "\n".join([heading, *map(_line, posts)]), markup


async def cmd_posts(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    access: Access,
    state: FSMContext,
) -> None:
    """/posts [search]: a channel's name, or words or a #hashtag to look for; paged."""
    search = (command.args or "").strip()
    await state.update_data(posts_search=search)
    text, markup = await _posts_page(session, access, search, 0)
    await message.answer(text, reply_markup=markup)


async def on_posts_page(
    query: CallbackQuery,
    callback_data: PostsPage,
    session: AsyncSession,
    access: Access,
    state: FSMContext,
) -> None:
    search = str((await state.get_data()).get("posts_search", ""))
    text, markup = await _posts_page(session, access, search, callback_data.page)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)
    await query.answer()


async def cmd_post(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    access: Access,
    courier: Courier | None = None,
) -> None:
    """The post exactly as it would be published (its parts, formatting, album), then what
    is known of it, with buttons to publish it now, schedule it, or see its duplicates."""
    if not command.args or not command.args.strip().lstrip("#").isdigit():
        await message.answer("Usage: /post ID")
        return
    post = await get_post(session, int(command.args.strip().lstrip("#")), scope=access.scope)
    rendering = render_post(post.text, post.entities, post.media)
    publisher = courier.publisher if courier is not None else Publisher(bot)
    if rendering.messages:
        await publisher.preview(message.chat.id, rendering)
    facts = [f"<b>#{post.id}</b> · {html.quote(post.channel or '—')} · {post.status}"]
    if post.date:
        facts.append(post.date.strftime("%Y-%m-%d %H:%M UTC"))
    if post.forwarded_from:
        facts.append(f"forwarded from {html.quote(post.forwarded_from)}")
    if post.reactions:
        facts.append(" ".join(f"{html.quote(k)} {v}" for k, v in post.reactions.items()))
    if post.duplicate_of:
        facts.append(f"duplicate of #{post.duplicate_of} ({_why(post)})")
    if post.duplicates:
        facts.append(
            "duplicates: " + ", ".join(f"#{d.id} ({_why(d)})" for d in post.duplicates[:10])
        )
    parts = len(rendering.messages)
    facts.append(
        "↑ as it will be published" + (f" ({parts} messages)" if parts > 1 else "")
        if parts
        else "<i>nothing tgpipe can publish: no text and no media it has</i>"
    )
    facts.extend(f"ℹ️ left out when published: {html.quote(item)}" for item in rendering.missing)
    seen = "\n".join(
        html.quote(
            f"• {s.channel + ', ' if s.channel else ''}{s.file} ({s.format})"
            + (f" #{s.message_id}" if s.message_id else "")
        )
        for s in post.sources[:10]
    )
    buttons = InlineKeyboardBuilder()
    if parts:
        buttons.button(text="🚀 Publish now", callback_data=PostAction(action="now", post=post.id))
        buttons.button(text="🗓 Schedule…", callback_data=PostAction(action="when", post=post.id))
    if post.duplicates or post.duplicate_of:
        buttons.button(text="🔁 Duplicates", callback_data=PostAction(action="dups", post=post.id))
    await message.answer(
        "\n".join(facts) + f"\n\n<b>seen in</b>\n{seen}", reply_markup=buttons.as_markup()
    )


async def _duplicates_text(session: AsyncSession, post_id: int, access: Access) -> str:
    post = await get_post(session, post_id, scope=access.scope)
    lines = [f"<b>#{post.id}</b> {html.quote(post.title[:80])}"]
    if post.duplicate_of:
        lines.append(f"is a duplicate of #{post.duplicate_of} ({_why(post)})")
    for duplicate in post.duplicates:
        where = f" · {html.quote(duplicate.channel)}" if duplicate.channel else ""
        lines.append(
            f"• #{duplicate.id}{where} ({_why(duplicate)}): {html.quote(duplicate.title[:60])}"
        )
    if len(lines) == 1:
        lines.append("no duplicates known")
    return "\n".join(lines)


async def cmd_dup(
    message: Message, post: re.Match[str], session: AsyncSession, access: Access
) -> None:
    await message.answer(await _duplicates_text(session, int(post[1]), access))


async def on_duplicates(
    query: CallbackQuery, callback_data: PostAction, session: AsyncSession, access: Access
) -> None:
    text = await _duplicates_text(session, callback_data.post, access)
    if isinstance(query.message, Message):
        await query.message.answer(text)
    await query.answer()


def _why(post: PostView) -> str:
    reason = (post.duplicate_reason or "").replace("_", " ")
    return f"{reason} {post.similarity:.2f}" if post.similarity is not None else reason


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.callback_query.filter(HasAccess())
    router.message.register(cmd_posts, Command("posts"))
    router.message.register(cmd_post, Command("post"))
    post_id = F.args.regexp(r"^\s*#?(\d+)\s*$").as_("post")
    router.message.register(cmd_dup, Command("dup", magic=post_id))
    router.message.register(usage_reply("Usage: /dup ID — the post's id"), Command("dup"))
    router.callback_query.register(on_duplicates, PostAction.filter(F.action == "dups"))
    router.callback_query.register(on_posts_page, PostsPage.filter())
    return router
