"""`tgpipe stats`: what each channel published, the reactions it drew, its best hours."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import open_store, print_json, print_line, run, settings_of
from pipeline.errors import TgpipeError, UsageError

if TYPE_CHECKING:
    from pipeline.stats.report import ChannelStats


def _write_atomically(path: Path, data: bytes) -> None:
    """``data`` into ``path`` whole or not at all: a cron job never serves half a PNG."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent or ".", suffix=".tmp")
    except OSError as exc:
        raise TgpipeError(f"cannot write the chart to {path}: {exc.strerror}") from None
    try:
        # mkstemp makes the file private; a chart is for sharing (a web server, a colleague).
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise TgpipeError(f"cannot write the chart to {path}: {exc.strerror}") from None


def cmd_stats(
    ctx: typer.Context,
    channel: Annotated[
        str | None,
        typer.Option(
            metavar="CHANNEL",
            help="Only this channel (@username, title or id). Without it, every channel "
            "with a history.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="Only messages from then on: 30d, 12w, 48h ago, or a date such as 2026-01-31.",
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="Read the hours in this zone (default: the zone of the channel's autopost "
            "rule, else TGPIPE_TIMEZONE).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
    chart: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH.png",
            dir_okay=False,
            help="Also draw the channel's chart (best hours, reactions over time) into this "
            "PNG file.",
        ),
    ] = None,
) -> None:
    """Show each channel's reactions, top posts and best hours.

    Per channel: messages, reactions in total and per post, top posts, the best hours to
    post (from its whole history, imports included), and how the reactions of its latest
    publications grew."""
    from pipeline.publish.cron import validate_timezone
    from pipeline.publish.when import parse_since
    from pipeline.stats.report import stats_for, summary_lines
    from pipeline.store.db import unit_of_work
    from pipeline.store.types import now_utc

    settings = settings_of(ctx)
    if tz is not None:
        validate_timezone(tz)
    try:
        start = parse_since(since, tz=settings.tz, now=now_utc()) if since else None
    except UsageError as exc:
        raise UsageError(f"--since: {exc}") from None

    async def fetch() -> list[ChannelStats]:
        async with (
            open_store(settings, read_only=True) as factory,
            unit_of_work(factory) as session,
        ):
            return await stats_for(
                session,
                channel=channel,
                default_zone=settings.timezone,
                zone=tz,
                since=start,
            )

    found = run(fetch())
    if chart is not None:
        if len(found) > 1:
            names = ", ".join(stats.channel for stats in found)
            raise UsageError(
                f"--chart draws one channel: name it with --channel (channels with a "
                f"history: {names})"
            )
        from pipeline.stats.chart import render_chart

        _write_atomically(chart, render_chart(found[0]))
    if as_json:
        print_json([stats.to_json() for stats in found])
        return
    for index, stats in enumerate(found):
        if index:
            print_line("")
        for line in summary_lines(stats):
            print_line(line)
    if chart is not None:
        print_line(f"chart: {chart}")
