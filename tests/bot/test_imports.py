"""Importing by upload: an export sent to the bot as a document, downloaded through the fake
Bot API, imported through the real importer; hostile and oversized files refused."""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.handlers import imports
from bot.handlers.imports import ImportInto
from pipeline.store.db import unit_of_work
from pipeline.store.models import ImportRun, Post
from tests.bot.running import ADMIN_A, BETA, GLOBAL, OUTSIDER, OWNER_B, Store, ask, press, reply_to
from tests.fake_telegram.updates import document_message

EXAMPLE = Path(__file__).parents[2] / "examples" / "demo-channel" / "result.json"
_ids = itertools.count(1)


async def upload(
    store: Store,
    user: int,
    name: str,
    content: bytes,
    *,
    caption: str | None = None,
    size: int | None = None,
) -> str:
    """Send ``content`` as the document ``name``; the bot's last word on it (its reply, or
    the final text of the message it edited)."""
    fake = store.fake
    file_id = f"BQACAgIAAxkBAAI{next(_ids):06d}"
    fake.add_file(file_id, content)
    before = len(fake.calls_to("sendMessage"))
    kind = "application/octet-stream"
    fake.push_update(document_message(user, name, file_id, kind, size or len(content), caption))
    reply = await reply_to(fake, user, before)
    text = str(reply.params["text"])
    if not text.startswith("⏳"):
        return text
    message_id = reply.response["result"]["message_id"]

    def final() -> str | None:
        edits = [
            c.params["text"]
            for c in fake.calls_to("editMessageText")
            if c.params.get("message_id") == message_id and not c.params["text"].startswith("⏳")
        ]
        return edits[-1] if edits else None

    await fake.wait_until(lambda: final() is not None, timeout=30, what="the import's report")
    return str(final())


async def counts(store: Store) -> tuple[int, int]:
    """(posts, import runs) in the store."""
    async with unit_of_work(store.factory) as session:
        posts = await session.scalar(select(func.count()).select_from(Post))
        runs = await session.scalar(select(func.count()).select_from(ImportRun))
    return int(posts or 0), int(runs or 0)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


async def test_an_uploaded_export_is_imported_and_reported(store: Store) -> None:
    report = await upload(store, GLOBAL, "result.json", EXAMPLE.read_bytes())
    assert report.startswith("✅ result.json (desktop-json): ")
    assert " new" in report
    posts, runs = await counts(store)
    assert posts > 3  # the fixture's three, and the export's
    assert runs == 1
    # The same file again: nothing new, all duplicates.
    again = await upload(store, GLOBAL, "result.json", EXAMPLE.read_bytes())
    assert "— 0 new, " in again
    assert (await counts(store))[0] == posts


async def test_a_zip_of_an_export_folder_is_imported(store: Store) -> None:
    archive = _zip(
        {
            "ChatExport_2026-12-01/result.json": EXAMPLE.read_bytes(),
            "ChatExport_2026-12-01/photos/photo_1.jpg": b"\xff\xd8\xff",
        }
    )
    report = await upload(store, GLOBAL, "export.zip", archive)
    assert report.startswith("✅ ChatExport_2026-12-01/result.json (desktop-json): ")


async def test_a_channel_admins_upload_is_theirs_to_see(store: Store) -> None:
    await upload(store, ADMIN_A, "result.json", EXAMPLE.read_bytes())
    async with unit_of_work(store.factory) as session:
        (into,) = (await session.scalars(select(ImportRun.into_channel_id))).all()
    assert into == store.channels["alpha"]
    listing = await ask(store.fake, "/posts", ADMIN_A)
    assert "Tip 1: post at the same time every day" in listing  # the upload's
    assert "Alpha secret plans" in listing  # their channel's own
    assert "Beta" not in listing
    # The other channel's admin sees none of it.
    assert "Tip 1" not in await ask(store.fake, "/posts", OWNER_B)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "../../evil.zip",
            _zip({"../evil.json": b"{}"}),
            "the entry would land outside its folder",
        ),
        ("bomb.zip", _zip({"result.json": b" " * 3_000_000}), "refused as a possible zip bomb"),
        ("broken.zip", b"PK\x03\x04 not really", "not a readable ZIP archive"),
        ("report.pdf", b"%PDF-1.7", "is not an export tgpipe reads"),
        ("notes.json", b'{"hello": "world"}', "❌ notes.json: "),
        ("cut.json", EXAMPLE.read_bytes()[:300], "❌ cut.json: "),
    ],
)
async def test_bad_uploads_are_explained_and_import_nothing(
    store: Store, name: str, content: bytes, expected: str
) -> None:
    before = await counts(store)
    reply = await upload(store, GLOBAL, name, content)
    assert expected in reply
    assert (await counts(store))[0] == before[0]


