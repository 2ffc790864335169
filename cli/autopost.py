"""`tgpipe autopost ...`: recurring posting of drafts to a chat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    at_least,
    group,
    open_store,
    print_json,
    print_line,
    print_table,
    run,
    settings_of,
)
from pipeline.errors import UsageError
from pipeline.store.enums import AutopostPolicy

if TYPE_CHECKING:
    from pipeline.publish.autopost import RuleView

app = group("Recurring posting of drafts to a chat.")

RULE_ID = typer.Argument(metavar="ID", help="The rule's id (see `tgpipe autopost list`).")


@app.command("add")
def cmd_add(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", metavar="CHAT", help="The target chat.")],
    cron: Annotated[
        str | None,
        typer.Option(
            "--cron", metavar="EXPR", help='When, as crontab fields, e.g. "0 9 * * *" (daily 9:00).'
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="best",
            help="Instead of --cron: at the chat's best hours, read from its history (see "
            "`tgpipe stats`) and read again after each post.",
        ),
    ] = None,
    per_day: Annotated[
        int,
        typer.Option(
            "--per-day",
            metavar="N",
            callback=at_least(1, 12),
            help="With --at best: posts a day, 1 to 12.",
        ),
    ] = 3,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", metavar="ZONE", help="The rule's time zone (default TGPIPE_TIMEZONE)."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--from", metavar="CHANNEL", help="Only drafts imported from this channel."),
    ] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", metavar="HASHTAG", help="Only drafts with this hashtag.")
    ] = None,
    policy: Annotated[
        AutopostPolicy,
        typer.Option(
            metavar="POLICY",
            help="Which draft: oldest, newest, random, or top (most reactions).",
        ),
    ] = AutopostPolicy.OLDEST,
    silent: Annotated[bool, typer.Option("--silent", help="Send without notification.")] = False,
) -> None:
    """Add a rule that publishes the next draft at set times.

    At every time EXPR matches (--cron), or at the chat's best hours (--at best), the next
    draft is published to the chat."""
    # The store (SQLAlchemy) and the scheduler's triggers (APScheduler) are imported in the
    # commands: start-up stays under 1 s.
    from pipeline.channels import find_channel
    from pipeline.publish import autopost
    from pipeline.publish.targets import find_target
    from pipeline.store.db import unit_of_work
    from pipeline.store.types import now_utc

    settings = settings_of(ctx)
    if at is not None and at.strip().lower() != "best":
        raise UsageError(f"--at {at!r}: give --at best (the chat's best hours), or a --cron")
    if (cron is None) == (at is None):
        raise UsageError("give either --cron EXPR or --at best")

    async def add() -> RuleView:
        now = now_utc()
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            target = await find_target(session, to)
            from_channel = await find_channel(session, source) if source else None
            rule = await autopost.add_rule(
                session,
                target,
                cron,
                timezone=tz or settings.timezone,
                best_hours=per_day if at is not None else None,
                policy=policy,
                source=from_channel,
                tag=tag,
                silent=silent,
                now=now,
            )
            views = await autopost.list_rules(session, now)
            return next(view for view in views if view.id == rule.id)

    view = run(add())
    best = f" (its {view.best_hours} best hours a day)" if view.best_hours else ""
    print_line(
        f"autopost rule {view.id}: {view.cron}{best} ({view.timezone}) to {view.chat}, "
        f"{view.policy} first; next: {', '.join(view.next_runs)}"
    )


@app.command("list")
def cmd_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
) -> None:
    """List the rules with their next runs."""
    from pipeline.publish import autopost
    from pipeline.store.db import unit_of_work
    from pipeline.store.types import now_utc

    settings = settings_of(ctx)

    async def fetch() -> list[RuleView]:
        async with (
            open_store(settings, read_only=True) as factory,
            unit_of_work(factory) as session,
        ):
            return await autopost.list_rules(session, now_utc())

    rules = run(fetch())
    if as_json:
        print_json([rule.to_json() for rule in rules])
        return
    if not rules:
        print_line("no autopost rules yet: add one with `tgpipe autopost add --to CHAT --cron ...`")
        return
    print_table(
        ("id", "chat", "cron", "zone", "policy", "filter", "state", "next"),
        [
            (
                r.id,
                r.chat,
                r.cron + (f" (best {r.best_hours})" if r.best_hours else ""),
                r.timezone,
                r.policy,
                " ".join(x for x in (r.source and f"from {r.source}", r.tag and f"#{r.tag}") if x)
                or None,
                ("on" if r.enabled else "paused") + (" (nothing left)" if r.empty_since else ""),
                ", ".join(r.next_runs[:1]) or None,
            )
            for r in rules
        ],
    )


def _toggle(ctx: typer.Context, rule_id: int, enabled: bool) -> None:
    from pipeline.publish import autopost
    from pipeline.store.db import unit_of_work
    from pipeline.store.types import now_utc

    settings = settings_of(ctx)

    async def go() -> None:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            await autopost.set_enabled(session, rule_id, enabled, now_utc())

    run(go())
    print_line(f"autopost rule {rule_id} {'resumed' if enabled else 'paused'}")


@app.command("pause")
def cmd_pause(ctx: typer.Context, rule_id: Annotated[int, RULE_ID]) -> None:
    """Stop a rule from firing (slots while paused are not made up)."""
    _toggle(ctx, rule_id, False)


@app.command("resume")
def cmd_resume(ctx: typer.Context, rule_id: Annotated[int, RULE_ID]) -> None:
    """Let a paused rule fire again from its next slot."""
    _toggle(ctx, rule_id, True)


@app.command("remove")
def cmd_remove(ctx: typer.Context, rule_id: Annotated[int, RULE_ID]) -> None:
    """Delete a rule (what it already queued stays queued)."""
    from pipeline.publish import autopost
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def go() -> None:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            await autopost.remove_rule(session, rule_id)

    run(go())
    print_line(f"autopost rule {rule_id} removed")
