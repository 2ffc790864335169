"""/import, and exports sent to the bot as documents: downloaded, unpacked if a ZIP (safely),
imported through the same importer as `tgpipe import`, with progress in one edited message."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from aiogram import Bot, F, Router, html
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, User
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasAccess
from bot.handlers.queue import choose_chat, take_choice
from config.settings import Settings
from pipeline.access import Access
from pipeline.errors import ParseError
from pipeline.ingest.archive import safe_extract
from pipeline.ingest.importer import ImportOptions, import_paths
from pipeline.ingest.report import FileReport, ImportReport
from pipeline.publish.targets import find_target, list_targets
from pipeline.store.db import SessionFactory

log = logging.getLogger(__name__)

# The Bot API lets bots download files up to 20 MB.
MAX_DOWNLOAD = 20 * 1024 * 1024
SUFFIXES = (".json", ".html", ".htm", ".txt", ".zip")
PROGRESS_SECONDS = 3.0  # how often the progress message is edited (Telegram limits edits)

HOW = (
    "Send me an export as a <b>document</b>: a Telegram Desktop export (<code>result.json</code>, "
    "<code>messages.html</code>, or the whole export folder as a <b>ZIP</b>, with its media), "
    "a <code>.txt</code> copy of a channel's web page, or a saved page. Up to 20 MB (the Bot "
    "API's limit); larger exports: <code>tgpipe import PATH</code> on the server."
)
TOO_BIG = (
    "⚠️ {name} is {size:.1f} MB: bots can download files of up to 20 MB only. Import it on "
    "the server instead (<code>tgpipe import PATH</code>), or run a local Bot API server "
    "(TGPIPE_API_BASE), which has no such limit; a Desktop export can also be split into "
    "several smaller ZIPs."
)


async def cmd_import(message: Message) -> None:
    await message.answer(HOW)


class ImportInto(CallbackData, prefix="imp"):
    """The chat chosen for an upload sent without one (the upload waits in the FSM)."""

    chat: int  # its store id


class Uploading(StatesGroup):
    chat = State()  # an upload waits for its chat to be chosen


# _import_for's answer when the sender has several chats and named none: ask which.
_ASK = -1


async def _import_for(session: AsyncSession, access: Access, caption: str | None) -> int | None:
    """The chat an upload is imported for: the one the caption names, or the sender's one
    chat; None (the store as a whole) for a global admin who names none; :data:`_ASK` when
    the sender has several chats to choose from."""
    named = (caption or "").strip().split()
    if named:
        return (await find_target(session, named[0], access.scope)).id
    if access.everything:
        return None
    targets = await list_targets(session, access.scope)
    return targets[0].id if len(targets) == 1 else _ASK


def _file_line(report: FileReport, shown: str) -> str:
    if report.rejected:
        reasons = "; ".join(report.errors) or "rejected"
        return f"❌ {html.quote(shown)}: {html.quote(reasons)}"
    parts = [f"{report.new:,} new"]
    if report.duplicates:
        parts.append(f"{report.duplicates:,} duplicates")
    if report.near_duplicates:
        parts.append(f"{report.near_duplicates:,} near duplicates")
    if report.skipped:
        parts.append(f"{report.skipped:,} service messages skipped")
    return f"✅ {html.quote(shown)} ({report.format}): {report.parsed:,} posts read — " + ", ".join(
        parts
    )


def describe(report: ImportReport, base: Path, name: str) -> str:
    """The report as the admin reads it: a line per file, named as in the upload (``name``
    itself, or paths inside the ZIP unpacked at ``base``)."""
    lines = []
    for item in report.files:
        path = Path(item.path)
        shown = str(path.relative_to(base)) if path.is_relative_to(base) else name
        lines.append(_file_line(item, shown))
    lines.extend(f"ℹ️ {html.quote(note)}" for note in report.notes)
    if not report.files:
        lines.append(f"⚠️ {html.quote(name)}: no export files in it (JSON, HTML or text)")
    return "\n".join(lines)


def _safe_name(name: str) -> str:
    """The upload's name as a file name of ours: no folders, nothing odd."""
    cleaned = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .")
    return cleaned or "upload"


@dataclass(frozen=True, slots=True)
class Upload:
    """A document to import, as the FSM keeps it while its chat is chosen."""

    file_id: str
    name: str
    size: int | None


