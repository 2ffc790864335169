"""Small Telegram Desktop JSON exports written by tests."""

from __future__ import annotations

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
    taken_at: datetime | None = None,
) -> Path:
    """A `result.json` of one channel; ``taken_at`` sets the file's time (the export's time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    export = {
        "name": name,
        "type": "public_channel",
        "id": chat_id,
        "messages": [message.to_json() for message in messages],
    }
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    if taken_at is not None:
        stamp = taken_at.timestamp()
        os.utime(path, (stamp, stamp))
    return path
