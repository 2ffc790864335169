"""`tgpipe import PATH...`: channel exports into the store."""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    at_least,
    console,
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

if TYPE_CHECKING:
    from datetime import datetime

    from rich.progress import Progress

    from config.settings import Settings
    from pipeline.ingest.report import FileReport, ImportReport

FORMAT_HELP = "The format of every file (see Formats below); auto detects each one's."


def _known_format(value: str) -> str:
    from pipeline.ingest.model import check_format

    # Checked while the arguments are read: a usage error must not open (or create) a store.
    try:
        return check_format(value)
    except UsageError as exc:
        raise typer.BadParameter(str(exc)) from None


def cmd_import(
    ctx: typer.Context,
    # Strings, not Paths: a Path would read "https://t.me/x" as the path "https:/t.me/x".
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="Export files or folders, public channels (@NAME, t.me/NAME) or web pages "
            "(https://...).",
        ),
    ],
    format: Annotated[
        str,
        typer.Option("--format", "-f", metavar="FORMAT", callback=_known_format, help=FORMAT_HELP),
    ] = "auto",
    channel: Annotated[
        str | None,
        typer.Option(
            metavar="CHAT",
            help="The chat to import from a full-account export, or the channel a text copy "
            "is of (@name or title).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="Channels: only posts since then (30d, 12w, 48h, a date or a time).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(metavar="N", callback=at_least(1), help="Channels: only the newest N posts."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import exports, public channels and web pages into the store.

    A folder is walked for .json, .html, .htm and .txt files. Each file's format is detected
    from its content, or forced with --format. Every post is checked against the store for
    duplicates: the same message seen again is stored once, with each place it was seen.
    Exits 1 when any file was rejected; the others are still imported, and nothing of a
    rejected file is written.

    A public channel (@NAME, t.me/NAME, https://t.me/s/NAME) is read from its web preview,
    newest posts first, back to --since, --limit posts or its first post; a post already
    imported from an export of that channel is the same post, with its views and reactions
    brought up to date. Any other https:// address is read as an article: one draft post.

    \b
    Formats:
      desktop-json  Telegram Desktop's "Export chat history" as JSON: result.json
                    of one chat, or of a whole account (--channel picks a chat)
      desktop-html  the same export as HTML (messages.html, messages2.html, ...):
                    give the folder or the first page
      text          a plain-text copy of a channel's web preview (select all on
                    t.me/s/NAME); --channel names it if the copy does not
      web-html      a saved t.me/s/NAME page
      article       a web article, saved as HTML or copied as text: one draft
                    post, without the site's menus, ads and footers
    """
    # The importer (lxml, trafilatura, numpy) and rich are imported in the command: start-up
    # stays under 1 s.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from pipeline.ingest.importer import ImportOptions, Input, import_paths
    from pipeline.sources.addresses import ChannelAddress, looks_like_address, parse_address

    settings = settings_of(ctx)
    # Every address is checked before anything is fetched or opened.
    addresses = {
        given: parse_address(given, settings.preview_base)
        for given in paths
        if looks_like_address(given) and not Path(given).exists()
    }
    if (since is not None or limit is not None) and not any(
        isinstance(address, ChannelAddress) for address in addresses.values()
    ):
        raise UsageError("--since and --limit are for channels (@NAME, t.me/NAME); none given")
    start = _since(since, settings) if since is not None else None
    options = ImportOptions(
        format=format,
        channel=channel,
        timezone=settings.timezone,
        dedup_threshold=settings.dedup_threshold,
    )
    show_progress = not as_json and sys.stdout.isatty()

    async def go(progress: Progress | None) -> ImportReport:
        task = progress.add_task("importing", total=None) if progress else None

        def on_progress(report: FileReport, done: int, total: int) -> None:
            if progress is not None and task is not None:
                description = f"{Path(report.path).name}: {report.parsed:,} posts"
                progress.update(task, description=description, completed=done, total=total)

        from pipeline.sources.remote import remote_input

        async with open_store(settings) as factory, AsyncExitStack() as stack:
            # Files alone need no fetcher (nor the Redis it may pace itself with).
            fetcher = await stack.enter_async_context(open_fetcher(settings)) if addresses else None
            inputs: list[Input] = [
                remote_input(
                    addresses[given],
                    fetcher,
                    base=settings.preview_base,
                    since=start,
                    limit=limit,
                    timezone=settings.timezone,
                )
                if fetcher is not None and given in addresses
                else Path(given)
                for given in paths
            ]
            return await import_paths(factory, inputs, options, on_progress if progress else None)

    if show_progress:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console(),
            transient=True,
        ) as progress:
            report = run(go(progress))
    else:
        report = run(go(None))

    if as_json:
        print_json(report.to_json())
    else:
        _print_report(report)
    # Rejections go to stderr in both modes, so cron logs show them beside the JSON.
    for item in report.files:
        for error in item.errors:
            print_error(f"tgpipe: error: {error}")
    if not report.ok:
        raise typer.Exit(1)


def _since(value: str, settings: Settings) -> datetime:
    from pipeline.publish.when import WhenError, parse_since
    from pipeline.store.types import now_utc

    try:
        return parse_since(value, tz=settings.tz, now=now_utc())
    except WhenError as exc:
        raise UsageError(f"--since: {exc}") from None


def _print_report(report: ImportReport) -> None:
    rows = [
        (
            item.path,
            item.format or "?",
            item.parsed,
            item.new,
            item.duplicates,
            item.near_duplicates,
            item.skipped,
            "rejected" if item.rejected else "ok",
        )
        for item in report.files
    ]
    # Short headings: the file's path gets what is left of a terminal's width.
    columns = ("file", "format", "parsed", "new", "dups", "near", "skipped", "result")
    print_table(columns, rows, title=f"import run {report.run_id}", right=columns[2:7], wrap="file")
    for note in report.notes:
        print_line(f"note: {note}")
    for item in report.files:
        for note in item.notes:
            print_line(f"note: {item.path}: {note}")
