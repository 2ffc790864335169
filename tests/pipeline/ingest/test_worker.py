"""The parser process: it loads the parsers and the dedup maths, never the store, and it
ends with the import that started it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from tests.cli.test_startup import loaded_after
from tests.conftest import REPO_ROOT, environment_without_settings
from tests.pipeline.dedup.exports import Message, write_export

# The store's libraries: a parser process that loaded them paid ~20 MB and 0.2 s for nothing.
STORE = ("sqlalchemy", "aiosqlite", "asyncpg", "alembic", "pydantic_settings")


def test_the_parser_process_never_loads_the_store(tmp_path: Path) -> None:
    code = (
        "import pipeline.ingest.worker\n"
        "from pipeline.ingest.formats import FORMATS, parser_for\n"
        "for name in FORMATS: parser_for(name)"
    )
    loaded = loaded_after(code, tmp_path)
    assert "numpy" in loaded  # the probe sees what the worker imports
    assert sorted(loaded.intersection(STORE)) == []


# The importing side of a large import, killed once the parser process is under way.
KILLED_IMPORT = """
import asyncio, multiprocessing, os, signal, sys
from pathlib import Path
from pipeline.ingest.model import ParseOptions
from pipeline.ingest.worker import parse_in_process

async def main():
    slices = parse_in_process("desktop-json", Path(sys.argv[1]), ParseOptions())
    await anext(slices)  # the parser runs, with much more to send
    (parser,) = multiprocessing.active_children()
    print(parser.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind

asyncio.run(main())
"""


def _ends_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` (not a child of ours) ends within ``seconds``."""
    try:
        handle = os.pidfd_open(pid)  # readable once the process has ended, reaped or not
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], seconds)
        return bool(readable)
    finally:
        os.close(handle)


def test_the_parser_process_stops_when_the_import_is_killed(tmp_path: Path) -> None:
    messages = [Message(n, f"Message number {n} of a large export") for n in range(1, 20_001)]
    export = write_export(tmp_path / "result.json", messages)
    env = environment_without_settings() | {"PYTHONPATH": str(REPO_ROOT)}
    out, err = tmp_path / "out", tmp_path / "err"
    # Files, not pipes: an orphan holding a pipe open would keep run() waiting.
    with out.open("w") as stdout, err.open("w") as stderr:
        run = subprocess.run(
            [sys.executable, "-c", KILLED_IMPORT, str(export)],
            env=env,
            stdout=stdout,
            stderr=stderr,
            timeout=60,
            check=False,
        )
    assert run.returncode == -signal.SIGKILL, err.read_text()
    pid = int(out.read_text())
    assert _ends_within(pid, 30), "the parser process outlived the import that started it"
