"""Finding channels by the names admins use for them."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.errors import NotFoundError
from pipeline.store.models import Channel


def normalise_username(name: str) -> str:
    """'@Name', 't.me/Name' or 'https://t.me/s/Name' -> 'name'."""
    name = name.strip()
    for prefix in ("https://", "http://"):
        name = name.removeprefix(prefix)
    for prefix in ("t.me/s/", "t.me/", "telegram.me/", "@"):
        name = name.removeprefix(prefix)
    return name.strip("/").lower()


async def find_channel(session: AsyncSession, name: str) -> Channel:
    """The channel called ``name``: its @username, its title, or its Telegram id."""
    conditions = [
        Channel.username == normalise_username(name),
        func.lower(Channel.title) == name.strip().lower(),
    ]
    stripped = name.strip().removeprefix("-100")
    if stripped.lstrip("-").isdigit():
        conditions.append(Channel.telegram_id == int(stripped))
    channels = (await session.scalars(select(Channel).where(or_(*conditions)))).all()
    if len(channels) == 1:
        return channels[0]
    if len(channels) > 1:
        names = ", ".join(f"{c.display_name} (id {c.id})" for c in channels)
        raise NotFoundError(f"channel {name!r} is ambiguous: {names}")
    known = (await session.scalars(select(Channel).order_by(Channel.title).limit(20))).all()
    hint = ", ".join(c.display_name for c in known) or "none yet: import an export first"
    raise NotFoundError(f"no channel {name!r} (known channels: {hint})")
