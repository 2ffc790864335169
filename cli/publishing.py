"""`tgpipe channels|schedule|forward|queue|cancel|reschedule|resolve|dispatch|post-next`:
publishing targets, the queue, and delivery from the system's cron."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    group,
    open_store,
    print_json,
    print_line,
    print_table,
    run,
    settings_of,
)
from pipeline.errors import UsageError
from pipeline.publish.when import WhenError, describe_local, parse_when
from pipeline.store.enums import PublicationState

if TYPE_CHECKING:
    from bot.delivery import Tally
    from config.settings import Settings
    from pipeline.publish.queue import PublicationView
    from pipeline.publish.targets import TargetView
    from pipeline.store.models import Publication

channels_app = group("The channels and groups tgpipe publishes to.")

CHAT_HELP = "The target chat: @name, a t.me/name link or its id (-100...)."
WHEN_HELP = (
    "When: ISO 8601 (2026-12-24T09:00, naive times in TGPIPE_TIMEZONE), 'now', "
    "+90s/+10m/+2h/+1d, or HH:MM for the next such time."
)


# A chat id such as -100123 is an argument, not an option.
NEGATIVE_IDS = {"ignore_unknown_options": True}


def _not_an_option(value: str) -> str:
    """With unknown options let through (for -100123), a mistyped --option would be taken
    for a chat: no chat's name or id starts with two dashes."""
    if value.startswith("--"):
        raise typer.BadParameter(f"no such option: {value}")
    return value


@channels_app.command("add", context_settings=NEGATIVE_IDS)
def cmd_channels_add(
    ctx: typer.Context,
    chat: Annotated[str, typer.Argument(metavar="CHAT", callback=_not_an_option, help=CHAT_HELP)],
) -> None:
    """Make a chat a publishing target.

    Checks with Telegram first that the bot is in CHAT and may post there."""
    from bot.app import create_bot  # aiogram only for the commands that talk to Telegram
    from bot.targets import check_chat
    from pipeline.publish.targets import record_target
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def add() -> str:
        bot = create_bot(settings, "tgpipe channels add")
        try:
            checked = await check_chat(bot, chat)
        finally:
            await bot.session.close()
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            channel = await record_target(session, checked)
            return f"{channel.display_name} ({checked.type} {checked.chat_id}, {checked.title})"

    print_line(f"publishing target added: {run(add())}")


@channels_app.command("list")
def cmd_channels_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
) -> None:
    """List the publishing targets, with what is scheduled for each."""
    # The store (SQLAlchemy) is imported in the commands: start-up stays under 1 s.
    from pipeline.publish.targets import list_targets
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def fetch() -> list[TargetView]:
        async with (
            open_store(settings, read_only=True) as factory,
            unit_of_work(factory) as session,
        ):
            return await list_targets(session)

    targets = run(fetch())
    if as_json:
        print_json([target.to_json() for target in targets])
        return
    if not targets:
        print_line("no publishing targets yet: add one with `tgpipe channels add @channel`")
        return
    print_table(
        ("id", "chat", "chat id", "type", "title", "scheduled", "problem"),
        [
            (t.id, t.name, t.chat_id, t.type, t.title, t.scheduled, t.blocked_reason)
            for t in targets
        ],
    )


def _when(value: str, settings: Settings) -> datetime:
    from pipeline.store.types import now_utc

    try:
        return parse_when(value, tz=settings.tz, now=now_utc())
    except WhenError as error:
        raise WhenError(f"--at {error}") from None


