"""Re-sightings of a stored message: which counts and which text win, whatever the order."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import permutations
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.dedup.text import content_hash, tokens
from pipeline.ingest.importer import import_paths
from pipeline.ingest.model import ChannelInfo, ParsedPost
from pipeline.ingest.report import FileReport
from pipeline.ingest.writer import PostWriter, upsert_channel
from pipeline.posts import get_post, list_posts
from pipeline.publish.targets import CheckedChat, record_target
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, Post, PostKey, ReactionSnapshot
from tests.pipeline.dedup.exports import Message, write_export

TEXT = "Вышла новая версия библиотеки: быстрее загрузка моделей, меньше памяти и поддержка ARM."
T0, T1, T2 = (datetime(2024, 6, day, tzinfo=UTC) for day in (1, 10, 20))


def export(folder: Path, taken_at: datetime, likes: int, **extra: object) -> Path:
    message = Message(7, TEXT, reactions={"👍": likes}, extra={"views": likes * 10, **extra})
    return write_export(folder / "result.json", [message], taken_at=taken_at)


async def only_post(factory: SessionFactory) -> Post:
    async with unit_of_work(factory) as session:
        return (await session.scalars(select(Post))).one()


@pytest.mark.parametrize("order", list(permutations(range(3))))
async def test_counts_come_from_the_newest_export(
    session_factory: SessionFactory, tmp_path: Path, order: tuple[int, ...]
) -> None:
    files = [
        export(tmp_path / "june-1", T0, likes=3),
        export(tmp_path / "june-10", T1, likes=5),
        export(tmp_path / "june-20", T2, likes=9),
    ]
    for index in order:
        await import_paths(session_factory, [files[index]])
    async with unit_of_work(session_factory) as session:
        (post,) = await list_posts(session)
        snapshots = (await session.scalars(select(ReactionSnapshot.taken_at))).all()
    assert post.reactions == {"👍": 9}
    assert post.views == 90
    assert (await only_post(session_factory)).counts_seen_at == T2
    # Snapshots are dated by when the export was taken, not when it was imported.
    assert T2 in snapshots
    assert max(snapshots) == T2


@pytest.mark.parametrize("plain_first", [True, False])
async def test_the_richer_version_of_a_message_is_kept(
    session_factory: SessionFactory, tmp_path: Path, plain_first: bool
) -> None:
    plain = export(tmp_path / "html-like", T1, likes=5)
    formatted = write_export(
        tmp_path / "json/result.json",
        [
            Message(
                7,
                TEXT,
                reactions={"👍": 5},
                extra={
                    "text": [{"type": "bold", "text": TEXT[:10]}, TEXT[10:]],
                    "text_entities": [
                        {"type": "bold", "text": TEXT[:10]},
                        {"type": "plain", "text": TEXT[10:]},
                    ],
                },
            )
        ],
        taken_at=T1,
    )
    files = [plain, formatted] if plain_first else [formatted, plain]
    for path in files:
        await import_paths(session_factory, [path])
    post = await only_post(session_factory)
    assert post.text == TEXT
    assert post.entities == [{"type": "bold", "offset": 0, "length": 10}]


async def test_an_edit_replaces_the_text_and_its_dedup_keys(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    edited_text = "Релиз отменили: в новой версии нашли ошибку, возвращайтесь к предыдущей сборке."
    await import_paths(session_factory, [export(tmp_path / "before", T1, likes=5)])
    before = await only_post(session_factory)
    edited = write_export(
        tmp_path / "after/result.json",
        [
            Message(
                7,
                edited_text,
                reactions={"👍": 6},
                extra={"edited": "2024-06-15T10:00:00", "edited_unixtime": "1718445600"},
            )
        ],
        taken_at=T2,
    )
    report = await import_paths(session_factory, [edited])
    assert (report.files[0].new, report.files[0].same_source) == (0, 1)
    after = await only_post(session_factory)
    assert after.id == before.id
    assert after.text == edited_text
    assert after.content_hash == content_hash(tokens(edited_text)) != before.content_hash
    async with unit_of_work(session_factory) as session:
        keys = set(await session.scalars(select(PostKey.key).where(PostKey.post_id == after.id)))
        shown = await get_post(session, after.id)
    from pipeline.dedup.signature import lsh_keys

    # Indexed under the new text only: the old text's keys would find the wrong neighbours.
    assert keys == set(lsh_keys([tokens(edited_text)])[0])
    assert shown.reactions == {"👍": 6}


async def test_newer_views_can_change_which_copy_is_canonical(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    # The same text in two channels, alike in everything but views (part of completeness).
    def channel_export(folder: str, chat_id: int, views: int, taken_at: datetime) -> Path:
        message = Message(7, TEXT, extra={"views": views})
        return write_export(tmp_path / folder / "result.json", [message], chat_id=chat_id,
                            name=f"Channel {chat_id}", taken_at=taken_at)  # fmt: skip

    await import_paths(session_factory, [channel_export("a-june", 1, 10, T1)])
    await import_paths(session_factory, [channel_export("b-june", 2, 20, T1)])
    async with unit_of_work(session_factory) as session:
        (canonical,) = await list_posts(session)
    assert canonical.channel == "Channel 2"
    await import_paths(session_factory, [channel_export("a-july", 1, 30, T2)])
    async with unit_of_work(session_factory) as session:
        (canonical,) = await list_posts(session)
    assert (canonical.channel, canonical.views) == ("Channel 1", 30)


@pytest.mark.parametrize("batch", [1, 2000], ids=["apart", "one batch"])
async def test_a_post_sighted_again_later_in_a_file_is_ranked_by_its_new_counts(
    session_factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # Apart, message 5's batch meets the stored message 7 first (and keeps its node for the
    # next batches, see KnownNodes); the next batch brings 7's newer views, which must count.
    monkeypatch.setattr("pipeline.ingest.writer.BATCH_SIZE", batch)
    first = write_export(
        tmp_path / "june/result.json", [Message(7, TEXT, extra={"views": 10})], taken_at=T1
    )
    later = write_export(
        tmp_path / "july/result.json",
        [Message(5, TEXT, extra={"views": 20}), Message(7, TEXT, extra={"views": 30})],
        taken_at=T2,
    )
    await import_paths(session_factory, [first])
    await import_paths(session_factory, [later])
    async with unit_of_work(session_factory) as session:
        (canonical,) = await list_posts(session)
    assert canonical.views == 30


@pytest.mark.parametrize("batch", [1, 2000], ids=["apart", "one batch"])
async def test_an_edit_later_in_the_same_file_leaves_only_its_keys(
    session_factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # The first version's keys may still be held back (staging.py) or not even be held yet
    # (same batch) when the edit replaces them. (A Desktop export listing one id twice with
    # different content is refused by its parser; the writer takes what it is given.)
    monkeypatch.setattr("pipeline.ingest.writer.BATCH_SIZE", batch)
    edited_text = "Релиз отменили: в новой версии нашли ошибку, возвращайтесь к предыдущей сборке."
    async with unit_of_work(session_factory) as session:
        writer = PostWriter(
            session,
            file=str(tmp_path / "page.html"),
            format="web-html",
            import_run_id=None,
            report=FileReport(str(tmp_path / "page.html")),
        )
        await writer.set_channel(await upsert_channel(session, ChannelInfo(username="chan")))
        await writer.add(ParsedPost(7, TEXT, date=T0))
        await writer.add(ParsedPost(7, edited_text, date=T0, edited=T1))
        await writer.finish()
    post = await only_post(session_factory)
    assert post.text == edited_text
    async with unit_of_work(session_factory) as session:
        keys = list(await session.scalars(select(PostKey.key).where(PostKey.post_id == post.id)))
    from pipeline.dedup.signature import lsh_keys

    assert sorted(keys) == sorted(lsh_keys([tokens(edited_text)])[0])


async def test_a_later_sighting_supplies_the_author_a_stored_post_lacks(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    # The same message, first stored without an author (a channel's own post, as a personal
    # chat was read before its senders were authors), then from an export naming the sender.
    def alice_export(folder: str, chat_type: str, sender_id: str) -> Path:
        message = Message(7, TEXT, extra={"from": "Alice", "from_id": sender_id})
        return write_export(
            tmp_path / folder / "result.json",
            [message],
            chat_id=4444,
            name="Alice",
            chat_type=chat_type,
        )

    await import_paths(session_factory, [alice_export("then", "public_channel", "channel4444")])
    post = await only_post(session_factory)
    assert (post.author, post.author_id) == (None, None)
    await import_paths(session_factory, [alice_export("now", "personal_chat", "user4444")])
    post = await only_post(session_factory)
    assert (post.author, post.author_id) == ("Alice", "user4444")


@pytest.mark.parametrize(
    ("chat_type", "bot_api_id"), [("channel", -1001600000001), ("group", -1600000001)]
)
async def test_the_export_of_a_publishing_target_is_that_chats_history(
    session_factory: SessionFactory, tmp_path: Path, chat_type: str, bot_api_id: int
) -> None:
    # The Bot API knows the chat as -100<id> (a basic group as -<id>); its Desktop export
    # writes the bare id and, often, no username.
    async with unit_of_work(session_factory) as session:
        target = await record_target(
            session, CheckedChat(bot_api_id, chat_type, "Our Chat", "our_chat")
        )
    path = write_export(
        tmp_path / "result.json", [Message(7, TEXT)], chat_id=1600000001, name="Our Chat (old)"
    )
    await import_paths(session_factory, [path])
    async with unit_of_work(session_factory) as session:
        assert (await only_post(session_factory)).channel_id == target.id
        assert len((await session.scalars(select(Channel))).all()) == 1
