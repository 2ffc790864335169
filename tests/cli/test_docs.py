"""`--help` reads like a manual, and the README and `--help` describe the same commands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"
WIDTH = 80  # what help is wrapped to off a terminal


def _commands() -> Iterator[tuple[str, Any]]:
    """Every command and group as (path after `tgpipe`, click command)."""
    pending = [("", typer.main.get_command(app))]
    while pending:
        path, command = pending.pop(0)
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            pending.append((f"{path} {name}".strip(), sub))


COMMANDS = dict(_commands())
LEAVES = {path: command for path, command in COMMANDS.items() if not hasattr(command, "commands")}


def _options(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        for opt in (*param.opts, *getattr(param, "secondary_opts", ()))
        if opt.startswith("--") and opt != "--help"
    }


def _help(tgpipe, monkeypatch: pytest.MonkeyPatch, path: str) -> str:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    result = tgpipe(*path.split(), "--help")
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_reads_like_a_manual(tgpipe, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    text = _help(tgpipe, monkeypatch, path)
    assert text.startswith(f"Usage: tgpipe {path}".replace("  ", " "))
    # Metavars are words (PATH, CHAT, N), not typer's types or ranges.
    for machine in ("<bool>", "<str>", "<int", "<list", "<path", "x>=", "x<=", "{"):
        assert machine not in text, f"{path} --help shows {machine!r}"
    # Nothing boxed, nothing wider than the width, no summary cut short with "...".
    assert not {"│", "╭"} & set(text)
    assert all(len(line) <= WIDTH for line in text.splitlines()), path
    commands = text.partition("\nCommands:\n")[2]
    assert not [line for line in commands.splitlines() if line.endswith("...")], commands


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_and_argument_is_explained(path: str) -> None:
    command = COMMANDS[path]
    assert command.help, path
    assert command.help.strip().split("\n")[0].endswith("."), path
    for param in command.params:
        if param.name == "help":
            continue
        helped = (getattr(param, "help", None) or "").strip()
        assert helped.endswith("."), (path, param.name, helped)
        assert helped[0].isupper(), (path, param.name, helped)
        if not getattr(param, "is_flag", False):
            # A word, upper case (PATH, CHAT, N), or a literal value (best, PATH.png).
            assert re.fullmatch(r"[A-Z_]+|[a-z]+|[A-Z]+\.[a-z]+", param.metavar or ""), (
                path,
                param.name,
                param.metavar,
            )


def _readme_lines() -> dict[str, list[str]]:
    """The README's command summary (the code block of "Using it"): for each command, the
    lines that start with it (``a|b|c`` names several)."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Using it", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    found: dict[str, list[str]] = {}
    for line in block.strip().splitlines():
        words = line.split("#")[0].split()
        assert words[0] == "tgpipe", line
        path: list[str] = []
        named = [""]
        for word in words[1:]:
            choices = [" ".join([*path, name]) for name in word.split("|")]
            if not all(choice in COMMANDS for choice in choices):
                break
            named = choices
            path.append(word)
        for command in named:
            found.setdefault(command, []).append(line)
    return found


def test_the_readme_names_every_command_and_option() -> None:
    readme = _readme_lines()
    missing_commands = sorted(set(LEAVES) - set(readme))
    assert not missing_commands, f"commands missing from the README: {missing_commands}"
    missing = {
        path: sorted(opt for opt in _options(command) if not re.search(
            rf"{re.escape(opt)}\b", " ".join(readme[path])
        ))
        for path, command in LEAVES.items()
    }  # fmt: skip
    missing = {path: opts for path, opts in missing.items() if opts}
    assert not missing, f"options missing from the README's lines: {missing}"
    root = " ".join(readme.get("", []))
    assert all(opt in root for opt in _options(COMMANDS[""])), root


def test_every_command_and_option_in_the_readme_exists() -> None:
    for path, lines in _readme_lines().items():
        assert path in COMMANDS, path
        known = _options(COMMANDS[path]) | {"--help"}
        named = {opt for line in lines for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line)}
        assert named <= known, (path, sorted(named - known))


def test_the_readme_describes_every_import_format() -> None:
    from pipeline.ingest.model import FORMATS

    text = README.read_text(encoding="utf-8")
    section = text.split("### Importing", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(FORMATS)
    import_help = COMMANDS["import"].help
    for name in FORMATS:
        assert re.search(rf"^\s+{name}\s", import_help, re.MULTILINE), name


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_command_refuses_an_unknown_option_in_one_line(tgpipe, path: str) -> None:
    result = tgpipe(*path.split(), "--no-such-option")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"tgpipe: error: tgpipe {path}: ")
    assert "--no-such-option" in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("posts", "show", "abc"), 2, "'ID'"),
        (("posts", "list", "--status", "bogus"), 2, "'--status'"),
        (("posts", "list", "--limit", "0"), 2, "0 is not 1 or more"),
        (("import", "--format", "bogus", "x.json"), 2, "unknown format 'bogus'"),
        (("import",), 2, "Missing argument 'PATH"),
        (("queue", "--state", "bogus"), 2, "'--state'"),
        (("schedule", "1", "--at", "now"), 2, "Missing option '--to'"),
        (("schedule", "1", "--to", "@x", "--at", "tomorrowish"), 2, "not a time"),
        (("cancel", "abc"), 2, "'PUB_ID'"),
        (("resolve", "1"), 2, "exactly one of --sent or --resend"),
        (("autopost", "add", "--to", "@x"), 2, "--cron EXPR or --at best"),
        (("autopost", "add", "--to", "@x", "--at", "best", "--per-day", "13"), 2, "from 1 to 12"),
        (("stats", "--since", "xx"), 2, "not a time"),
        (("posts", "show", "999"), 1, "no post with id 999"),
        (("cancel", "999"), 1, "999"),
        (("import", "nope.json"), 1, "no such file or folder: nope.json"),
    ],
)
def test_mistakes_are_one_line_with_the_right_exit_code(
    tgpipe, args: tuple[str, ...], code: int, says: str
) -> None:
    result = tgpipe(*args)
    assert (result.exit_code, result.stdout) == (code, "")
    assert result.stderr.startswith("tgpipe: error: ")
    assert says in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
