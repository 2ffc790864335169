"""Parsing a large file in a worker process, beside the process that writes the store.

Parsing and writing are both Python work; in one process they take turns on the GIL. For a
large export a separate parser process runs on another core and the import takes the time
of the slower half instead of the sum. This module is what the worker imports, so it stays
free of the store and of SQLAlchemy (the dedup features it computes are plain numpy).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import AsyncGenerator, Generator
from itertools import islice
from multiprocessing.connection import Connection
from pathlib import Path

from pipeline.dedup.features import attach
from pipeline.errors import ParseError
from pipeline.ingest.formats import parser_for
from pipeline.ingest.model import Event, ParsedPost, ParseOptions

log = logging.getLogger(__name__)

# Below this size a worker process costs more to start than it saves.
PROCESS_THRESHOLD_BYTES = 16 * 1024 * 1024
EVENTS_PER_MESSAGE = 2000
_END = "end"


def _work(format: str, path: str, options: ParseOptions, sender: Connection) -> None:
    """The worker: parse, send slices of events, then the end mark or the error."""
    events = parser_for(format).parse(Path(path), options)
    try:
        while batch := list(islice(events, EVENTS_PER_MESSAGE)):
            _attach_features(batch, Path(path).parent)
            sender.send(batch)
    except ParseError as exc:
        sender.send(exc)
        return
    except (RecursionError, MemoryError, UnicodeError, ValueError) as exc:
        sender.send(ParseError(path, None, f"unreadable input ({type(exc).__name__}: {exc})"))
        return
    finally:
        if isinstance(events, Generator):
            events.close()
    sender.send(_END)


def _attach_features(batch: list[Event], base: Path) -> None:
    """Dedup features, computed here on this process's core rather than the writer's."""
    try:
        attach([event for event in batch if isinstance(event, ParsedPost)], base)
    except Exception:
        # Not the file's fault: the writer computes what is missing and a real bug shows
        # there as itself, instead of as a rejected file.
        log.exception("computing dedup features in the parser process failed")


def _receive(receiver: Connection, path: Path) -> list[Event] | ParseError | str:
    try:
        message: list[Event] | ParseError | str = receiver.recv()
    except EOFError:
        return ParseError(str(path), None, "the parser process stopped unexpectedly")
    return message


async def parse_in_process(
    format: str, path: Path, options: ParseOptions
) -> AsyncGenerator[list[Event], None]:
    """Slices of the events of ``path``, parsed by a worker process."""
    context = multiprocessing.get_context("spawn")  # fork is unsafe beside the loop's threads
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_work, args=(format, str(path), options, sender), daemon=True)
    process.start()
    sender.close()
    try:
        while True:
            message = await asyncio.to_thread(_receive, receiver, path)
            if isinstance(message, ParseError):
                raise message
            if isinstance(message, str):
                return
            yield message
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        await asyncio.to_thread(process.join, 10)
