"""`tgpipe` itself: version, help, errors, and the embedded store created on first use."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.store import migrate
from tests.conftest import environment_without_settings, tgpipe_command


def test_version(tgpipe) -> None:
    result = tgpipe("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == "tgpipe 0.1.0"


def test_help_lists_commands(tgpipe) -> None:
    result = tgpipe("--help")
    assert result.exit_code == 0
    for command in ("db", "posts", "import"):
        assert command in result.stdout


def test_fresh_directory_upgrade_then_empty_list(tgpipe) -> None:
    upgrade = tgpipe("db", "upgrade")
    assert upgrade.exit_code == 0, upgrade.stderr
    assert "upgraded from empty" in upgrade.stdout
    assert Path("tgpipe.db").is_file()
    again = tgpipe("db", "upgrade")
    assert "up to date" in again.stdout
    listing = tgpipe("posts", "list", "--json")
    assert listing.exit_code == 0
    assert listing.json() == []


def test_any_command_creates_the_embedded_store(tgpipe) -> None:
    assert not Path("tgpipe.db").exists()
    result = tgpipe("posts", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == []
    assert Path("tgpipe.db").is_file()


@pytest.mark.parametrize(
    ("env", "expected", "code"),
    [
        ({"TGPIPE_TIMEZONE": "Nowhere/City"}, "TGPIPE_TIMEZONE: unknown time zone", 2),
        ({"TGPIPE_DATABASE_URL": "oracle://x/y"}, "TGPIPE_DATABASE_URL: unsupported database", 2),
        ({"TGPIPE_DATABASE_URL": "sqlite:////nonexistent-dir/x.db"}, "cannot open the database", 1),
    ],
)
def test_errors_are_one_line_and_non_zero(
    tgpipe, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str, code: int
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = tgpipe("posts", "list")
    assert result.exit_code == code
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("tgpipe: error: ")
    assert "Traceback" not in result.stderr


def test_server_database_must_be_upgraded_deliberately(
    tgpipe, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("TGPIPE_DATABASE_URL", database_url)
    if database_url.startswith("sqlite"):
        # The embedded store upgrades itself on first use.
        assert tgpipe("posts", "list", "--json").exit_code == 0
        return
    refused = tgpipe("posts", "list", "--json")
    assert refused.exit_code == 1
    assert "run `tgpipe db upgrade`" in refused.stderr
    assert tgpipe("db", "upgrade").exit_code == 0
    assert tgpipe("posts", "list", "--json").json() == []


def test_db_upgrade_creates_every_table(tgpipe, monkeypatch, database_url: str) -> None:
    monkeypatch.setenv("TGPIPE_DATABASE_URL", database_url)
    assert tgpipe("db", "upgrade").exit_code == 0
    current = tgpipe("db", "current")
    assert f"current: {migrate.head_revision()}" in current.stdout


def test_console_script_is_installed(tmp_path: Path) -> None:
    """The real `tgpipe` executable on PATH, as the README's quick start uses it."""
    env = environment_without_settings()
    run = subprocess.run(
        tgpipe_command("posts", "list", "--json"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    assert (tmp_path / "tgpipe.db").is_file()
