"""Named locks that serialise short critical sections across processes sharing a store."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.store.models import Lock

DISPATCH = "dispatch"  # claims of due publications, autopost firings
REACTIONS = "reactions"  # recording reaction updates


async def take_lock(session: AsyncSession, name: str) -> None:
    """Serialise with every other holder of ``name``: the first statement of the transaction
    writes the lock row, so SQLite takes its write lock now (not on a later upgrade that
    could fail) and PostgreSQL holds the row until commit."""
    await session.execute(
        update(Lock)
        .where(Lock.name == name)
        .values(counter=Lock.counter + 1)
        .execution_options(synchronize_session=False)
    )