def cmd_schedule(
    ctx: typer.Context,
    post_id: Annotated[int, typer.Argument(metavar="POST_ID", help="The post to publish.")],
    to: Annotated[str, typer.Option("--to", metavar="CHAT", help=CHAT_HELP)],
    at: Annotated[str, typer.Option("--at", metavar="WHEN", help=WHEN_HELP)],
    force: Annotated[
        bool, typer.Option("--force", help="Publish even if that chat has this content.")
    ] = False,
    silent: Annotated[bool, typer.Option("--silent", help="Send without notification.")] = False,
) -> None:
    """Schedule a stored post for a chat."""
    from pipeline.publish import queue as queue_lib
    from pipeline.publish.targets import find_target
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)
    due = _when(at, settings)

    async def plan() -> Publication:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            target = await find_target(session, to)
            return await queue_lib.schedule_post(
                session, post_id, target, due, force=force, silent=silent
            )

    publication = run(plan())
    parts = f", {publication.size} messages" if publication.size > 1 else ""
    print_line(
        f"publication {publication.id}: post {post_id} to {to} at "
        f"{describe_local(due, settings.tz)}{parts}"
    )
    for note in publication.notes:
        print_line(f"note: {note}")


def cmd_forward(
    ctx: typer.Context,
    from_chat: Annotated[
        str,
        typer.Argument(
            metavar="FROM_CHAT", callback=_not_an_option, help="The chat the messages are in."
        ),
    ],
    message_ids: Annotated[
        list[int],
        typer.Argument(metavar="MESSAGE_ID", help="Message ids (all ids of an album)."),
    ],
    to: Annotated[str, typer.Option("--to", metavar="CHAT", help=CHAT_HELP)],
    at: Annotated[str, typer.Option("--at", metavar="WHEN", help=WHEN_HELP)],
    copy: Annotated[
        bool, typer.Option("--copy", help="Copy instead: no 'Forwarded from' header.")
    ] = False,
    silent: Annotated[bool, typer.Option("--silent", help="Send without notification.")] = False,
) -> None:
    """Schedule a forward (or copy) of existing messages to a chat."""
    from pipeline.publish import queue as queue_lib
    from pipeline.publish.targets import find_target, parse_chat
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)
    due = _when(at, settings)
    source = str(parse_chat(from_chat))

    async def plan() -> Publication:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            target = await find_target(session, to)
            return await queue_lib.schedule_forward(
                session, source, message_ids, target, due, copy=copy, silent=silent
            )

    publication = run(plan())
    verb = "copy" if copy else "forward"
    print_line(
        f"publication {publication.id}: {verb} of {source} "
        f"#{', '.join(map(str, publication.from_message_ids))} to {to} at "
        f"{describe_local(due, settings.tz)}"
    )


def cmd_queue(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
    chat: Annotated[
        str | None, typer.Option("--chat", metavar="CHAT", help="Only this target chat.")
    ] = None,
    state: Annotated[
        list[PublicationState] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Only publications in this state (repeatable): "
            f"{', '.join(s.value for s in PublicationState)}.",
        ),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also sent, failed, cancelled and missed ones.")
    ] = False,
) -> None:
    """Show what is scheduled, being sent, or needs a decision.

    A publication whose delivery is unknown (tgpipe stopped while sending it) waits for
    `tgpipe resolve`. --all also shows the sent, failed, cancelled and missed ones."""
    from pipeline.publish import queue as queue_lib
    from pipeline.publish.targets import find_target
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def fetch() -> list[PublicationView]:
        async with (
            open_store(settings, read_only=True) as factory,
            unit_of_work(factory) as session,
        ):
            target = await find_target(session, chat) if chat else None
            return await queue_lib.list_queue(
                session, chat=target, states=state, everything=everything
            )

    items = run(fetch())
    if as_json:
        print_json([item.to_json() for item in items])
        return
    if not items:
        print_line("the queue is empty" if not (chat or state) else "no publications match")
        return
    print_table(
        ("id", "due", "chat", "state", "what", "tries", "messages", "error"),
        [
            (
                item.id,
                describe_local(item.due_at, settings.tz),
                item.chat,
                item.state,
                (f"#{item.post_id} " if item.post_id else "") + item.title[:60],
                item.attempts,
                ",".join(map(str, item.message_ids)) or None,
                item.last_error,
            )
            for item in items
        ],
        footer=f"{len(items)} publication(s)",
    )


