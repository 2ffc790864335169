"""`tgpipe posts ...`: browse the store."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    at_least,
    console,
    group,
    open_store,
    print_json,
    print_line,
    print_table,
    run,
    settings_of,
)
from pipeline.store.enums import PostStatus

if TYPE_CHECKING:
    from pipeline.posts import PostView

app = group("Browse the posts in the store.")

SHOWN = 50  # posts in the table when no --limit is given


@app.command("list")
def cmd_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
    channel: Annotated[
        str | None,
        typer.Option(metavar="CHANNEL", help="Only this channel (@username, title or id)."),
    ] = None,
    status: Annotated[
        PostStatus | None,
        typer.Option(
            metavar="STATE",
            help=f"Only posts in this state: {', '.join(s.value for s in PostStatus)}.",
        ),
    ] = None,
    include_duplicates: Annotated[
        bool, typer.Option("--include-duplicates", help="Also list posts kept as duplicates.")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            callback=at_least(1),
            help=f"At most N posts. Without it the table shows the {SHOWN} newest, and --json "
            "prints every post.",
        ),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every post in the table, however many.")
    ] = False,
) -> None:
    """List posts, newest first."""
    # The store (SQLAlchemy) and rich are imported in the commands: start-up stays under 1 s.
    from pipeline.posts import count_posts, list_posts
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)
    # A table of a million rows helps nobody: the first screen shows the newest, and says so.
    shown = limit if limit is not None or as_json or show_all else SHOWN

    async def fetch() -> tuple[list[PostView], int]:
        async with (
            open_store(settings, read_only=True) as factory,
            unit_of_work(factory) as session,
        ):
            posts = await list_posts(
                session,
                channel=channel,
                status=status,
                include_duplicates=include_duplicates,
                limit=shown,
            )
            total = len(posts)
            if total == shown and not as_json:
                total = await count_posts(
                    session, channel=channel, status=status, include_duplicates=include_duplicates
                )
            return posts, total

    posts, total = run(fetch())
    if as_json:
        print_json([post.to_json() for post in posts])
        return
    if not posts:
        if channel is not None or status is not None:
            print_line("No posts match.")
        else:
            print_line("No posts yet. Import an export with tgpipe import PATH.")
        return
    rows = []
    for post in posts:
        reactions = " ".join(f"{_reaction_label(key)}{n}" for key, n in post.reactions.items())
        state = post.status + (f" → #{post.duplicate_of}" if post.duplicate_of else "")
        rows.append(
            (
                post.id,
                post.date.strftime("%Y-%m-%d %H:%M") if post.date else None,
                post.channel,
                # Clipped on a terminal only: off it, each row is the whole of it.
                (_clip(post.title, 40) if sys.stdout.isatty() else post.title)
                or _media_label(post),
                (_clip(reactions, 16) if sys.stdout.isatty() else reactions) or None,
                state,
            )
        )
    if total > len(posts):
        more = "--all" if limit is not None else "--limit N or --all"
        footer = f"the newest {len(posts)} of {total:,} posts ({more} for more)"
    else:
        footer = f"{len(posts)} post(s)"
    columns = ("id", "date (UTC)", "channel", "title", "reactions", "status")
    print_table(columns, rows, footer, right=("id",), wrap="title")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _reaction_label(key: str) -> str:
    # Custom emoji ids are long numbers; Telegram draws paid reactions as a star.
    return "◆" if key.startswith("custom:") else "⭐" if key == "paid" else key


def _media_label(post: PostView) -> str:
    kinds = sorted({str(item.get("kind")) for item in post.media})
    return f"({', '.join(kinds)})" if kinds else "(empty)"


@app.command("show")
def cmd_show(
    ctx: typer.Context,
    post_id: Annotated[int, typer.Argument(metavar="ID", help="The post's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
) -> None:
    """Show one post: text, metadata, sources and duplicates."""
    from rich.text import Text

    from pipeline.posts import get_post, iso_utc
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def fetch() -> PostView:
        async with (
            open_store(settings, read_only=True) as factory,
            unit_of_work(factory) as session,
        ):
            return await get_post(session, post_id)

    post = run(fetch())
    if as_json:
        print_json(post.to_json_detail())
        return
    console().rule(f"post {post.id}")
    facts = {
        "channel": post.channel,
        "date": iso_utc(post.date),
        "status": post.status,
        "author": post.author + (f" ({post.author_id})" if post.author_id else "")
        if post.author
        else None,
        "forwarded from": post.forwarded_from,
        "views": post.views,
        "reactions": " ".join(f"{k} {v}" for k, v in post.reactions.items()) or None,
        "hashtags": " ".join(post.hashtags) or None,
        "media": ", ".join(str(m.get("kind")) for m in post.media) or None,
        "duplicate of": (
            f"#{post.duplicate_of} ({post.duplicate_reason}"
            + (f", similarity {post.similarity:.2f})" if post.similarity is not None else ")")
            if post.duplicate_of
            else None
        ),
    }
    for name, value in facts.items():
        if value is not None:
            console().print(Text.assemble((f"{name}: ", "bold"), str(value)))
    console().print()
    console().print(Text(post.text or "(no text)"))
    console().print()
    original = post.original
    if original.id != post.id:
        where = f" in {original.channel}" if original.channel else ""
        console().print(
            Text(f"first posted{where} on {iso_utc(original.date)} (#{original.id})"),
            style="bold",
        )
    console().print("[bold]seen in:[/bold]")
    for source in post.sources:
        ids = ", ".join(map(str, source.message_ids))
        message = f" message{'s' if len(source.message_ids) > 1 else ''} {ids}" if ids else ""
        channel = f"{source.channel}, " if source.channel else ""
        version = f" [#{source.post_id}]" if source.post_id != post.id else ""
        console().print(Text(f"  {channel}{source.file} ({source.format}){message}{version}"))
    if post.duplicates:
        console().print("[bold]duplicates (kept for provenance, not listed):[/bold]")
        for duplicate in post.duplicates:
            similarity = f" {duplicate.similarity:.2f}" if duplicate.similarity is not None else ""
            channel = f" in {duplicate.channel}" if duplicate.channel else ""
            console().print(
                Text(
                    f"  #{duplicate.id}{channel} {duplicate.duplicate_reason}{similarity}: "
                    f"{duplicate.title}"
                )
            )
