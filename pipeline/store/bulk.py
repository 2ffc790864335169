"""Fast executemany of plain rows, for imports.

SQLAlchemy's executemany spends more time per row on its generic machinery than SQLite
spends storing the row. This keeps exactly what SQLAlchemy would send — the statement
compiled for the dialect, each column's own bind processor (JSON, UTC timestamps, enums) —
and drops the rest, which matters at hundreds of thousands of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


class BulkInsert:
    """``INSERT INTO table (columns...)`` for many rows given as tuples in ``columns`` order."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        statement = insert(table).values({name: bindparam(name) for name in columns})
        compiled = statement.compile(dialect=dialect)
        order = compiled.positiontup
        if order is None:
            raise ValueError(f"{dialect.name} does not take positional parameters")
        index = {name: position for position, name in enumerate(columns)}
        self._take = [index[name] for name in order]
        self._processors: list[Callable[[Any], Any] | None] = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order
        ]
        self._sql = str(compiled)
        # Rows of plain values in statement order need no per-value work at all.
        self._as_is = self._take == list(range(len(columns))) and not any(self._processors)

    def params(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if self._as_is:
            return [tuple(row) for row in rows]
        pairs = list(zip(self._take, self._processors, strict=True))
        return [
            tuple(row[i] if p is None or row[i] is None else p(row[i]) for i, p in pairs)
            for row in rows
        ]

    async def run(self, connection: AsyncConnection, rows: Iterable[Sequence[Any]]) -> None:
        params = self.params(rows)
        if params:
            await connection.exec_driver_sql(self._sql, params)
