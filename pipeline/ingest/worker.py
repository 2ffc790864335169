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
import pickle
import queue
import threading
from collections.abc import AsyncGenerator, Generator
from contextlib import suppress
from itertools import islice
from multiprocessing.connection import Connection
from pathlib import Path

from pipeline.dedup.features import attach
from pipeline.errors import ParseError
from pipeline.ingest.collector import fewer_collections
from pipeline.ingest.formats import parser_for
from pipeline.ingest.model import Event, ParsedPost, ParseOptions

log = logging.getLogger(__name__)

# Below this size a worker process costs more to start than it saves.
PROCESS_THRESHOLD_BYTES = 16 * 1024 * 1024
# Events per slice sent to the writer: 1,000 keeps the parser at ~95 MB at its peak (2,000:
# ~115 MB), at no cost in speed measured (bench/import_bench.py, 200k messages).
EVENTS_PER_MESSAGE = 1000
# Slices the parser may have ready before the writer takes them: bounds the memory held.
_AHEAD = 2
_END = "end"


def _work(format: str, path: str, options: ParseOptions, sender: Connection) -> None:
    """The worker: parse, send slices of events, then the end mark or the error."""
    outbox = _Outbox(sender)
    events = parser_for(format).parse(Path(path), options)
    try:
        with fewer_collections():
            while batch := list(islice(events, EVENTS_PER_MESSAGE)):
                _attach_features(batch, Path(path).parent)
                outbox.put(batch)
        outbox.last(_END)
    except _WriterGone:
        log.info("%s: the importing process has gone; parsing stopped", path)
    except ParseError as exc:
        outbox.last(exc)
    except (RecursionError, MemoryError, UnicodeError, ValueError) as exc:
        outbox.last(ParseError(path, None, f"unreadable input ({type(exc).__name__}: {exc})"))
    finally:
        if isinstance(events, Generator):
            events.close()
        outbox.close()


class _WriterGone(Exception):
    """The process that reads the slices has gone (it stopped, or was killed)."""


class _Outbox:
    """Sends from a thread of its own: a pipe holds far less than one slice, so sending
    directly would stop the parser until the writer asks for the next slice, and the two
    processes would take turns instead of working side by side."""

    def __init__(self, sender: Connection) -> None:
        self._sender = sender
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_AHEAD)
        self._gone = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tgpipe-parser-send")
        self._thread.start()

    def put(self, message: list[Event] | ParseError | str) -> None:
        """Queue ``message``; :class:`_WriterGone` once nobody reads any more."""
        if self._gone.is_set():
            raise _WriterGone
        self._queue.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def last(self, message: ParseError | str) -> None:
        """The end mark or the error, for a writer that may have gone already."""
        with suppress(_WriterGone):
            self.put(message)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (blob := self._queue.get()) is not None:
            if self._gone.is_set():
                continue  # only emptying the queue, so that put() and close() never block
            try:
                self._sender.send_bytes(blob)
            except OSError:
                # The writer has gone (killed, say): the parser stops at its next slice,
                # instead of waiting for ever on a full queue as an orphan process.
                self._gone.set()


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
        blob = receiver.recv_bytes()
    except EOFError:
        return ParseError(str(path), None, "the parser process stopped unexpectedly")
    message: list[Event] | ParseError | str = pickle.loads(blob)
    return message


async def parse_in_process(
    format: str, path: Path, options: ParseOptions
) -> AsyncGenerator[list[Event], None]:
    """Slices of the events of ``path``, parsed by a worker process; the next slice is
    received while the caller writes this one."""
    context = multiprocessing.get_context("spawn")  # fork is unsafe beside the loop's threads
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_work, args=(format, str(path), options, sender), daemon=True)
    process.start()
    sender.close()
    pending = asyncio.ensure_future(asyncio.to_thread(_receive, receiver, path))
    try:
        while True:
            message = await pending
            if isinstance(message, ParseError):
                raise message
            if isinstance(message, str):
                return
            pending = asyncio.ensure_future(asyncio.to_thread(_receive, receiver, path))
            yield message
    finally:
        if process.is_alive():
            process.terminate()
        # The receiving thread must be done with the pipe before it is closed.
        with suppress(Exception):
            await pending
        receiver.close()
        await asyncio.to_thread(process.join, 10)
