"""Helpers for publishing tests: targets known to the fake and the store, posts, couriers."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

from aiogram import Bot

from bot.delivery import Courier
from bot.publisher import Publisher
from pipeline.publish.policy import Limits, Policy
from pipeline.publish.queue import schedule_forward, schedule_post
from pipeline.publish.targets import CheckedChat, record_target
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, Post, Publication
from pipeline.store.types import now_utc
from tests.fake_telegram.server import FakeTelegram

# Fast tests: no 1 s spacing between the parts of one post unless a test asks for it.
FAST = Policy(limits=Limits(chat_interval=0.0), backoff_base=0.05, backoff_max=0.2)


def png(path: Path, width: int = 4, height: int = 3) -> Path:
    """A tiny valid PNG file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


async def add_target(
    factory: SessionFactory, fake: FakeTelegram, chat_id: int, username: str
) -> Channel:
    """A channel the fake knows (the bot is its admin) and the store has as a target."""
    fake.add_chat(chat_id, type="channel", title=username.title(), username=username)
    async with unit_of_work(factory) as session:
        return await record_target(
            session,
            CheckedChat(chat_id=chat_id, type="channel", title=username.title(), username=username),
        )


async def add_post(
    factory: SessionFactory,
    text: str,
    entities: list[dict[str, Any]] | None = None,
    media: list[dict[str, Any]] | None = None,
) -> int:
    async with unit_of_work(factory) as session:
        post = Post(text=text, entities=entities or [], media=media or [])
        session.add(post)
        await session.flush()
        return post.id


async def plan(
    factory: SessionFactory,
    post_id: int,
    target: Channel,
    due: datetime | None = None,
    **options: Any,
) -> int:
    async with unit_of_work(factory) as session:
        publication = await schedule_post(session, post_id, target, due or now_utc(), **options)
        return publication.id


async def plan_forward(
    factory: SessionFactory,
    from_chat: str,
    ids: list[int],
    target: Channel,
    *,
    copy: bool = False,
) -> int:
    async with unit_of_work(factory) as session:
        publication = await schedule_forward(session, from_chat, ids, target, now_utc(), copy=copy)
        return publication.id


async def publication(factory: SessionFactory, publication_id: int) -> Publication:
    async with unit_of_work(factory) as session:
        return await session.get_one(Publication, publication_id)


def courier(bot: Bot, factory: SessionFactory, policy: Policy = FAST, **kwargs: Any) -> Courier:
    return Courier(
        Publisher(bot, chat_interval=policy.limits.chat_interval), factory, policy, **kwargs
    )
