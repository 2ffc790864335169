"""The domain's exceptions: every error a user can cause derives from :class:`TgpipeError`.

The CLI turns one into a clean message and an exit code, the bot into a reply.
"""

from __future__ import annotations


class TgpipeError(Exception):
    """Base of every error tgpipe reports to a user."""

    exit_code = 1


class ConfigError(TgpipeError):
    """A setting is missing or invalid."""

    exit_code = 2


class UsageError(TgpipeError):
    """A command was given something it cannot take (a bad time, expression, option)."""

    exit_code = 2


class NotFoundError(TgpipeError):
    """The user named something (a post, a publication, a rule) that does not exist."""


class StoreError(TgpipeError):
    """The post store cannot be used as it is (unreachable, not migrated, ...)."""


class ParseError(TgpipeError):
    """An input file cannot be read; names the file, the place in it, and the reason."""

    def __init__(self, file: str, place: str | None, reason: str) -> None:
        self.file = file
        self.place = place
        self.reason = reason
        where = f"{file}: {place}" if place else file
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, str | None, str]]:
        # Crosses from the parser worker process to the importer.
        return (type(self), (self.file, self.place, self.reason))