async def on_document(
    message: Message,
    bot: Bot,
    session: AsyncSession,
    session_factory: SessionFactory,
    settings: Settings,
    access: Access,
    state: FSMContext,
) -> None:
    document = message.document
    assert document is not None  # the filter
    name = document.file_name or "upload"
    if not name.lower().endswith(SUFFIXES):
        await message.answer(
            f"⚠️ {html.quote(name)} is not an export tgpipe reads. {HOW}", parse_mode="HTML"
        )
        return
    if document.file_size and document.file_size > MAX_DOWNLOAD:
        await message.answer(TOO_BIG.format(name=html.quote(name), size=document.file_size / 1e6))
        return
    upload = Upload(document.file_id, name, document.file_size)
    into = await _import_for(session, access, message.caption)
    if into is _ASK:
        await state.set_state(Uploading.chat)
        await state.update_data(upload=asdict(upload))
        await choose_chat(
            message,
            session,
            access,
            f"📥 Which chat is {html.quote(name)} for?",
            lambda chat: ImportInto(chat=chat),
        )
        return
    status = await message.answer(f"⏳ Importing {html.quote(name)}…")
    await _import_upload(status, bot, upload, into, session_factory, settings, message.from_user)


async def cmd_import_into(
    query: CallbackQuery,
    callback_data: ImportInto,
    bot: Bot,
    session: AsyncSession,
    session_factory: SessionFactory,
    settings: Settings,
    access: Access,
    state: FSMContext,
) -> None:
    choice = await take_choice(session, access, state, callback_data.chat, Uploading.chat, "upload")
    if choice is None:
        await query.answer("That upload is no longer waiting: send the export again.")
        return
    target, kept = choice
    await query.answer()
    if not isinstance(query.message, Message):
        return
    upload = Upload(**kept)
    status = await query.message.edit_text(f"⏳ Importing {html.quote(upload.name)}…")
    if isinstance(status, Message):
        await _import_upload(
            status, bot, upload, target.id, session_factory, settings, query.from_user
        )


async def _import_upload(
    status: Message,
    bot: Bot,
    upload: Upload,
    into: int | None,
    session_factory: SessionFactory,
    settings: Settings,
    user: User | None,
) -> None:
    """Download ``upload``, unpack it if a ZIP, import it into chat ``into``, and report by
    editing ``status``."""
    name = upload.name
    with tempfile.TemporaryDirectory(prefix="tgpipe-upload-") as work:
        folder = Path(work)
        path = folder / _safe_name(name)
        try:
            await bot.download(upload.file_id, destination=path)
        except TelegramBadRequest as error:
            if "too big" in error.message.lower():
                size = (upload.size or MAX_DOWNLOAD + 1) / 1e6
                await status.edit_text(TOO_BIG.format(name=html.quote(name), size=size))
                return
            raise
        inputs = path
        if name.lower().endswith(".zip"):
            try:
                inputs = await asyncio.to_thread(safe_extract, path, folder / "unpacked", name=name)
            except ParseError as error:
                await status.edit_text(f"❌ {html.quote(str(error))}\nNothing was imported.")
                return
            path.unlink()
        options = ImportOptions(
            timezone=settings.timezone,
            requested_by=str(user.id if user else "bot"),
            dedup_threshold=settings.dedup_threshold,
            into_channel_id=into,
        )
        read = [0]
        per_file: dict[str, int] = {}

        def progress(item: FileReport, done: int, total: int) -> None:
            per_file[item.path] = item.parsed
            read[0] = sum(per_file.values())

        ticker = asyncio.create_task(_show_progress(status, name, read))
        try:
            report = await import_paths(session_factory, [inputs], options, progress)
        finally:
            ticker.cancel()
            with suppress(asyncio.CancelledError):
                await ticker
        await status.edit_text(describe(report, folder / "unpacked", name))


async def _show_progress(status: Message, name: str, read: list[int]) -> None:
    shown = 0
    while True:
        await asyncio.sleep(PROGRESS_SECONDS)
        if read[0] != shown:
            shown = read[0]
            with suppress(TelegramAPIError):
                await status.edit_text(f"⏳ Importing {html.quote(name)}: {shown:,} posts read…")


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.message.register(cmd_import, Command("import"))
    router.message.register(on_document, F.document)
    router.callback_query.filter(HasAccess())
    router.callback_query.register(cmd_import_into, ImportInto.filter())
    return router
