"""Telegram usernames as people and exports write them, reduced to one form.

Plain text work with no store behind it, so the parsers (and the parser process, which
never loads SQLAlchemy) can use it.
"""

from __future__ import annotations


def normalise_username(name: str) -> str:
    """'@Name', 't.me/Name' or 'https://t.me/s/Name' -> 'name'."""
    name = name.strip()
    for prefix in ("https://", "http://"):
        name = name.removeprefix(prefix)
    for prefix in ("t.me/s/", "t.me/", "telegram.me/", "@"):
        name = name.removeprefix(prefix)
    return name.strip("/").lower()
