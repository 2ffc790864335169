"""`tgpipe` itself: version, help, errors, and the embedded store created on first use."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.store import migrate
from tests.conftest import REPO_ROOT, environment_without_settings, tgpipe_command


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


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        (("db", "current"), "current: empty; newest: "),
        (("posts", "list"), "No posts yet."),
        (("posts", "list", "--json"), "[]"),
        (("queue",), "the queue is empty"),
        (("queue", "--json"), "[]"),
        (("channels", "list"), "no publishing targets yet"),
        (("autopost", "list", "--json"), "[]"),
    ],
)
def test_a_reading_command_answers_without_creating_a_store(
    tgpipe, args: tuple[str, ...], answer: str
) -> None:
    result = tgpipe(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(answer)
    assert list(Path().iterdir()) == []  # no tgpipe.db, no -wal, no -shm


def test_a_writing_command_creates_the_embedded_store(tgpipe) -> None:
    assert tgpipe("posts", "show", "1").exit_code == 1  # nothing to show, nothing made
    assert not Path("tgpipe.db").exists()
    result = tgpipe("import", str(REPO_ROOT / "examples" / "demo-channel"))
    assert result.exit_code == 0, result.stderr
    assert Path("tgpipe.db").is_file()
    assert len(tgpipe("posts", "list", "--json").json()) == 7


@pytest.mark.parametrize("where", ["environment", ".env"])
@pytest.mark.parametrize(
    ("name", "warning"),
    [
        ("TGPIPE_DATABSE_URL", "TGPIPE_DATABSE_URL is not a tgpipe setting; it is ignored "
         "(did you mean TGPIPE_DATABASE_URL?)"),
        ("TGPIPE_BOT_TOKNE", "(did you mean TGPIPE_BOT_TOKEN?)"),
        ("TGPIPE_WHATEVER", "TGPIPE_WHATEVER is not a tgpipe setting; it is ignored\n"),
    ],
)  # fmt: skip
def test_an_unknown_setting_is_named_with_the_closest_one(
    tgpipe, monkeypatch: pytest.MonkeyPatch, where: str, name: str, warning: str
) -> None:
    if where == ".env":
        Path(".env").write_text(f"{name}=sqlite:///elsewhere.db\n", encoding="utf-8")
    else:
        monkeypatch.setenv(name, "sqlite:///elsewhere.db")
    result = tgpipe("posts", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert result.stderr.startswith("tgpipe: warning: ")
    assert warning in result.stderr
    assert result.stderr.count("\n") == 1


def test_known_settings_and_the_suites_own_variables_warn_nothing(
    tgpipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TGPIPE_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("TGPIPE_TEST_DATABASE_URL", "postgresql://x/y")
    assert tgpipe("posts", "list", "--json").stderr == ""


@pytest.mark.parametrize(
    ("env", "expected", "code"),
    [
        ({"TGPIPE_TIMEZONE": "Nowhere/City"}, "TGPIPE_TIMEZONE: unknown time zone", 2),
        ({"TGPIPE_DATABASE_URL": "oracle://x/y"}, "TGPIPE_DATABASE_URL: unsupported database", 2),
        (
            {"TGPIPE_DATABASE_URL": "sqlite:////nonexistent-dir/x.db"},
            "cannot open the database sqlite+aiosqlite:////nonexistent-dir/x.db: the folder "
            "/nonexistent-dir does not exist",
            1,
        ),
    ],
)
def test_errors_are_one_line_and_non_zero(
    tgpipe, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str, code: int
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = tgpipe("db", "upgrade")
    assert result.exit_code == code
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("tgpipe: error: ")
    assert "Traceback" not in result.stderr


@pytest.fixture
def read_only_store(tgpipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The example's store on a real read-only file system (a tmpfs remounted read-only)."""
    monkeypatch.setenv("TGPIPE_DATABASE_URL", f"sqlite:///{tmp_path / 'tgpipe.db'}")
    assert tgpipe("import", str(REPO_ROOT / "examples" / "demo-channel")).exit_code == 0
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(disk)], check=False).returncode:
        pytest.skip("mounting a file system needs root")
    try:
        shutil.copy(tmp_path / "tgpipe.db", disk)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        monkeypatch.setenv("TGPIPE_DATABASE_URL", f"sqlite:///{disk / 'tgpipe.db'}")
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (("posts", "list"), "Tip 3: reply to the comments"),
        (("posts", "show", "1"), "Welcome to the tgpipe demo channel!"),
        (("db", "current"), f"current: {migrate.head_revision()}"),
        (("stats",), "Messages: 7"),
        (("queue",), "the queue is empty"),
    ],
)
def test_reading_commands_work_on_a_read_only_disk(
    tgpipe, read_only_store: Path, args: tuple[str, ...], shows: str
) -> None:
    result = tgpipe(*args)
    assert result.exit_code == 0, result.stderr
    assert shows in result.stdout


@pytest.mark.parametrize(
    "args", [("import", str(REPO_ROOT / "examples" / "demo-channel")), ("db", "upgrade")]
)
def test_writing_to_a_read_only_disk_names_the_cause(
    tgpipe, read_only_store: Path, args: tuple[str, ...]
) -> None:
    result = tgpipe(*args)
    assert result.exit_code == 1
    assert result.stderr == (
        f"tgpipe: error: cannot open the database sqlite+aiosqlite:///{read_only_store}/"
        f"tgpipe.db: {read_only_store} is on a read-only file system\n"
    )


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
        tgpipe_command("import", str(REPO_ROOT / "examples" / "demo-channel"), "--json"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["totals"]["new"] == 7
    assert (tmp_path / "tgpipe.db").is_file()
