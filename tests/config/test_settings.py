from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import DEFAULT_API_BASE, Settings, format_validation_error

pytestmark = pytest.mark.usefixtures("clean_settings")


def test_defaults_use_sqlite_file_in_working_directory(clean_settings: Path) -> None:
    settings = Settings()
    assert settings.database_url == f"sqlite+aiosqlite:///{clean_settings / 'tgpipe.db'}"
    assert settings.is_sqlite
    assert settings.bot_token is None
    assert settings.api_base == DEFAULT_API_BASE
    assert settings.admin_ids == frozenset()
    assert settings.timezone == "UTC"
    assert settings.redis_url is None
    assert settings.dedup_threshold == 0.6


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGPIPE_DATABASE_URL", "postgresql://tg:pw@db.example/tgpipe")
    monkeypatch.setenv("TGPIPE_BOT_TOKEN", "123:SECRET")
    monkeypatch.setenv("TGPIPE_API_BASE", "http://127.0.0.1:8081/")
    monkeypatch.setenv("TGPIPE_ADMIN_IDS", "42, 1001 ,7")
    monkeypatch.setenv("TGPIPE_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("TGPIPE_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("TGPIPE_DEDUP_THRESHOLD", "0.75")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://tg:pw@db.example/tgpipe"
    assert not settings.is_sqlite
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == "123:SECRET"
    assert settings.api_base == "http://127.0.0.1:8081"
    assert settings.admin_ids == {42, 1001, 7}
    assert str(settings.tz) == "Europe/Berlin"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.dedup_threshold == 0.75


def test_reads_dot_env_in_working_directory(clean_settings: Path) -> None:
    (clean_settings / ".env").write_text("TGPIPE_TIMEZONE=Asia/Tokyo\nTGPIPE_ADMIN_IDS=5\n")
    settings = Settings()
    assert settings.timezone == "Asia/Tokyo"
    assert settings.admin_ids == {5}


def test_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGPIPE_BOT_TOKEN", "123:VERYSECRET")
    monkeypatch.setenv("TGPIPE_DATABASE_URL", "postgresql://tg:dbpassword@db/tgpipe")
    text = repr(Settings()) + str(Settings())
    assert "VERYSECRET" not in text
    assert "dbpassword" not in text


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TGPIPE_TIMEZONE", "Mars/Olympus", "TGPIPE_TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ("TGPIPE_DATABASE_URL", "not a url", "TGPIPE_DATABASE_URL: not a database URL"),
        ("TGPIPE_DATABASE_URL", "mysql://u@h/db", "TGPIPE_DATABASE_URL: unsupported database"),
        ("TGPIPE_DATABASE_URL", "sqlite://", "TGPIPE_DATABASE_URL: a SQLite URL needs a file"),
        ("TGPIPE_DATABASE_URL", "postgresql://u@h", "TGPIPE_DATABASE_URL: a PostgreSQL URL needs"),
        ("TGPIPE_ADMIN_IDS", "12,abc", "TGPIPE_ADMIN_IDS: user ids must be integers, got 'abc'"),
        ("TGPIPE_API_BASE", "ftp://x", "TGPIPE_API_BASE: must be an http(s) URL"),
        ("TGPIPE_REDIS_URL", "localhost:6379", "TGPIPE_REDIS_URL: must be a redis:// URL"),
        ("TGPIPE_WEBHOOK_LISTEN", "8080", "TGPIPE_WEBHOOK_LISTEN: must be HOST:PORT"),
        ("TGPIPE_WEBHOOK_LISTEN", "0.0.0.0:99999", "TGPIPE_WEBHOOK_LISTEN: must be HOST:PORT"),
        ("TGPIPE_WEBHOOK_SECRET", "has space", "TGPIPE_WEBHOOK_SECRET: must be 1-256 characters"),
        ("TGPIPE_DEDUP_THRESHOLD", "0.1", "TGPIPE_DEDUP_THRESHOLD: Input should be greater"),
        ("TGPIPE_DEDUP_THRESHOLD", "1.5", "TGPIPE_DEDUP_THRESHOLD: Input should be less"),
        ("TGPIPE_DEDUP_THRESHOLD", "high", "TGPIPE_DEDUP_THRESHOLD: Input should be a valid"),
    ],
)
def test_bad_values_give_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    line = format_validation_error(caught.value)
    assert line.startswith(message)
    assert "\n" not in line


def test_bad_token_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGPIPE_ADMIN_IDS", "x")
    monkeypatch.setenv("TGPIPE_BOT_TOKEN", "123:SECRET")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "SECRET" not in format_validation_error(caught.value)
