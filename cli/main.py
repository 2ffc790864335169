"""The `tgpipe` command. Commands are thin: parse arguments, call the library, print."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli import autopost, db, dedup, imports, posts, publishing, stats, watch
from cli.common import PlainHelp, print_error, run, settings_of
from pipeline.errors import ConfigError, TgpipeError

app = typer.Typer(
    name="tgpipe",
    help="Telegram channel content pipeline: import exports, deduplicate, schedule, publish.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help, like git's and ripgrep's: no boxes, no <type> columns, the same in a pipe.
    rich_markup_mode=None,
    cls=PlainHelp,
)
app.add_typer(db.app, name="db")
app.add_typer(posts.app, name="posts")
app.add_typer(dedup.app, name="dedup")
app.command("import")(imports.cmd_import)
app.add_typer(publishing.channels_app, name="channels")
app.command("schedule")(publishing.cmd_schedule)
app.command("forward", context_settings=publishing.NEGATIVE_IDS)(publishing.cmd_forward)
app.command("queue")(publishing.cmd_queue)
app.command("cancel")(publishing.cmd_cancel)
app.command("reschedule")(publishing.cmd_reschedule)
app.command("resolve")(publishing.cmd_resolve)
app.add_typer(autopost.app, name="autopost")
app.command("dispatch")(publishing.cmd_dispatch)
app.command("post-next")(publishing.cmd_post_next)
app.command("stats")(stats.cmd_stats)
app.add_typer(watch.app, name="watch")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # only for --version: it costs 25 ms

        typer.echo(f"tgpipe {version('tgpipe')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """tgpipe: Telegram channel content pipeline and scheduling bot."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    # pydantic-settings is imported here, not with the module: `tgpipe --help` never gets here.
    from pydantic import ValidationError

    from config.settings import Settings, format_validation_error, unknown_variables

    try:
        ctx.obj = Settings()
    except ValidationError as exc:
        raise ConfigError(f"configuration error: {format_validation_error(exc)}") from None
    for name, closest in unknown_variables(os.environ, Path(".env")):
        hint = f" (did you mean {closest}?)" if closest else ""
        print_error(f"tgpipe: warning: {name} is not a tgpipe setting; it is ignored{hint}")


@app.command("run")
def cmd_run(
    ctx: typer.Context,
    webhook: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Take updates at this public https:// URL (setWebhook) instead of long "
            "polling; the server listens on TGPIPE_WEBHOOK_LISTEN and also answers /healthz "
            "and /metrics.",
        ),
    ] = None,
) -> None:
    """Run the bot, the delivery loop and the scheduler.

    Until SIGTERM or Ctrl-C: polls Telegram for updates (or takes them at --webhook),
    sends what is due and fires the autopost rules."""
    from bot.app import run_bot  # aiogram is only imported by the commands that talk to Telegram

    settings = settings_of(ctx)
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    run(run_bot(settings, webhook_url=webhook))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: domain errors become one line on stderr and an exit code."""
    try:
        code = app(args=argv, prog_name="tgpipe", standalone_mode=False)
    except typer.TyperException as exc:
        # typer's own argument errors, in the same one-line shape as tgpipe's (exit 2).
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stdout.write(exc.format_message() + "\n")  # a bare group shows its help
            sys.exit(0)
        context = getattr(exc, "ctx", None)
        command = context.command_path if context is not None else "tgpipe"
        print_error(f"tgpipe: error: {command}: {exc.format_message()}")
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except typer.Abort:
        print_error("tgpipe: interrupted")
        sys.exit(130)
    except TgpipeError as exc:
        print_error(f"tgpipe: error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print_error("tgpipe: interrupted")
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)
