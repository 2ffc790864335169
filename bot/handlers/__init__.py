"""Routers, one per area, collected here in the order the dispatcher tries them.

Admin-only routers carry the admin filter once, at router level; the fallback router comes
last and answers whatever nothing else took (including everyone who is not an admin).
"""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    autopost,
    fallback,
    help,
    imports,
    membership,
    posts,
    prefs,
    queue,
    reactions,
    stats,
    watch,
)


def create_routers() -> list[Router]:
    """Fresh routers (a router can belong to one dispatcher only; tests build several)."""
    return [
        reactions.create_router(),
        membership.create_router(),
        help.create_router(),
        posts.create_router(),
        queue.create_router(),
        imports.create_router(),
        autopost.create_router(),
        watch.create_router(),
        stats.create_router(),
        prefs.create_router(),
        fallback.create_router(),
    ]
