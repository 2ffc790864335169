"""`tgpipe watch ...`: public channels pulled from their web preview on an interval."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    group,
    open_fetcher,
    open_store,
    print_error,
    print_json,
    print_line,
    print_table,
    run,
    settings_of,
)
from pipeline.errors import UsageError
from pipeline.publish.when import WhenError, describe_duration, parse_duration
from pipeline.store.enums import WatchPolicy

if TYPE_CHECKING:
    from datetime import timedelta

    from pipeline.sources.watches import CheckResult, WatchView

app = group("Public channels tgpipe reads on an interval, and queues from.")

WATCH_ID = typer.Argument(metavar="ID", help="The watch's id (see `tgpipe watch list`).")


def _duration(option: str, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except WhenError as exc:
        raise UsageError(f"{option}: {exc}") from None


@app.command("add")
def cmd_add(
    ctx: typer.Context,
    channel: Annotated[
        str, typer.Argument(metavar="CHANNEL", help="The channel: @NAME, t.me/NAME or its preview.")
    ],
    every: Annotated[
        str, typer.Option(metavar="TIME", help="How often to look: 15m, 1h, 1h30m (1m at least).")
    ] = "15m",
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="CHAT", help="Queue each new post for this target chat."),
    ] = None,
    delay: Annotated[
        str,
        typer.Option(metavar="TIME", help="With --to: how long after it is found a post is sent."),
    ] = "0",
    policy: Annotated[
        WatchPolicy,
        typer.Option(
            metavar="POLICY",
            help="With --to: which posts, all (no duplicates) or originals (no forwards).",
        ),
    ] = WatchPolicy.ALL,
) -> None:
    """Watch a public channel: import its new posts as they come.

    Inside `tgpipe run` (or at every `tgpipe watch run-once`) the channel's web preview is
    read when the watch is due; its new posts are imported, and with --to queued for CHAT
    after --delay, unless the chat has the same content already. The first look only notes
    where the channel stands: its earlier posts are imported, not queued."""
    from pipeline.publish.targets import find_target
    from pipeline.sources import watches
    from pipeline.sources.addresses import ChannelAddress, parse_address
    from pipeline.store.db import unit_of_work
    from pipeline.store.types import now_utc

    settings = settings_of(ctx)
    address = parse_address(channel, settings.preview_base)
    if not isinstance(address, ChannelAddress):
        raise UsageError(f"{channel}: not a channel (give @NAME or t.me/NAME)")
    interval, wait = _duration("--every", every), _duration("--delay", delay)
    watches.check_options(interval, wait, policy, queueing=to is not None)

    async def add() -> WatchView:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            target = await find_target(session, to) if to else None
            watch = await watches.add_watch(
                session,
                address.username,
                now=now_utc(),
                every=interval,
                target=target,
                delay=wait,
                policy=policy,
            )
            views = await watches.list_watches(session)
            return next(view for view in views if view.id == watch.id)

    view = run(add())
    queue = (
        f", new posts queued for {view.target} {describe_duration(view.delay)} after "
        f"(policy {view.policy})"
        if view.target
        else ""
    )
    print_line(f"watch {view.id}: {view.channel} every {describe_duration(view.every)}{queue}")


@app.command("list")
def cmd_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
) -> None:
    """List the watches: when each looks next, how the last look went."""
    from pipeline.sources import watches
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def fetch() -> list[WatchView]:
        async with (
            open_store(settings, read_only=True) as factory,
            unit_of_work(factory) as session,
        ):
            return await watches.list_watches(session)

    views = run(fetch())
    if as_json:
        print_json([view.to_json() for view in views])
        return
    if not views:
        print_line("no watches yet: add one with `tgpipe watch add @channel`")
        return
    print_table(
        ("id", "channel", "every", "to", "delay", "policy", "state", "next (UTC)", "last error"),
        [
            (
                v.id,
                v.channel,
                describe_duration(v.every),
                v.target,
                describe_duration(v.delay) if v.target else None,
                v.policy if v.target else None,
                v.state,
                None if v.paused else f"{v.next_check_at:%Y-%m-%d %H:%M}",
                v.last_error,
            )
            for v in views
        ],
        wrap="last error",
    )


def _toggle(ctx: typer.Context, watch_id: int, paused: bool) -> None:
    from pipeline.sources import watches
    from pipeline.store.db import unit_of_work
    from pipeline.store.types import now_utc

    settings = settings_of(ctx)

    async def go() -> str:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            watch = await watches.set_paused(session, watch_id, paused, now_utc())
            return watch.username

    name = run(go())
    print_line(f"watch {watch_id} (@{name}) {'paused' if paused else 'resumed: it looks now'}")


@app.command("pause")
def cmd_pause(ctx: typer.Context, watch_id: Annotated[int, WATCH_ID]) -> None:
    """Stop looking at a channel for now."""
    _toggle(ctx, watch_id, True)


@app.command("resume")
def cmd_resume(ctx: typer.Context, watch_id: Annotated[int, WATCH_ID]) -> None:
    """Look at a paused (or failing) channel again, at once."""
    _toggle(ctx, watch_id, False)


@app.command("remove")
def cmd_remove(ctx: typer.Context, watch_id: Annotated[int, WATCH_ID]) -> None:
    """Delete a watch (what it imported and queued stays)."""
    from pipeline.sources import watches
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def go() -> str:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            return (await watches.remove_watch(session, watch_id)).username

    name = run(go())
    print_line(f"watch {watch_id} (@{name}) removed")


@app.command("run-once")
def cmd_run_once(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="ID", help="Look at these watches now, due or not."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
) -> None:
    """Look at every watch that is due, then exit (for cron).

    Safe beside a running `tgpipe run`: each watch is taken by one process only. What it
    queues is sent by `tgpipe run` or `tgpipe dispatch`. Exits 1 when a look failed."""
    from pipeline.sources.watches import check_due
    from pipeline.store.types import now_utc

    settings = settings_of(ctx)

    async def go() -> list[CheckResult]:
        async with open_store(settings) as factory, open_fetcher(settings) as fetcher:
            context = settings.watch_context(fetcher)
            return await check_due(factory, context, now_utc(), ids or None)

    results = run(go())
    if as_json:
        print_json([result.to_json() for result in results])
    elif not results:
        print_line("no watch is due")
    else:
        print_table(
            ("watch", "channel", "outcome", "new", "queued"),
            [(r.watch_id, r.channel, r.outcome, r.new, len(r.queued)) for r in results],
            right=("new", "queued"),
        )
        for result in results:
            for note in result.notes:
                print_line(f"note: watch {result.watch_id}: {note}")
    for result in results:
        if result.error:
            print_error(f"tgpipe: error: watch {result.watch_id}: {result.error}")
    if not all(result.ok for result in results):
        raise typer.Exit(1)
