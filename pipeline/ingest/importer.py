"""`tgpipe import`: every input file through its parser into the store, one transaction each.

A file is all or nothing: its events are written inside one unit of work, and a parse error
anywhere in it rolls the whole file back, while the other files still import. The run itself
(counts, errors) is recorded in ``import_runs``.

Live sources (a channel's web preview, an article by URL) come as :class:`Remote` inputs
beside the files: fetched whole first (``pipeline/sources``), then written the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Protocol

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


@dataclass(slots=True)
class Fetched:
    """What a live source read: its events, whole, and when it read them."""

    format: str
    events: list[Event]
    observed_at: datetime


class Remote(Protocol):
    """An input that is not a file: fetched when its turn comes (``pipeline/sources``)."""

    @property
    def name(self) -> str:
        """Where it is (a URL): the "file" its posts were seen in."""
        ...

    async def fetch(self, progress: Callable[[int], None]) -> Fetched:
        """Its events; a ``ParseError`` (naming the URL) when it cannot be read.
        ``progress`` is told how many posts it has read so far, as it goes."""
        ...


Input = Path | Remote


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
    paths: Sequence[Input],
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
) -> ImportReport:
    """Import every file under ``paths`` and every remote source among them, in order; see
    :class:`ImportReport` for the outcome."""
    check_format(options.format)
    missing = [str(path) for path in paths if isinstance(path, Path) and not path.exists()]
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
            await _import_files(factory, _expanded(paths), options, report, progress)
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


def _expanded(inputs: Sequence[Input]) -> list[Input]:
    """Folders walked into their files (see ``expand_inputs``), remote sources in place."""
    expanded: list[Input] = []
    for item in inputs:
        expanded.extend(expand_inputs([item]) if isinstance(item, Path) else [item])
    return expanded


async def _import_files(
    factory: SessionFactory,
    files: list[Input],
    options: ImportOptions,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    for done, path in enumerate(files):
        file_report = FileReport(path=str(path) if isinstance(path, Path) else path.name)
        report.files.append(file_report)

        def advance(item: FileReport, done: int = done) -> None:
            if progress:
                progress(item, done, len(files))

        try:
            if isinstance(path, Path):
                await _import_file(factory, path, options, report.run_id, file_report, advance)
            else:
                await _import_remote(factory, path, options, report.run_id, file_report, advance)
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
        async with aclosing(_slices(format, path, parse_options)) as slices:
            await _write(factory, slices, options, run_id, report, progress, _file_time(path))
    except ParseError as exc:
        raise _explained(path, options, exc) from None


async def _import_remote(
    factory: SessionFactory,
    source: Remote,
    options: ImportOptions,
    run_id: int | None,
    report: FileReport,
    progress: Callable[[FileReport], None],
) -> None:
    # Shown as the posts read so far, on a copy: the report counts what is written.
    fetched = await source.fetch(lambda read: progress(replace(report, parsed=read)))
    report.format = fetched.format
    posts = [event for event in fetched.events if isinstance(event, ParsedPost)]
    await asyncio.to_thread(dedup_features.attach, posts, None)

    async def one_slice() -> AsyncIterator[list[Event]]:
        yield fetched.events

    await _write(factory, one_slice(), options, run_id, report, progress, fetched.observed_at)


async def _write(
    factory: SessionFactory,
    slices: AsyncIterator[list[Event]],
    options: ImportOptions,
    run_id: int | None,
    report: FileReport,
    progress: Callable[[FileReport], None],
    observed_at: datetime,
) -> None:
    """Write one input's events in one unit of work: all of them, or (on a ParseError
    anywhere) none, with the report's counts reset to say so."""
    try:
        async with unit_of_work(factory) as session:
            if (await session.connection()).dialect.name == "postgresql":
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK}
                )
            writer = PostWriter(
                session,
                file=report.path,
                format=report.format or "",
                import_run_id=run_id,
                report=report,
                observed_at=observed_at,
                threshold=options.dedup_threshold,
            )
            channel_seen = False
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
    except ParseError:
        # Nothing of this input was committed; its counts would describe rows that are gone.
        report.new = report.duplicates = report.near_duplicates = 0
        report.same_source = report.same_content = 0
        raise


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
