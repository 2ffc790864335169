"""/posts and /post: browsing the store from Telegram."""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasAccess
from pipeline.access import Access
from pipeline.posts import PostView, get_post, list_posts

PAGE = 10


def _line(post: PostView) -> str:
    date = post.date.strftime("%Y-%m-%d") if post.date else "—"
    reactions = sum(post.reactions.values())
    title = post.title or "(media only)"
    return f"<code>#{post.id}</code> {date} {html.quote(title[:80])}" + (
        f" · {reactions}❤" if reactions else ""
    )


async def cmd_posts(
    message: Message, command: CommandObject, session: AsyncSession, access: Access
) -> None:
    posts = await list_posts(session, channel=command.args, limit=PAGE, scope=access.scope)
    if not posts:
        await message.answer(
            "No posts match." if command.args else "No posts yet. Import an export first."
        )
        return
    await message.answer("\n".join(_line(post) for post in posts))


async def cmd_post(
    message: Message, command: CommandObject, session: AsyncSession, access: Access
) -> None:
    if not command.args or not command.args.strip().lstrip("#").isdigit():
        await message.answer("Usage: /post ID")
        return
    post = await get_post(session, int(command.args.strip().lstrip("#")), scope=access.scope)
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
    body = html.quote(post.text[:3000]) if post.text else "<i>(no text)</i>"
    seen = "\n".join(
        html.quote(
            f"• {s.channel + ', ' if s.channel else ''}{s.file} ({s.format})"
            + (f" #{s.message_id}" if s.message_id else "")
        )
        for s in post.sources[:10]
    )
    await message.answer("\n".join(facts) + f"\n\n{body}\n\n<b>seen in</b>\n{seen}")


def _why(post: PostView) -> str:
    reason = (post.duplicate_reason or "").replace("_", " ")
    return f"{reason} {post.similarity:.2f}" if post.similarity is not None else reason


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.message.register(cmd_posts, Command("posts"))
    router.message.register(cmd_post, Command("post"))
    return router
