"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pipeline.store.db import SessionFactory, create_engine, create_session_factory
from tests.db import Templates, backends, database
from tests.fake_web import PreviewSite

pytest_plugins = ["tests.fake_telegram.fixtures"]

REPO_ROOT = Path(__file__).resolve().parents[1]
# Real exports live beside the repository (DESIGN.md, "Testing"); never copied into it.
EXPORTS_DIR = (REPO_ROOT / ".." / "shared" / "exports").resolve()
# Bytecode of the modules a child `tgpipe` or `python` imports, kept between children (and
# test sessions) outside the repository: each child would otherwise compile tgpipe's modules
# again when the environment says PYTHONDONTWRITEBYTECODE.
CHILD_PYCACHE = Path(tempfile.gettempdir()) / f"tgpipe-tests-pycache-{os.getuid()}"

# Test files whose tests take the longest (subprocesses, real exports, mypy), run first so that
# the xdist workers finish together instead of one of them starting a long test last.
SLOW_FIRST = [
    "tests/test_quality.py",
    "tests/cli/test_publishing.py",
    "tests/pipeline/dedup/test_invariants.py",
    "tests/pipeline/ingest/test_importer.py",
    "tests/pipeline/dedup/test_cluster.py",
    "tests/bot/test_app.py",
    "tests/pipeline/publish/test_claims.py",
    "tests/bot/test_delivery.py",
    "tests/pipeline/ingest/test_desktop_json.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slowest files first, keeping the order of tests within a file."""
    rank = {name: position for position, name in enumerate(SLOW_FIRST)}

    def key(item: pytest.Item) -> int:
        path = item.path.relative_to(REPO_ROOT).as_posix()
        return rank.get(path, len(rank))

    items.sort(key=key)  # stable


def is_setting(name: str) -> bool:
    """A variable tgpipe reads (TGPIPE_TEST_* configure this test suite, not tgpipe)."""
    return name.startswith("TGPIPE_") and not name.startswith("TGPIPE_TEST_")


def environment_without_settings() -> dict[str, str]:
    """This process's environment minus every tgpipe setting, for a child `tgpipe`.

    The child keeps its compiled bytecode in :data:`CHILD_PYCACHE` (outside the repository).
    """
    env = {k: v for k, v in os.environ.items() if not is_setting(k)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(CHILD_PYCACHE)
    return env


def tgpipe_command(*args: str) -> list[str]:
    """The installed `tgpipe` executable (as the README's quick start runs it) with ``args``."""
    return [str(Path(sys.executable).with_name("tgpipe")), *args]


_CHILD_STDERR: weakref.WeakKeyDictionary[subprocess.Popen[str], str] = weakref.WeakKeyDictionary()


def stop_child(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """Stop a child started with ``stderr=PIPE`` (SIGTERM, SIGKILL if it is still running after
    ``timeout`` s) and return what it wrote to stderr; called again, the same text."""
    if process not in _CHILD_STDERR:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        _CHILD_STDERR[process] = stderr or ""
    return _CHILD_STDERR[process]


@contextmanager
def stderr_on_failure(*processes: subprocess.Popen[str]) -> Iterator[None]:
    """A failure inside the block shows what each child wrote to stderr (stopping it)."""
    try:
        yield
    except BaseException as failure:
        for process in processes:
            command = " ".join(str(arg) for arg in process.args)  # type: ignore[union-attr]
            failure.add_note(f"stderr of `{command}`:\n{stop_child(process)}")
        raise


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
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend under test: 'sqlite', and 'postgresql' in CI."""
    return str(request.param)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    """This session's (this xdist worker's) databases migrated to head, to copy from."""
    made = Templates(tmp_path_factory.mktemp("templates"))
    yield made
    made.close()


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once per backend under test (SQLite, and PostgreSQL in CI)."""
    with database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def migrated_database_url(backend: str, tmp_path: Path, templates: Templates) -> Iterator[str]:
    """A database URL at the newest revision: a copy of the session's template, which the
    real alembic revisions migrated (tests/migrations/ runs them on empty databases)."""
    with templates.copy(backend, tmp_path) as url:
        yield url


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated to head with the real alembic revisions."""
    engine = create_engine(migrated_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture
def preview_site() -> Iterator[PreviewSite]:
    """A fake t.me on 127.0.0.1 (channel previews, pages, faults): see tests/fake_web."""
    with PreviewSite() as site:
        yield site


@pytest.fixture
def live_settings(
    clean_settings: Path, preview_site: PreviewSite, monkeypatch: pytest.MonkeyPatch
) -> PreviewSite:
    """A clean CLI environment whose t.me is ``preview_site``, fetched without pauses."""
    monkeypatch.setenv("TGPIPE_PREVIEW_BASE", preview_site.base_url)
    monkeypatch.setenv("TGPIPE_FETCH_INTERVAL", "0")
    return preview_site
