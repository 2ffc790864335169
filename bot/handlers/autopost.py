"""/autopost: recurring posting rules from Telegram — list (with Pause / Resume / Remove
buttons), add, pause, resume, remove; the work is pipeline/publish/autopost.py's."""

from __future__ import annotations

import re
from functools import partial

from aiogram import F, Router, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    User,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasAccess
from bot.handlers.queue import choose_chat, take_choice, target_for, usage_reply
from bot.middlewares import AfterCommit
from config.settings import Settings
from pipeline.access import Access
from pipeline.errors import UsageError
from pipeline.publish import autopost
from pipeline.publish.cron import validate_cron, validate_timezone
from pipeline.store.models import Channel
from pipeline.store.types import now_utc

USAGE = (
    "Usage:\n/autopost — the rules\n"
    "/autopost add CRON [CHAT] [ZONE] — e.g. /autopost add 0 9 * * * @mychannel Europe/Berlin "
    "(every day at 09:00 in Berlin; the zone defaults to TGPIPE_TIMEZONE)\n"
    "/autopost add best [N] [CHAT] [ZONE] — at the chat's N best hours a day (default 3, "
    "from its history: /stats)\n"
    "/autopost pause ID, /autopost resume ID, /autopost remove ID"
)


_DONE = {"pause": "paused", "resume": "resumed", "remove": "removed"}


class RuleAction(CallbackData, prefix="rule"):
    action: str  # pause, resume, remove
    id: int
    notice: bool = False  # under an admin notice, not under /autopost


def _rule_line(rule: autopost.RuleView) -> str:
    state = (
        "⏸ paused" if not rule.enabled else f"next {rule.next_runs[0]}" if rule.next_runs else ""
    )
    extra = "".join(
        f" · {part}"
        for part in (
            rule.policy,
            f"from {rule.source}" if rule.source else "",
            f"#{rule.tag}" if rule.tag else "",
        )
        if part
    )
    best = f" (its {rule.best_hours} best hours)" if rule.best_hours else ""
    return (
        f"⏰ <b>{rule.id}</b> → {html.quote(rule.chat)}: "
        f"<code>{html.quote(rule.cron)}</code>{best} "
        f"({html.quote(rule.timezone)}){extra} · {state}"
    )


async def _rules_page(
    session: AsyncSession, access: Access
) -> tuple[str, InlineKeyboardMarkup | None]:
    rules = await autopost.list_rules(session, now_utc(), access.scope)
    if not rules:
        return "No autopost rules. Add one: /autopost add 0 9 * * * (every day at 09:00).", None
    rows = []
    for rule in rules:
        toggle = RuleAction(action="pause" if rule.enabled else "resume", id=rule.id)
        label = f"⏸ Pause {rule.id}" if rule.enabled else f"▶ Resume {rule.id}"
        rows.append(
            [
                InlineKeyboardButton(text=label, callback_data=toggle.pack()),
                InlineKeyboardButton(
                    text=f"🗑 Remove {rule.id}",
                    callback_data=RuleAction(action="remove", id=rule.id).pack(),
                ),
            ]
        )
    text = "<b>Autopost rules</b>\n" + "\n".join(_rule_line(rule) for rule in rules)
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def cmd_autopost(message: Message, session: AsyncSession, access: Access) -> None:
    text, markup = await _rules_page(session, access)
    await message.answer(text, reply_markup=markup)


# "/autopost add best [N]": at the chat's N best hours a day.
_BEST = re.compile(r"best(?:\s+(\d{1,2}))?", re.IGNORECASE)


def _split_rule(words: list[str], default_zone: str) -> tuple[str, str | None, str]:
    """``CRON [CHAT] [ZONE]`` in any order after the cron: the cron, the chat, the zone."""
    chat = zone = None
    cron: list[str] = []
    for word in words:
        if word.startswith(("@", "t.me/", "https://t.me/")) or word.startswith("-100"):
            chat = word
        elif ("/" in word and not word[0].isdigit() and word[0] != "*") or word.upper() == "UTC":
            zone = word
        else:
            cron.append(word)
    if not cron:
        raise UsageError(USAGE)
    return " ".join(cron), chat, zone or default_zone


class AddingRule(StatesGroup):
    chat = State()  # a new rule waits for the chat it posts to


class RuleTo(CallbackData, prefix="ruleto"):
    """The chat chosen for /autopost add sent without one (the rule waits in the FSM)."""

    chat: int  # its store id