def cmd_cancel(
    ctx: typer.Context,
    publication_id: Annotated[int, typer.Argument(metavar="PUB_ID", help="The publication.")],
) -> None:
    """Cancel a scheduled publication."""
    from pipeline.publish import queue as queue_lib
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def go() -> None:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            await queue_lib.cancel(session, publication_id)

    run(go())
    print_line(f"publication {publication_id} cancelled")


def cmd_reschedule(
    ctx: typer.Context,
    publication_id: Annotated[int, typer.Argument(metavar="PUB_ID", help="The publication.")],
    at: Annotated[str, typer.Option("--at", metavar="WHEN", help=WHEN_HELP)],
) -> None:
    """Move a publication to another time.

    A failed or missed publication is planned again for that time."""
    from pipeline.publish import queue as queue_lib
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)
    due = _when(at, settings)

    async def go() -> None:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            await queue_lib.reschedule(session, publication_id, due)

    run(go())
    print_line(f"publication {publication_id} rescheduled to {describe_local(due, settings.tz)}")


def cmd_resolve(
    ctx: typer.Context,
    publication_id: Annotated[int, typer.Argument(metavar="PUB_ID", help="The publication.")],
    sent: Annotated[bool, typer.Option("--sent", help="It did reach the chat.")] = False,
    resend: Annotated[bool, typer.Option("--resend", help="It did not: send it again.")] = False,
) -> None:
    """Settle a publication whose delivery is unknown.

    tgpipe stopped while sending it, so it cannot know whether it reached the chat: look,
    then say --sent if it did, or --resend to send it again."""
    if sent == resend:
        raise UsageError("resolve: give exactly one of --sent or --resend")
    from pipeline.publish import queue as queue_lib
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def go() -> None:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            await queue_lib.resolve_unknown(session, publication_id, sent=sent)

    run(go())
    print_line(
        f"publication {publication_id} marked sent"
        if sent
        else f"publication {publication_id} will be sent again now"
    )


def _summary(tally: Tally) -> str:
    parts = [f"{len(tally.sent)} sent"]
    if tally.failed:
        parts.append(f"{len(tally.failed)} failed ({', '.join(map(str, tally.failed))})")
    if tally.unknown:
        parts.append(f"{len(tally.unknown)} unknown ({', '.join(map(str, tally.unknown))})")
    if tally.retried:
        parts.append(f"{tally.retried} to retry")
    if tally.deferred:
        parts.append(f"{tally.deferred} deferred by Telegram")
    return ", ".join(parts)


def cmd_dispatch(ctx: typer.Context) -> None:
    """Send everything due now, then exit (for cron).

    Exits 1 if any publication failed. Safe beside a running `tgpipe run`: both claim from
    the same store."""
    from cli.delivery import dispatch_now

    settings = settings_of(ctx)
    tally = run(dispatch_now(settings))
    print_line(f"dispatch: {_summary(tally)}")
    if tally.failed or tally.unknown:
        raise typer.Exit(1)


def cmd_post_next(
    ctx: typer.Context, to: Annotated[str, typer.Option("--to", metavar="CHAT", help=CHAT_HELP)]
) -> None:
    """Publish the next draft for a chat now (for cron).

    The oldest draft first, through the same checks as a scheduled post."""
    from cli.delivery import post_next

    settings = settings_of(ctx)
    publication_id, state, tally = run(post_next(settings, to))
    if tally.sent or tally.failed or tally.unknown:
        outcome = _summary(tally)
    elif state is PublicationState.SCHEDULED:
        outcome = (
            "still queued: the chat's limits held it back; `tgpipe run` or `dispatch` sends it"
        )
    else:  # a running `tgpipe run` claimed it first
        outcome = f"{state.value} by another tgpipe process"
    print_line(f"post-next: publication {publication_id}: {outcome}")
    if state not in (PublicationState.SENT, PublicationState.SENDING):
        raise typer.Exit(1)
