"""Finding channels by the names admins use for them."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.errors import NotFoundError
from pipeline.store.models import Channel
from pipeline.usernames import normalise_username


async def find_channel(
    session: AsyncSession, name: str, scope: Collection[int] | None = None
) -> Channel:
    """The channel called ``name``: its @username, its title, or its Telegram id.

    With ``scope`` (store ids), only those channels are looked at, and named in the error:
    a channel outside it is answered as unknown."""
    # Matched in Python: SQLite's lower() folds ASCII only, and titles are rarely ASCII.
    wanted = name.strip().casefold()
    username = normalise_username(name)
    numeric = name.strip().removeprefix("-100")
    telegram_id = int(numeric) if numeric.lstrip("-").isdigit() else None
    query = select(Channel).order_by(Channel.title)
    if scope is not None:
        query = query.where(Channel.id.in_(scope))
    known = (await session.scalars(query)).all()
    matches = [
        channel
        for channel in known
        if channel.username == username
        or channel.title.casefold() == wanted
        or (telegram_id is not None and channel.telegram_id == telegram_id)
    ]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(f"{c.display_name} (id {c.id})" for c in matches)
        raise NotFoundError(f"channel {name!r} is ambiguous: {names}")
    hint = ", ".join(c.display_name for c in known[:20]) or "none yet: import an export first"
    raise NotFoundError(f"no channel {name!r} (known channels: {hint})")
