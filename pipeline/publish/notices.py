"""What the admins must be told, told once: an outbox in the store.

Whoever notices something (a claim that finds a dead sender, a chat that removed the bot, an
autopost rule with nothing left) calls :func:`tell` with a key naming the fact; the running
bot sends what is unsent to every admin (``bot/notify.py``), and `tgpipe dispatch` prints it.
A key already told is not told again, in however many processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.store.models import Notice
from pipeline.store.types import now_utc


async def tell(session: AsyncSession, key: str, text: str) -> None:
    """Queue ``text`` for the admins unless ``key`` was told before."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Notice)
        .values(key=key[:128], text=text, created_at=now_utc())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    await session.execute(statement)


async def unsent(session: AsyncSession, limit: int = 50) -> Sequence[Notice]:
    return (
        await session.scalars(
            select(Notice).where(Notice.sent_at.is_(None)).order_by(Notice.id).limit(limit)
        )
    ).all()


async def mark_sent(
    session: AsyncSession, ids: Sequence[int], when: datetime | None = None
) -> None:
    if ids:
        await session.execute(
            update(Notice).where(Notice.id.in_(ids)).values(sent_at=when or now_utc())
        )
