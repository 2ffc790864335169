"""Application settings.

Built once in an entry point (the CLI, the bot runner) and passed down; nothing reads the
environment anywhere else. Tests build their own ``Settings(...)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pipeline.dedup.threshold import DEFAULT_THRESHOLD, VETO_FROM
from pipeline.publish.policy import Limits, Policy
from pipeline.sources.addresses import DEFAULT_PREVIEW_BASE

if TYPE_CHECKING:
    from pipeline.sources.fetch import Fetcher, FetchOptions
    from pipeline.sources.watches import WatchContext

DEFAULT_API_BASE = "https://api.telegram.org"
DEFAULT_DATABASE_FILE = "tgpipe.db"

# Users paste plain URLs from their hosting provider; map them to the async drivers we ship.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalise_database_url(value: str) -> str:
    """Return ``value`` with the async driver tgpipe uses, or raise ``ValueError``."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"not a database URL: {value!r}") from None
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        supported = "sqlite:///PATH or postgresql://USER@HOST/DB"
        raise ValueError(f"unsupported database {url.drivername!r}; use {supported}")
    url = url.set(drivername=driver)
    if driver.startswith("sqlite") and not url.database:
        raise ValueError("a SQLite URL needs a file path, e.g. sqlite:///tgpipe.db")
    if driver.startswith("postgresql") and not url.database:
        raise ValueError(
            "a PostgreSQL URL needs a database name, e.g. postgresql://user@host/tgpipe"
        )
    return url.render_as_string(hide_password=False)


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"


# The suite's own variables (TGPIPE_TEST_DATABASE_URL, ...): not tgpipe's, never a typo.
_NOT_SETTINGS = "TGPIPE_TEST_"


def unknown_variables(environ: Mapping[str, str], env_file: Path) -> list[tuple[str, str | None]]:
    """The TGPIPE_* names in ``environ`` and ``env_file`` that are no setting (a typo such as
    TGPIPE_DATABSE_URL would otherwise be ignored in silence), each with the closest known
    name, if one is close."""
    from difflib import get_close_matches

    from dotenv import dotenv_values

    names = set(environ)
    if env_file.is_file():
        names |= set(dotenv_values(env_file))
    known = {f"TGPIPE_{name.upper()}" for name in Settings.model_fields}
    return [
        (name, next(iter(get_close_matches(name.upper(), known, n=1, cutoff=0.75)), None))
        for name in sorted(names)
        if name.upper().startswith("TGPIPE_")
        and not name.upper().startswith(_NOT_SETTINGS)
        and name.upper() not in known
    ]


class Settings(BaseSettings):
    """Every setting tgpipe reads; see ``config/example.env`` for documentation."""

    model_config = SettingsConfigDict(
        env_prefix="TGPIPE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = Field(default_factory=default_database_url)
    bot_token: SecretStr | None = None
    api_base: str = DEFAULT_API_BASE
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "UTC"
    redis_url: str | None = None
    # Similarity from which two posts are the same content; measured in bench/dedup_bench.py.
    dedup_threshold: float = Field(default=DEFAULT_THRESHOLD, ge=VETO_FROM, le=1.0)
    # Publishing (README, "Publishing and scheduling").
    send_per_second: int = Field(default=30, ge=1, le=1000)
    send_per_chat_per_minute: int = Field(default=20, ge=1, le=1000)
    chat_interval: float = Field(default=1.0, ge=0.0, le=60.0)
    lease_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    grace_minutes: float = Field(default=60.0, ge=0.0)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_base_seconds: float = Field(default=2.0, ge=0.0, le=600.0)
    # The bot (README, "The bot"): how long a chat's admins are remembered, and how many
    # requests one person may make per window before the bot stops answering for a while.
    admin_cache_seconds: float = Field(default=300.0, ge=0.0, le=86400.0)
    throttle_limit: int = Field(default=10, ge=1, le=1000)
    throttle_window: float = Field(default=10.0, gt=0.0, le=3600.0)
    # `tgpipe run --webhook URL` (README, "Webhook and several instances"): where its HTTP
    # server listens, and the secret Telegram sends with every update (unset: one derived
    # from the bot token, the same in every instance).
    webhook_listen: str = "0.0.0.0:8080"
    webhook_secret: SecretStr | None = None
    # Live sources (README, "Importing from the web"): where channel previews are read (a
    # mirror or a local server may stand in for t.me), and how politely.
    preview_base: str = DEFAULT_PREVIEW_BASE
    fetch_interval: float = Field(default=2.0, ge=0.0, le=3600.0)
    fetch_timeout: float = Field(default=20.0, gt=0.0, le=600.0)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("api_base", "preview_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            ids = []
            for part in parts:
                if not part:
                    continue
                try:
                    ids.append(int(part))
                except ValueError:
                    raise ValueError(f"user ids must be integers, got {part!r}") from None
            return frozenset(ids)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            ) from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"must be a redis:// URL, got {value!r}")
        return value or None

    @field_validator("webhook_listen")
    @classmethod
    def _webhook_listen(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"must be HOST:PORT, e.g. 0.0.0.0:8080, got {value!r}")
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token: 1-256 of A-Z, a-z, 0-9, _ and -.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    def policy(self) -> Policy:
        """How the dispatcher keeps Telegram's limits and treats failures."""
        return Policy(
            limits=Limits(
                per_second=self.send_per_second,
                per_chat_per_minute=self.send_per_chat_per_minute,
                chat_interval=self.chat_interval,
            ),
            lease=timedelta(seconds=self.lease_seconds),
            grace=timedelta(minutes=self.grace_minutes),
            max_attempts=self.max_attempts,
            backoff_base=self.retry_base_seconds,
        )

    def fetch_options(self) -> FetchOptions:
        """How live sources are fetched."""
        from pipeline.sources.fetch import FetchOptions  # httpx: only where something fetches

        return FetchOptions(timeout=self.fetch_timeout, host_interval=self.fetch_interval)

    def watch_context(self, fetcher: Fetcher) -> WatchContext:
        """What checks of watched channels need: ``fetcher`` (the process's one) and these
        settings."""
        from pipeline.ingest.importer import ImportOptions
        from pipeline.sources.watches import WatchContext

        options = ImportOptions(timezone=self.timezone, dedup_threshold=self.dedup_threshold)
        return WatchContext(fetcher, self.preview_base, options)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def database(self) -> URL:
        return make_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database.get_backend_name() == "sqlite"

    @property
    def sqlite_file(self) -> Path | None:
        """The embedded store's file (None for a server database)."""
        if not self.is_sqlite or not self.database.database:
            return None
        return Path(self.database.database)

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        # Keep the password of a database URL out of reprs that may end up in logs.
        for name, value in super().__repr_args__():
            if name == "database_url" and isinstance(value, str):
                value = make_url(value).render_as_string(hide_password=True)
            yield name, value


def format_validation_error(error: ValidationError) -> str:
    """One line per bad setting, naming the environment variable, never echoing secrets."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"TGPIPE_{field.upper()}: {message}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and ``.env``), with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
