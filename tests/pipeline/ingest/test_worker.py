"""The parser process: it loads the parsers and the dedup maths, never the store, and it
ends with the import that started it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
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


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its parent has not collected it


def test_the_parser_process_stops_when_the_import_is_killed(tmp_path: Path) -> None:
    messages = [Message(n, f"Message number {n} of a large export") for n in range(1, 20_001)]
    export = write_export(tmp_path / "result.json", messages)
    env = environment_without_settings() | {"PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, str(export)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    pid = int(run.stdout.strip())
    deadline = time.monotonic() + 30
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # the orphan is not our child: nothing to wait on but its state
    assert not _running(pid), "the parser process outlived the import that started it"
