"""Start-up stays light: the heavy libraries load only in the commands that need them.

`tgpipe --help`, `tgpipe posts list` and `tgpipe queue` start in well under a second because
importing the command line does not import aiogram, numpy, the parsers or alembic. Each case
runs in a fresh interpreter (this test process has imported everything already) and looks at
``sys.modules`` afterwards, so it fails on an import, never on timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, environment_without_settings

# Telegram, the parsers and article extraction, the dedup maths, the scheduler, migrations.
HEAVY = ("aiogram", "numpy", "trafilatura", "lxml", "alembic", "apscheduler")
# What only the commands that open the store or read the settings need.
STORE = ("sqlalchemy", "pydantic_settings", "aiosqlite")

PROBE = """
import json, sys
{code}
print(json.dumps(sorted({{name.partition(".")[0] for name in sys.modules}})))
"""


def loaded_after(code: str, workdir: Path) -> set[str]:
    """The top-level packages imported once ``code`` ran in a fresh `python`."""
    env = environment_without_settings()
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["TGPIPE_DATABASE_URL"] = f"sqlite:///{workdir / 'tgpipe.db'}"
    run = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return set(json.loads(run.stdout.splitlines()[-1]))


def test_importing_the_cli_imports_nothing_heavy(tmp_path: Path) -> None:
    loaded = loaded_after("import cli.main", tmp_path)
    assert "typer" in loaded  # the probe does see what was imported
    assert sorted(loaded.intersection(HEAVY + STORE)) == []


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    loaded = loaded_after("from cli.main import main; main(['--help'])", tmp_path)
    assert sorted(loaded.intersection(HEAVY + STORE)) == []


@pytest.mark.parametrize("command", [["posts", "list"], ["queue"]], ids=" ".join)
def test_reading_the_store_imports_only_the_store(tmp_path: Path, command: list[str]) -> None:
    # The store is created (and migrated, with alembic) by a first command; the next one
    # finds it current.
    loaded_after("from cli.main import main; main(['db', 'upgrade'])", tmp_path)
    loaded = loaded_after(f"from cli.main import main; main({command!r})", tmp_path)
    assert "sqlalchemy" in loaded
    assert sorted(loaded.intersection(HEAVY)) == []
