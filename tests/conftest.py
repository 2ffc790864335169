"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pipeline.store import migrate
from pipeline.store.db import SessionFactory, create_engine, create_session_factory
from tests.db import backends, database

pytest_plugins = ["tests.fake_telegram.fixtures"]

REPO_ROOT = Path(__file__).resolve().parents[1]
# Real exports live beside the repository (DESIGN.md, "Testing"); never copied into it.
EXPORTS_DIR = (REPO_ROOT / ".." / "shared" / "exports").resolve()


def is_setting(name: str) -> bool:
    """A variable tgpipe reads (TGPIPE_TEST_* configure this test suite, not tgpipe)."""
    return name.startswith("TGPIPE_") and not name.startswith("TGPIPE_TEST_")


def environment_without_settings() -> dict[str, str]:
    """This process's environment minus every tgpipe setting, for a child `tgpipe`."""
    return {k: v for k, v in os.environ.items() if not is_setting(k)}


def tgpipe_command(*args: str) -> list[str]:
    """The installed `tgpipe` executable (as the README's quick start runs it) with ``args``."""
    return [str(Path(sys.executable).with_name("tgpipe")), *args]


@pytest.fixture
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TGPIPE_* variable set and an empty working directory (no .env, no tgpipe.db)."""
    for name in [name for name in os.environ if is_setting(name)]:
        monkeypatch.delenv(name)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


@pytest.fixture(scope="session")
def exports_dir() -> Path:
    """``../shared/exports``; tests that need it are skipped only when the folder is absent."""
    if not EXPORTS_DIR.is_dir():
        pytest.skip("../shared/exports is not present beside the repository")
    return EXPORTS_DIR


@pytest.fixture(params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once per backend under test (SQLite, and PostgreSQL in CI)."""
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated to head with the real alembic revisions."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)
