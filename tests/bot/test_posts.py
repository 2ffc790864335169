"""/post: the post as it will be published, then its facts with buttons (Publish now,
Schedule…, Duplicates); /dup."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.handlers.queue import PostAction
from pipeline.store.db import unit_of_work
from pipeline.store.models import DuplicateReason, Post, Publication
from tests.bot.running import (
    ADMIN_A,
    ALPHA,
    GLOBAL,
    OUTSIDER,
    Store,
    ask,
    ask_post,
    press,
)

PARAGRAPH = "A paragraph of a long post, long enough to take some room in a message. " * 8


async def _post(store: Store, text: str, **values: object) -> int:
    async with unit_of_work(store.factory) as session:
        post = Post(text=text, media=[], channel_id=store.channels["gamma"], **values)
        post.entities = values.get("entities", [])  # type: ignore[assignment]
        session.add(post)
        await session.flush()
        return post.id


def _buttons(store: Store, user: int) -> list[tuple[str, str]]:
    (call,) = [
        c
        for c in store.fake.calls_to("sendMessage")
        if c.params["chat_id"] == user and c.params.get("reply_markup")
    ][-1:]
    rows = call.params["reply_markup"]["inline_keyboard"]
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def test_the_preview_is_the_post_as_published(store: Store) -> None:
    text = "\n\n".join([PARAGRAPH] * 10)  # over 4096 characters: two messages
    bold = {"type": "bold", "offset": 0, "length": 11}
    post_id = await _post(store, text, entities=[bold])
    preview, info = await ask_post(store.fake, post_id, GLOBAL)
    assert len(preview) == 2
    assert " ".join(preview).split() == text.split()  # every word, in order, once
    first = next(c for c in store.fake.calls_to("sendMessage") if c.params["text"] == preview[0])
    assert first.params["entities"] == [bold]
    assert "↑ as it will be published (2 messages)" in info
    labels = [label for label, _ in _buttons(store, GLOBAL)]
    assert labels == ["🚀 Publish now", "🗓 Schedule…"]


async def test_publish_now_from_the_preview(store: Store) -> None:
    post_id = await _post(store, "Fresh news")
    await ask_post(store.fake, post_id, GLOBAL)
    await press(store, GLOBAL, PostAction(action="now", post=post_id).pack())
    # Two chats: the bot asks which.
    (alpha, _beta) = _buttons(store, GLOBAL)
    assert alpha[0] == "@alpha_news"
    await press(store, GLOBAL, alpha[1])
    await store.fake.wait_until(lambda: store.fake.messages_in(ALPHA), what="published")
    assert store.fake.messages_in(ALPHA)[-1]["text"] == "Fresh news"


async def test_schedule_from_the_preview_asks_when_then_where(store: Store) -> None:
    post_id = await _post(store, "Later news")
    await ask_post(store.fake, post_id, GLOBAL)
    await press(store, GLOBAL, PostAction(action="when", post=post_id).pack())
    assert store.fake.messages_in(GLOBAL)[-1]["text"].startswith(
        f"When should post {post_id} go out?"
    )
    assert "⚠️ WHEN 'tomorrowish'" in await ask(store.fake, "tomorrowish", GLOBAL)
    await press(store, GLOBAL, PostAction(action="when", post=post_id).pack())
    assert await ask(store.fake, "+2h", GLOBAL) == f"Where should post {post_id} go?"
    (_alpha, beta) = _buttons(store, GLOBAL)
    await press(store, GLOBAL, beta[1])
    async with unit_of_work(store.factory) as session:
        (planned,) = (await session.scalars(select(Publication))).all()
    assert (planned.post_id, planned.channel_id) == (post_id, store.channels["beta"])


async def test_duplicates_by_button_and_by_command(store: Store) -> None:
    original = await _post(store, "The original story")
    copy = await _post(
        store,
        "The original story, copied",
        duplicate_of=original,
        duplicate_reason=DuplicateReason.NEAR_DUPLICATE,
        similarity=0.93,
    )
    _, info = await ask_post(store.fake, original, GLOBAL)
    assert f"duplicates: #{copy} (near duplicate 0.93)" in info
    dups = dict(_buttons(store, GLOBAL))["🔁 Duplicates"]
    await press(store, GLOBAL, dups)
    to_me = [c for c in store.fake.calls_to("sendMessage") if c.params["chat_id"] == GLOBAL]
    listed = to_me[-1].params["text"]
    assert f"#{copy} · @gamma_source (near duplicate 0.93): The original story, copied" in listed
    assert listed == await ask(store.fake, f"/dup {original}", GLOBAL)
    assert f"is a duplicate of #{original}" in await ask(store.fake, f"/dup {copy}", GLOBAL)
    assert "Usage: /dup ID" in await ask(store.fake, "/dup x", GLOBAL)


async def test_buttons_for_a_post_one_may_not_see(store: Store) -> None:
    post_id = await _post(store, "Gamma only")
    await ask(store.fake, "/help", ADMIN_A)
    await ask(store.fake, "/help", OUTSIDER)
    for action in ("now", "when", "dups"):
        data = PostAction(action=action, post=post_id).pack()
        assert await press(store, ADMIN_A, data) == f"⚠️ no post with id {post_id}"
        assert "This bot is private" in await press(store, OUTSIDER, data)
    assert await ask(store.fake, f"/dup {post_id}", ADMIN_A) == f"⚠️ no post with id {post_id}"


async def test_posts_pages_and_searches(store: Store) -> None:
    for n in range(1, 24):
        await _post(store, f"Numbered post {n:02d} #series", date=datetime(2026, 10, n, tzinfo=UTC))
    first = await ask(store.fake, "/posts #series", GLOBAL)
    assert first.startswith("<b>Posts</b> · #series · page 1")
    assert "Numbered post 23" in first
    assert "Numbered post 13" not in first
    assert "secret plans" not in first
    (older,) = _buttons(store, GLOBAL)
    assert older[0] == "Older ›"
    await press(store, GLOBAL, older[1])
    second = store.fake.calls_to("editMessageText")[-1].params["text"]
    assert "Numbered post 13" in second
    assert "Numbered post 23" not in second
    by_channel = await ask(store.fake, "/posts gamma_source", GLOBAL)
    assert "Gamma secret plans" in by_channel
    assert await ask(store.fake, "/posts no such words", GLOBAL) == "No posts match."
