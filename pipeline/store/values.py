"""``column IN (many values)`` as one bound parameter.

A plain ``IN`` list renders one parameter per value, so every batch of a different size is
a new statement for SQLAlchemy to compile and for the database to plan, and SQLite caps how
many parameters one statement takes. Here the values travel as a single parameter — a JSON
array read by ``json_each`` on SQLite, an array compared with ``= ANY`` on PostgreSQL — and
the statement is the same whatever their number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def among(
    column: QueryableAttribute[Any] | ColumnElement[Any], values: Iterable[int], dialect: str
) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (integers), for a session on ``dialect``."""
    if isinstance(column, QueryableAttribute):
        column = column.expression
    items = list(values)
    if dialect == "postgresql":
        return column == any_(bindparam(None, items, type_=ARRAY(column.type)))
    array = bindparam(None, json.dumps(items), type_=String)
    return column.in_(select(literal_column("value")).select_from(func.json_each(array)))
