"""Fast executemany of plain rows, for imports.

SQLAlchemy's executemany spends more time per row on its generic machinery than SQLite
spends storing the row. This keeps exactly what SQLAlchemy would send — the statement
compiled for the dialect, each column's own bind processor (JSON, UTC timestamps, enums) —
and drops the rest, which matters at hundreds of thousands of rows. On PostgreSQL the rows
go through COPY (asyncpg's ``copy_records_to_table``), inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import DateTime, Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from pipeline.store.types import UTCDateTime


class BulkInsert:
    """``INSERT INTO table (columns...)`` for many rows given as tuples in ``columns`` order."""

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        dialect: Dialect,
        encoded: Collection[str] = (),
    ) -> None:
        """``encoded``: columns whose values come already in the form the driver takes
        (JSON text, say), which are passed on unconverted."""
        statement = insert(table).values({name: bindparam(name) for name in columns})
        compiled = statement.compile(dialect=dialect)
        order = compiled.positiontup
        if order is None:
            raise ValueError(f"{dialect.name} does not take positional parameters")
        index = {name: position for position, name in enumerate(columns)}
        self._take = [index[name] for name in order]
        self._processors: list[Callable[[Any], Any] | None] = [
            None if name in encoded else _processor(table.c[name].type, dialect) for name in order
        ]
        self._sql = str(compiled)
        self._table = table.name
        self._order = list(order)
        # PostgreSQL takes rows far faster through COPY than as one INSERT per row.
        self._copy = dialect.name == "postgresql" and dialect.driver == "asyncpg"
        # Rows of plain values in statement order need no per-value work at all.
        self._as_is = self._take == list(range(len(columns))) and not any(self._processors)

    def params(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        rows = list(rows)
        if self._as_is or not rows:
            return [tuple(row) for row in rows]
        # Column by column: only the values that need converting cost a Python call.
        columns = list(zip(*rows, strict=True))
        ordered = [
            columns[i] if p is None else [None if v is None else p(v) for v in columns[i]]
            for i, p in zip(self._take, self._processors, strict=True)
        ]
        return list(zip(*ordered, strict=True))

    async def run(self, connection: AsyncConnection, rows: Iterable[Sequence[Any]]) -> None:
        params = self.params(rows)
        if not params:
            return
        if not self._copy:
            await connection.exec_driver_sql(self._sql, params)
            return
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy begins the transaction with its first statement; COPY must be in it.
            await connection.exec_driver_sql("SELECT 1")
        await driver.copy_records_to_table(self._table, columns=self._order, records=params)


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    is_time = isinstance(type_, (DateTime, UTCDateTime))
    return _repeating(process) if process and is_time else process


def _repeating(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process``, remembering its last value: an import's rows share their times (when it
    was seen, when it was written), and converting each again was a tenth of writing them.
    (Only for datetimes, which are immutable: the same object gives the same result.)"""
    last: list[Any] = [_NOTHING, None]

    def remembered(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return remembered


_NOTHING = object()
