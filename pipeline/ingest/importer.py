"""`tgpipe import`: every input file through its parser into the store, one transaction each.

A file is all or nothing: its events are written inside one unit of work, and a parse error
anywhere in it rolls the whole file back, while the other files still import. The run itself
(counts, errors) is recorded in ``import_runs``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from sqlalchemy import text

from pipeline.dedup import features as dedup_features
from pipeline.dedup.index import ensure_current
from pipeline.dedup.similarity import DEFAULT_THRESHOLD
from pipeline.errors import ParseError, TgpipeError
from pipeline.ingest.collector import fewer_collections
from pipeline.ingest.formats import (
    detect_format,
    expand_inputs,
    forced_format_error,
    parser_for,
    truncation_error,
)
from pipeline.ingest.model import (
    ChannelInfo,
    Event,
    Note,
    ParsedPost,
    ParseOptions,
    Skipped,
    check_format,
)
from pipeline.ingest.report import FileReport, ImportReport
from pipeline.ingest.worker import PROCESS_THRESHOLD_BYTES, parse_in_process
from pipeline.ingest.writer import PostWriter, upsert_channel
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import ImportRun, ImportStatus
from pipeline.store.types import now_utc
from pipeline.usernames import normalise_username

# Imports into PostgreSQL take this transaction-level advisory lock: dedup compares a file's
# posts with everything stored, which must include what a concurrent import is writing.
# (SQLite has one writer at a time anyway.)
_IMPORT_LOCK = 0x74677069  # 'tgpi'

log = logging.getLogger(__name__)

# Parsers are synchronous; they run in a worker thread a slice at a time so the event loop
# (the bot, when an admin uploads an export) stays responsive during a long import.
_EVENTS_PER_SLICE = 2000

# Called as files advance: (the current file's report, files finished, files in all).
Progress = Callable[[FileReport, int, int], None]


@dataclass(frozen=True, slots=True)
class ImportOptions:
    format: str = "auto"
    channel: str | None = None
    timezone: str = "UTC"
    requested_by: str = "cli"
    dedup_threshold: float = DEFAULT_THRESHOLD
    # The chat imported for (an upload by an admin of it): see ImportRun.into_channel_id.
    into_channel_id: int | None = None


async def import_paths(
    factory: SessionFactory,
    paths: list[Path],
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
) -> ImportReport:
    """Import every file under ``paths``; see :class:`ImportReport` for the outcome."""
    check_format(options.format)
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise TgpipeError(f"no such file or folder: {', '.join(missing)}")
    report = ImportReport()
    rebuilt = await ensure_current(factory, options.dedup_threshold)
    if rebuilt is not None:
        report.notes.append(
            f"dedup index rebuilt first ({rebuilt.reason}): {rebuilt.posts} posts, "
            f"{rebuilt.duplicates} duplicates"
        )
    async with unit_of_work(factory) as session:
        run = ImportRun(requested_by=options.requested_by, into_channel_id=options.into_channel_id)
        session.add(run)
        await session.flush()
        report.run_id = run.id
    finished = False
    try:
        with fewer_collections():
            await _import_files(factory, expand_inputs(paths), options, report, progress)
        finished = True
    finally:
        # Recorded even when something unexpected stopped the run half-way.
        async with unit_of_work(factory) as session:
            run = await session.get_one(ImportRun, report.run_id)
            totals = report.totals()
            for name in ("parsed", "new", "duplicates", "near_duplicates", "rejected", "skipped"):
                setattr(run, name, totals[name])
            run.files = [f.to_json() for f in report.files]
            run.errors = [error for f in report.files for error in f.errors]
            ok = finished and report.ok
            run.status = ImportStatus.DONE if ok else ImportStatus.FAILED
            run.finished_at = now_utc()
    return report


async def _import_files(
    factory: SessionFactory,
    files: list[Path],
    options: ImportOptions,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    for done, path in enumerate(files):
        file_report = FileReport(path=str(path))
        report.files.append(file_report)

        def advance(item: FileReport, done: int = done) -> None:
            if progress:
                progress(item, done, len(files))

        try:
            await _import_file(factory, path, options, report.run_id, file_report, advance)
        except ParseError as exc:
            file_report.rejected = 1
            file_report.errors.append(str(exc))
            log.info("rejected %s", exc)
        if progress:
            progress(file_report, done + 1, len(files))


async def _import_file(
    factory: SessionFactory,
    path: Path,
    options: ImportOptions,
    run_id: int | None,
    report: FileReport,
    progress: Callable[[FileReport], None],
) -> None:
    try:
        format = options.format if options.format != "auto" else detect_format(path)
    except ParseError as exc:
        raise _explained(path, options, exc) from None
    report.format = format
    parse_options = ParseOptions(timezone=options.timezone, channel=options.channel)
    try:
        async with unit_of_work(factory) as session:
            if (await session.connection()).dialect.name == "postgresql":
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK}
                )
            writer = PostWriter(
                session,
                file=str(path),
                format=format,
                import_run_id=run_id,
                report=report,
                observed_at=_file_time(path),
                threshold=options.dedup_threshold,
            )
            channel_seen = False
            async with aclosing(_slices(format, path, parse_options)) as slices:
                async for batch in slices:
                    for event in batch:
                        if isinstance(event, ChannelInfo):
                            channel_seen = True
                            await writer.set_channel(
                                await upsert_channel(session, _named(event, options))
                            )
                        elif isinstance(event, ParsedPost):
                            if not channel_seen and options.channel:
                                channel_seen = True
                                info = _named(ChannelInfo(), options)
                                await writer.set_channel(await upsert_channel(session, info))
                            await writer.add(event)
                        elif isinstance(event, Skipped):
                            report.skipped += 1
                        elif isinstance(event, Note) and event.message not in report.notes:
                            report.notes.append(event.message)
                    progress(report)
            await writer.finish()
    except ParseError as exc:
        # Nothing of this file was committed; its counts would describe rows that are gone.
        report.new = report.duplicates = report.near_duplicates = 0
        report.same_source = report.same_content = 0
        raise _explained(path, options, exc) from None


def _explained(path: Path, options: ImportOptions, error: ParseError) -> ParseError:
    """What a file's failure is to say: that it was cut short, or that it is not of the
    forced format, where the parser's own words would blame something else."""
    explained = truncation_error(path, error)
    if explained is error and options.format != "auto":
        explained = forced_format_error(path, options.format, error)
    return explained


