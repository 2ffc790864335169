"""Small Telegram Desktop exports (JSON, and HTML for the same messages) written by tests."""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Message:
    id: int
    text: str = ""
    date: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    reactions: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. photo, edited

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "date": self.date.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(int(self.date.timestamp())),
            "text": self.text,
            "text_entities": [{"type": "plain", "text": self.text}] if self.text else [],
        }
        if self.reactions:
            data["reactions"] = [
                {"type": "emoji", "count": count, "emoji": emoji}
                for emoji, count in self.reactions.items()
            ]
        return data | self.extra


def write_export(
    path: Path,
    messages: list[Message],
    *,
    chat_id: int = 1001,
    name: str = "Test Channel",
    chat_type: str = "public_channel",
    taken_at: datetime | None = None,
) -> Path:
    """A `result.json` of one chat (a channel unless ``chat_type`` says otherwise);
    ``taken_at`` sets the file's time (the export's time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    export = {
        "name": name,
        "type": chat_type,
        "id": chat_id,
        "messages": [message.to_json() for message in messages],
    }
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    if taken_at is not None:
        stamp = taken_at.timestamp()
        os.utime(path, (stamp, stamp))
    return path


def desktop_html_page(history: str, title: str = "Chat") -> str:
    """A page as Telegram Desktop lays it out, around the given history markup."""
    return f"""<!DOCTYPE html>
<html>
 <head>
  <meta charset="utf-8"/>
<title>Exported Data</title>
 </head>
 <body onload="CheckLocation();">
  <div class="page_wrap">
   <div class="page_header">
    <div class="content">
     <div class="text bold">
{title}
     </div>
    </div>
   </div>
   <div class="page_body chat_page">
    <div class="history">
{history}
    </div>
   </div>
  </div>
 </body>
</html>
"""


def write_html_export(
    path: Path,
    messages: list[Message],
    *,
    name: str = "Test Channel",
    taken_at: datetime | None = None,
) -> Path:
    """The same chat as :func:`write_export` writes, as a Desktop HTML ``messages.html``.

    Takes the messages' text, date, reactions, ``extra["photo"]`` and the sender's name
    (``extra["from"]``, else the chat's); other extras are JSON only.
    """
    blocks = [_html_message(message, message.extra.get("from", name)) for message in messages]
    page = desktop_html_page("".join(blocks), html.escape(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    if taken_at is not None:
        stamp = taken_at.timestamp()
        os.utime(path, (stamp, stamp))
    return path


def _html_message(message: Message, sender: str) -> str:
    title = message.date.astimezone(UTC).strftime("%d.%m.%Y %H:%M:%S UTC+00:00")
    parts = [
        f'<div class="pull_right date details" title="{title}">\n12:00\n</div>',
        f'<div class="from_name">\n{html.escape(sender)} \n</div>',
    ]
    photo = message.extra.get("photo")
    if photo:
        parts.append(
            f'<div class="media_wrap clearfix"><a class="photo_wrap clearfix pull_left" '
            f'href="{html.escape(photo)}"><img class="photo" src="{html.escape(photo)}"/></a></div>'
        )
    if message.text:
        text = html.escape(message.text).replace("\n", "<br>")
        parts.append(f'<div class="text">\n{text}\n</div>')
    if message.reactions:
        reactions = "".join(
            f'<span class="reaction"><span class="emoji">{emoji}</span>'
            f'<span class="count">{count}</span></span>'
            for emoji, count in message.reactions.items()
        )
        parts.append(f'<span class="reactions">{reactions}</span>')
    body = "\n".join(parts)
    return (
        f'<div class="message default clearfix" id="message{message.id}">\n'
        f'<div class="body">\n{body}\n</div>\n</div>\n'
    )
