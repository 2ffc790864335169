"""Limits and timing the dispatcher keeps (built from the settings, see config/example.env)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Limits:
    """Telegram's broadcasting limits, kept before Telegram enforces them."""

    per_second: int = 30  # messages per second, all chats together
    per_chat_per_minute: int = 20  # messages per minute to one group or channel
    chat_interval: float = 1.0  # seconds between two messages to one chat

    @property
    def spacing(self) -> timedelta:
        return timedelta(seconds=self.chat_interval)


@dataclass(frozen=True, slots=True)
class Policy:
    """How the dispatcher treats time and failures (settings, see config/example.env)."""

    limits: Limits = field(default_factory=Limits)
    lease: timedelta = timedelta(seconds=60)
    grace: timedelta = timedelta(hours=1)  # older due publications become 'missed'
    max_attempts: int = 5
    backoff_base: float = 2.0  # seconds; doubles per attempt, with jitter
    backoff_max: float = 300.0