async def cmd_autopost_add(
    message: Message,
    rule: re.Match[str],
    session: AsyncSession,
    settings: Settings,
    access: Access,
    state: FSMContext,
    after_commit: AfterCommit,
) -> None:
    cron, chat, zone = _split_rule(rule[1].split(), settings.timezone)
    validate_timezone(zone)
    best = _BEST.fullmatch(cron)
    if not best:
        validate_cron(cron)  # a typo is told now, not after the chat is chosen
    target = await target_for(session, access, chat)
    if target is None:
        await state.set_state(AddingRule.chat)
        await state.update_data(rule={"cron": cron, "zone": zone})
        await choose_chat(
            message,
            session,
            access,
            "Which chat should the rule post to?",
            lambda c: RuleTo(chat=c),
        )
        return
    text = await _add(session, access, message.from_user, target, cron, zone)
    after_commit.append(partial(message.answer, text))


async def _add(
    session: AsyncSession,
    access: Access,
    user: User | None,
    target: Channel,
    cron: str,
    zone: str,
) -> str:
    best = _BEST.fullmatch(cron)
    added = await autopost.add_rule(
        session,
        target,
        None if best else cron,
        timezone=zone,
        best_hours=int(best[1] or autopost.BEST_PER_DAY) if best else None,
        own_drafts=not access.everything,
        created_by=user.id if user else None,
        now=now_utc(),
    )
    (view,) = [r for r in await autopost.list_rules(session, now_utc()) if r.id == added.id]
    drafts = "its own drafts" if added.own_drafts else "drafts from the whole store"
    return f"✅ Rule {added.id} added, posting {drafts}:\n{_rule_line(view)}"


async def on_rule_to(
    query: CallbackQuery,
    callback_data: RuleTo,
    session: AsyncSession,
    access: Access,
    state: FSMContext,
    after_commit: AfterCommit,
) -> None:
    choice = await take_choice(session, access, state, callback_data.chat, AddingRule.chat, "rule")
    if choice is None:
        await query.answer("That rule is no longer waiting: send /autopost add again.")
        return
    target, waiting = choice
    text = await _add(session, access, query.from_user, target, waiting["cron"], waiting["zone"])
    if isinstance(query.message, Message):
        after_commit.append(partial(query.message.edit_text, text))
    after_commit.append(query.answer)


async def cmd_autopost_change(
    message: Message,
    rule: re.Match[str],
    session: AsyncSession,
    access: Access,
    after_commit: AfterCommit,
) -> None:
    verb, rule_id = rule[1], int(rule[2])
    await _change(session, access, verb, rule_id)
    done = _DONE[verb]
    after_commit.append(partial(message.answer, f"Rule {rule_id} {done}."))


async def _change(session: AsyncSession, access: Access, verb: str, rule_id: int) -> None:
    if verb == "remove":
        await autopost.remove_rule(session, rule_id, access.scope)
    else:
        await autopost.set_enabled(session, rule_id, verb == "resume", now_utc(), access.scope)


async def on_rule_action(
    query: CallbackQuery,
    callback_data: RuleAction,
    session: AsyncSession,
    access: Access,
    after_commit: AfterCommit,
) -> None:
    await _change(session, access, callback_data.action, callback_data.id)
    if isinstance(query.message, Message):
        if callback_data.notice:
            after_commit.append(partial(query.message.edit_reply_markup, reply_markup=None))
        else:
            text, markup = await _rules_page(session, access)
            after_commit.append(partial(query.message.edit_text, text, reply_markup=markup))
    done = _DONE[callback_data.action]
    after_commit.append(partial(query.answer, f"Rule {callback_data.id} {done}."))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.callback_query.filter(HasAccess())
    router.message.register(cmd_autopost, Command("autopost", magic=~F.args))
    add = F.args.regexp(r"^\s*add\s+(.+)$", flags=re.IGNORECASE).as_("rule")
    router.message.register(cmd_autopost_add, Command("autopost", magic=add))
    change = F.args.regexp(r"^\s*(pause|resume|remove)\s+#?(\d+)\s*$").as_("rule")
    router.message.register(cmd_autopost_change, Command("autopost", magic=change))
    router.message.register(usage_reply(USAGE), Command("autopost"))
    router.callback_query.register(on_rule_action, RuleAction.filter())
    router.callback_query.register(on_rule_to, RuleTo.filter())
    return router
