"""Fixtures shared by the whole suite."""

from __future__ import annotations

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