def _file_time(path: Path) -> datetime:
    """When the export was taken, as far as the file tells: its modification time."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _named(info: ChannelInfo, options: ImportOptions) -> ChannelInfo:
    """A chat the export leaves unnamed takes the name given with --channel."""
    if options.channel and not (info.title or info.username or info.telegram_id):
        name = options.channel.strip()
        if name.startswith(("@", "t.me/", "https://t.me/")):
            info.username = normalise_username(name)
        else:
            info.title = name
    return info


def _slices(format: str, path: Path, options: ParseOptions) -> AsyncGenerator[list[Event], None]:
    if path.is_file() and path.stat().st_size >= PROCESS_THRESHOLD_BYTES:
        return parse_in_process(format, path, options)
    return _read_ahead(parser_for(format).parse(path, options), path)


async def _read_ahead(events: Iterator[Event], path: Path) -> AsyncGenerator[list[Event], None]:
    """Slices of ``events``; the next is parsed in a worker thread while this one is written."""
    pending = asyncio.ensure_future(asyncio.to_thread(_next_slice, events, path))
    try:
        while batch := await pending:
            pending = asyncio.ensure_future(asyncio.to_thread(_next_slice, events, path))
            yield batch
    finally:
        # The generator must not be closed while the worker is still inside it.
        with suppress(Exception):
            await pending


def _next_slice(events: Iterator[Event], path: Path) -> list[Event]:
    try:
        batch = list(islice(events, _EVENTS_PER_SLICE))
    except ParseError:
        raise
    except (RecursionError, MemoryError, UnicodeError, ValueError) as exc:
        # A parser bug or hostile input must still end as a clean, named rejection.
        raise ParseError(
            str(path), None, f"unreadable input ({type(exc).__name__}: {exc})"
        ) from exc
    # Dedup features are pure CPU work on the parsed text: done here, off the event loop,
    # and outside the parser's error handling (a failure here is not the file's fault).
    dedup_features.attach([e for e in batch if isinstance(e, ParsedPost)], path.parent)
    return batch
