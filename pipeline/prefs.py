"""What each admin chose for themselves: for now, the time zone they speak in (/tz)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.publish.cron import validate_timezone
from pipeline.store.models import AdminPrefs


async def zone_of(session: AsyncSession, user_id: int) -> str | None:
    """The admin's own time zone, or None for the configured one."""
    prefs = await session.get(AdminPrefs, user_id)
    return prefs.timezone if prefs else None


async def set_zone(session: AsyncSession, user_id: int, zone: str | None) -> None:
    """Make ``zone`` (an IANA name, validated) the admin's own; None: the configured one."""
    if zone is not None:
        validate_timezone(zone)
    prefs = await session.get(AdminPrefs, user_id)
    if prefs is None:
        prefs = AdminPrefs(user_id=user_id)
        session.add(prefs)
    prefs.timezone = zone
    await session.flush()
