"""`tgpipe import PATH...`: channel exports into the store."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    console,
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
    from rich.progress import Progress

    from pipeline.ingest.report import FileReport, ImportReport

# A URL, a t.me link or an @channel: what a user may give for a channel, never a file.
_ADDRESS = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|(?:www\.)?t\.me/|@\w)", re.IGNORECASE)

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
    paths: Annotated[list[str], typer.Argument(metavar="PATH", help="Export files or folders.")],
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import channel exports into the store.

    A folder is walked for .json, .html, .htm and .txt files. Each file's format is detected
    from its content, or forced with --format. Every post is checked against the store for
    duplicates: the same message seen again is stored once, with each place it was seen.
    Exits 1 when any file was rejected; the others are still imported, and nothing of a
    rejected file is written.

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

    from pipeline.ingest.importer import ImportOptions, import_paths

    for given in paths:
        if _ADDRESS.match(given) and not Path(given).exists():
            raise UsageError(
                f"{given}: importing from a web address is not supported yet; save the page, "
                "or export the channel with Telegram Desktop, and import the file"
            )
    settings = settings_of(ctx)
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

        async with open_store(settings) as factory:
            files = [Path(given) for given in paths]
            return await import_paths(factory, files, options, on_progress if progress else None)

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