async def test_a_file_over_the_download_limit_is_explained(store: Store) -> None:
    reply = await upload(store, GLOBAL, "result.json", b"{}", size=imports.MAX_DOWNLOAD + 1)
    assert "bots can download files of up to 20 MB only" in reply
    assert "tgpipe import PATH" in reply
    assert store.fake.calls_to("getFile") == []


async def test_outsiders_and_other_chats(store: Store) -> None:
    refused = await upload(store, OUTSIDER, "result.json", EXAMPLE.read_bytes())
    assert "This bot is private" in refused
    wrong_chat = await upload(
        store, OWNER_B, "result.json", EXAMPLE.read_bytes(), caption="@alpha_news"
    )
    assert wrong_chat.startswith("⚠️ @alpha_news is not a publishing target")
    assert store.fake.calls_to("getFile") == []
    assert await counts(store) == (3, 0)


async def test_import_tells_how(store: Store) -> None:
    assert "as a <b>document</b>" in await ask(store.fake, "/import", ADMIN_A)


async def test_a_long_import_shows_its_progress(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "PROGRESS_SECONDS", 0.05)
    messages = [
        {
            "id": n,
            "type": "message",
            "date": "2026-11-01T10:00:00",
            "date_unixtime": str(1_761_991_200 + n),
            "text": f"Post number {n}: {' '.join(f'word{n * 7 + k}' for k in range(12))}",
        }
        for n in range(1, 8001)
    ]
    export = {"name": "Big", "type": "public_channel", "id": 777, "messages": messages}
    report = await upload(store, GLOBAL, "big.json", json.dumps(export).encode())
    assert report.startswith("✅ big.json (desktop-json): 8,000 posts read — 8,000 new")
    shown = [
        c.params["text"]
        for c in store.fake.calls_to("editMessageText")
        if c.params["text"].startswith("⏳ Importing big.json: ")
    ]
    assert shown, "no progress was shown"
    assert shown[-1].endswith(" posts read…")


async def test_an_admin_of_several_chats_chooses_one_with_a_button(store: Store) -> None:
    store.fake.set_chat_admins(BETA, [OWNER_B, ADMIN_A])
    question = await upload(store, ADMIN_A, "result.json", EXAMPLE.read_bytes())
    assert question == "📥 Which chat is result.json for?"
    (message,) = [m for m in store.fake.messages_in(ADMIN_A) if m.get("text") == question]
    buttons = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["@alpha_news", "@beta_news"]
    assert await counts(store) == (3, 0)  # nothing imported before the choice
    # Another admin cannot choose for it; their own press finds no upload waiting.
    await ask(store.fake, "/help", OUTSIDER)
    outsider = await press(store, OUTSIDER, ImportInto(chat=store.channels["beta"]).pack())
    assert "This bot is private" in outsider
    await ask(store.fake, "/help", OWNER_B)
    other = ImportInto(chat=store.channels["alpha"]).pack()
    assert await press(store, OWNER_B, other) == "⚠️ no such chat"
    mine = ImportInto(chat=store.channels["beta"]).pack()
    assert await press(store, OWNER_B, mine) == (
        "That upload is no longer waiting: send the export again."
    )
    # The question message becomes the import's progress and report.
    assert await press(store, ADMIN_A, mine) == ""
    await store.fake.wait_until(
        lambda: any(
            c.params.get("message_id") == message["message_id"]
            and c.params["text"].startswith("✅ result.json")
            for c in store.fake.calls_to("editMessageText")
        ),
        timeout=30,
        what="the report in place of the question",
    )
    async with unit_of_work(store.factory) as session:
        (into,) = (await session.scalars(select(ImportRun.into_channel_id))).all()
    assert into == store.channels["beta"]
    # Pressed again, the choice imports nothing twice.
    await ask(store.fake, "/help", ADMIN_A)
    assert "no longer waiting" in await press(store, ADMIN_A, mine)
    assert (await counts(store))[1] == 1
