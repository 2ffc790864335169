"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zones and hands back naive values; PostgreSQL returns them in the
    session time zone. Both come back here as aware UTC, and naive input is refused rather
    than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: tgpipe stores aware UTC times only")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them all in one form so '<' works.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite: straight to the text SQLAlchemy's DATETIME writes ("2024-03-31 01:30:00.000000"),
        # in one step instead of two layers of processors — imports bind millions of these.
        def process(value: datetime | None) -> str | None:
            naive_utc = self.process_bind_param(value, dialect)
            return None if naive_utc is None else naive_utc.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def now_utc() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
