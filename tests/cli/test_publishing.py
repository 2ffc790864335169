"""Publishing from the command line, end to end: real `tgpipe` processes, a real store, the
fake Bot API in a thread. Includes the crash tests: `tgpipe run` killed with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from pipeline.publish.targets import CheckedChat, record_target
from pipeline.store import migrate
from pipeline.store.db import create_engine, create_session_factory, unit_of_work
from pipeline.store.models import Channel, Publication
from pipeline.store.types import now_utc
from tests.conftest import (
    environment_without_settings,
    stderr_on_failure,
    stop_child,
    tgpipe_command,
)
from tests.db import PG_URL_ENV
from tests.fake_telegram.server import FakeTelegram
from tests.fake_telegram.updates import channel_post, private_message
from tests.publishing import add_post, plan, png

CHAT = -1001234567890
SOURCE = -1005555555555
ADMIN = 4242


def _message(mid: int, text: Any, date: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": mid,
        "type": "message",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(date)),
        "date_unixtime": str(date),
        "from": "Source",
        "from_id": "channel777",
        "text": text,
        "text_entities": [
            piece if isinstance(piece, dict) else {"type": "plain", "text": piece}
            for piece in (text if isinstance(text, list) else [text])
            if piece
        ],
        **extra,
    }


def write_export(folder: Path) -> Path:
    """A Desktop JSON export: a formatted post, an album of three photos (files included),
    and ten plain posts."""
    for i in range(3):
        png(folder / "photos" / f"photo_{i}.png", i + 2, 2)
    day = 1_735_700_000
    messages = [
        _message(1, ["Breaking: ", {"type": "bold", "text": "new model"}, " released"], day),
        *(
            _message(2 + i, "Our album" if i == 0 else "", day + 100, photo=f"photos/photo_{i}.png")
            for i in range(3)
        ),
        *(
            _message(
                10 + i, f"Plain post number {i} about something different {i * 7}", day + 200 + i
            )
            for i in range(10)
        ),
    ]
    path = folder / "result.json"
    path.write_text(
        json.dumps({"name": "Source", "type": "public_channel", "id": 777, "messages": messages}),
        encoding="utf-8",
    )
    return path


def run_in_process(
    args: tuple[str, ...], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`cli.main.main(args)` with ``env`` as the whole environment and ``cwd`` as the working
    directory, its output and exit code as a finished child's."""
    from cli.main import main

    saved, here = dict(os.environ), Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(tgpipe_command(*args), code, out.getvalue(), err.getvalue())


class Tgpipe:
    """Runs `tgpipe` in one working directory against one store and one fake."""

    def __init__(self, workdir: Path, database_url: str, fake: FakeTelegram, **env: str) -> None:
        self.workdir = workdir
        self.env = environment_without_settings()
        self.env.update(
            fake.env,
            TGPIPE_DATABASE_URL=database_url,
            TGPIPE_ADMIN_IDS=str(ADMIN),
            TGPIPE_TIMEZONE="Europe/Berlin",
            TGPIPE_CHAT_INTERVAL="0",
            **env,
        )

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`tgpipe ARGS` run to its end, in this process: the entry point as the executable
        calls it, in the child's environment and directory, without the second of start-up
        a new process costs (what runs beside others — `run` — is a real process: start)."""
        done = run_in_process(args, self.env, self.workdir)
        if check:
            assert done.returncode == 0, f"tgpipe {' '.join(args)}: {done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            tgpipe_command(*args),
            cwd=self.workdir,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """Every store here starts at the newest revision (a copy of the session's template):
    these tests are about publishing; creating and upgrading a store is tested in
    tests/cli/test_main.py and tests/migrations/."""
    return migrated_database_url


@pytest.fixture
def fake(fake_telegram_thread: FakeTelegram) -> FakeTelegram:
    fake_telegram_thread.add_chat(CHAT, type="channel", title="My Channel", username="mychannel")
    fake_telegram_thread.add_chat(SOURCE, type="channel", title="Source", username="sourcechan")
    fake_telegram_thread.add_user(ADMIN, first_name="Admin")
    return fake_telegram_thread


@pytest.fixture
def tgpipe(tmp_path: Path, database_url: str, fake: FakeTelegram) -> Tgpipe:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return Tgpipe(workdir, database_url, fake)


def add_mychannel(database_url: str) -> None:
    """@mychannel as a target, as `tgpipe channels add @mychannel` records it (tested above)."""

    async def setup() -> None:
        engine = create_engine(database_url)
        await migrate.upgrade(engine)
        try:
            async with unit_of_work(create_session_factory(engine)) as session:
                await record_target(
                    session,
                    CheckedChat(
                        chat_id=CHAT, type="channel", title="My Channel", username="mychannel"
                    ),
                )
        finally:
            await engine.dispose()

    asyncio.run(setup())


def test_an_admins_first_publishing_session(
    tgpipe: Tgpipe, fake: FakeTelegram, tmp_path: Path
) -> None:
    """The issue's done-criteria: import, add a channel, schedule a post, an album and a
    forward, add a daily rule, dispatch from cron: each delivered once."""
    tgpipe("import", str(write_export(tmp_path / "export")))
    posts = {p["title"]: p["id"] for p in tgpipe.json("posts", "list")}
    assert tgpipe("channels", "add", "@mychannel").stdout.startswith("publishing target added")
    (target,) = tgpipe.json("channels", "list")
    assert target["chat_id"] == CHAT
    # A message in another channel to forward.
    fake.push_update(channel_post(SOURCE, 70, "Worth forwarding", username="sourcechan"))
    tgpipe(
        "schedule", str(posts["Breaking: new model released"]), "--to", "@mychannel", "--at", "now"
    )
    tgpipe("schedule", str(posts["Our album"]), "--to", "https://t.me/mychannel", "--at", "now")
    tgpipe("forward", "@sourcechan", "70", "--to", str(CHAT), "--at", "now")
    rule = tgpipe(
        "autopost", "add", "--to", "@mychannel", "--cron", "0 9 * * *", "--tz", "Europe/Berlin"
    )
    assert "next: " in rule.stdout
    queue = tgpipe.json("queue")
    assert [(q["mode"], q["state"]) for q in queue] == [("send", "scheduled")] * 2 + [
        ("forward", "scheduled")
    ]
    assert all(q["due_at"].endswith("Z") for q in queue)

    dispatched = tgpipe("dispatch")
    assert "dispatch: 3 sent" in dispatched.stdout

    messages = fake.messages_in(CHAT)
    assert len(messages) == 5  # the post, three album photos, the forward
    formatted = messages[0]
    assert formatted["text"] == "Breaking: new model released"
    assert formatted["entities"] == [{"type": "bold", "offset": 10, "length": 9}]
    album = messages[1:4]
    assert len({m["media_group_id"] for m in album}) == 1
    assert album[0]["caption"] == "Our album"
    assert [m["photo"][-1]["width"] for m in album] == [2, 3, 4]
    assert messages[4]["forward_origin"]["chat"]["id"] == SOURCE

    sent = tgpipe.json("queue", "--all")
    assert [q["state"] for q in sent] == ["sent"] * 3
    assert [len(q["message_ids"]) for q in sent] == [1, 3, 1]
    # Run from cron again: nothing twice.
    assert "dispatch: 0 sent" in tgpipe("dispatch").stdout
    assert len(fake.messages_in(CHAT)) == 5
    # The same content again is refused unless forced.
    again = tgpipe(
        "schedule", str(posts["Our album"]), "--to", "@mychannel", "--at", "now", check=False
    )
    assert again.returncode == 1
    assert again.stderr.startswith("tgpipe: error: post ")
    assert "--force" in again.stderr
    (rules,) = tgpipe.json("autopost", "list")
    assert rules["cron"] == "0 9 * * *"
    assert rules["next_runs"][0].endswith("09:00 CET")


def test_post_next_publishes_the_oldest_draft_now(
    tgpipe: Tgpipe, fake: FakeTelegram, tmp_path: Path
) -> None:
    tgpipe("import", str(write_export(tmp_path / "export")))
    tgpipe("channels", "add", "@mychannel")
    first = tgpipe("post-next", "--to", "@mychannel")
    assert "1 sent" in first.stdout, first.stderr
    second = tgpipe("post-next", "--to", "@mychannel")
    assert "1 sent" in second.stdout
    messages = fake.messages_in(CHAT)
    # The oldest drafts first: the formatted post, then the album (three photos).
    assert messages[0]["text"] == "Breaking: new model released"
    assert [m.get("caption") for m in messages[1:]] == ["Our album", None, None]


def test_a_chat_the_bot_cannot_post_to_is_refused_before_anything_is_queued(
    tgpipe: Tgpipe, fake: FakeTelegram
) -> None:
    fake.add_chat(
        -1007777777777, type="channel", title="Not mine", username="notmine", bot_is_admin=False
    )
    refused = tgpipe("channels", "add", "@notmine", check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("tgpipe: error: cannot post to @notmine:")
    assert len(refused.stderr.strip().splitlines()) == 1
    unknown = tgpipe("schedule", "1", "--to", "@notmine", "--at", "now", check=False)
    assert unknown.returncode == 1
    assert "is not a publishing target" in unknown.stderr
    assert tgpipe.json("queue") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("schedule", "abc", "--to", "@x", "--at", "now"), "POST_ID"),
        (("schedule", "1", "--to", "@mychannel", "--at", "soonish"), "not a time"),
        (("schedule", "1", "--to", "@mychannel", "--at", "2020-01-01T09:00"), "in the past"),
        (("schedule", "1", "--to", "@mychannel"), "--at"),
        (("queue", "--state", "bogus"), "bogus"),
        (("cancel", "x"), "PUB_ID"),
        (("resolve", "1"), "exactly one of --sent or --resend"),
        (("autopost", "add", "--to", "@mychannel", "--cron", "61 * * * *"), "--cron"),
        (
            ("autopost", "add", "--to", "@mychannel", "--cron", "0 9 * * *", "--tz", "Mars/Base"),
            "Mars/Base",
        ),
        (
            ("autopost", "add", "--to", "@mychannel", "--cron", "0 9 * * *", "--policy", "best"),
            "best",
        ),
        (("forward", "@sourcechan", "--to", "@mychannel", "--at", "now"), "MESSAGE_ID"),
        (("autopost", "add", "--to", "@mychannel"), "give either --cron EXPR or --at best"),
        (("autopost", "add", "--to", "@mychannel", "--at", "noon"), "give --at best"),
        (("autopost", "add", "--to", "@mychannel", "--at", "best"), "too little history"),
        (("run", "--webhook", "ftp://example.org/hook"), "give the public https:// URL"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    tgpipe: Tgpipe, database_url: str, args: tuple[str, ...], message: str
) -> None:
    add_mychannel(database_url)
    done = tgpipe(*args, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tgpipe: error: ")
    assert message in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cancel", "99"), "no publication with id 99"),
        (("reschedule", "99", "--at", "+1h"), "no publication with id 99"),
        (("schedule", "99", "--to", "@mychannel", "--at", "now"), "no post with id 99"),
        (("autopost", "remove", "5"), "no autopost rule with id 5"),
    ],
)
def test_data_errors_exit_1(
    tgpipe: Tgpipe, database_url: str, args: tuple[str, ...], message: str
) -> None:
    add_mychannel(database_url)
    done = tgpipe(*args, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == f"tgpipe: error: {message}"


def test_cancel_and_reschedule(tgpipe: Tgpipe, fake: FakeTelegram, tmp_path: Path) -> None:
    tgpipe("import", str(write_export(tmp_path / "export")))
    tgpipe("channels", "add", "@mychannel")
    tgpipe("schedule", "1", "--to", "@mychannel", "--at", "+1h")
    tgpipe("schedule", "2", "--to", "@mychannel", "--at", "+2h")
    assert tgpipe("cancel", "1").stdout.strip() == "publication 1 cancelled"
    cancelled = tgpipe("cancel", "1", check=False)
    assert cancelled.returncode == 1
    assert "only scheduled publications can be cancelled" in cancelled.stderr
    tgpipe("reschedule", "2", "--at", "now")
    assert "1 sent" in tgpipe("dispatch").stdout
    states = {q["id"]: q["state"] for q in tgpipe.json("queue", "--all")}
    assert states == {1: "cancelled", 2: "sent"}
    # Off a terminal the queue is tab-separated and keeps every column at full width.
    lines = tgpipe("queue", "--all").stdout.splitlines()
    assert lines[0].split("\t") == [
        "id",
        "due",
        "chat",
        "state",
        "what",
        "tries",
        "messages",
        "error",
    ]
    assert len(lines) == 3


def _wait(condition: Any, timeout: float, what: str, context: Any = str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}\n{context()}")
        time.sleep(0.02)


def _states(database_url: str) -> Counter[str]:
    """How many publications are in each state, read from the store directly: cheap enough to
    poll while waiting (the tests then check what `tgpipe queue` says)."""

    async def read() -> Counter[str]:
        engine = create_engine(database_url)
        try:
            async with unit_of_work(create_session_factory(engine)) as session:
                return Counter(
                    str(state) for state in await session.scalars(select(Publication.state))
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture
def many_targets(tgpipe: Tgpipe, fake: FakeTelegram, database_url: str) -> list[int]:
    """Ten channels (targets), one post scheduled to each, due now; set up through the
    library (what is under test here is `tgpipe run`, not the setup commands)."""
    chats = [-1002000000000 - i for i in range(10)]
    for i, chat in enumerate(chats):
        fake.add_chat(chat, type="channel", title=f"T{i}", username=f"target{i}")

    async def setup() -> None:
        engine = create_engine(database_url)
        await migrate.upgrade(engine)
        factory = create_session_factory(engine)
        try:
            for i, chat in enumerate(chats):
                async with unit_of_work(factory) as session:
                    target = await record_target(
                        session, CheckedChat(chat_id=chat, type="channel", title=f"T{i}")
                    )
                post_id = await add_post(factory, f"Post number {i} for its own channel")
                await plan(factory, post_id, target)
        finally:
            await engine.dispose()

    asyncio.run(setup())
    return chats


def test_kill_9_mid_queue_costs_at_most_one_unknown_never_a_duplicate(
    tgpipe: Tgpipe, fake: FakeTelegram, many_targets: list[int], database_url: str
) -> None:
    # The first send is slow: Telegram takes it, but answers after the process is dead.
    fake.delay("sendMessage", 6.0, times=1)
    run = tgpipe.start("run", TGPIPE_LEASE_SECONDS="2")
    with stderr_on_failure(run):
        try:
            fake.wait_for_sync("sendMessage", count=10, timeout=30)
            # Nine recorded as sent in the store, the slow one still in flight: now it dies.
            _wait(lambda: _states(database_url)["sent"] == 9, 20, "9 sent")
            assert Counter(q["state"] for q in tgpipe.json("queue", "--all"))["sent"] == 9
            run.send_signal(signal.SIGKILL)
            run.wait(10)
        finally:
            if run.poll() is None:
                run.kill()
            stop_child(run)
    _wait(lambda: sum(len(fake.messages_in(c)) for c in many_targets) == 10, 10, "the slow one")
    # Restarted: the one in flight at the kill is unknown, told to the admins, never resent.
    again = tgpipe.start("run", TGPIPE_LEASE_SECONDS="2")
    with stderr_on_failure(again):
        _wait(
            lambda: any(
                "unknown" in str(c.params.get("text"))
                or "may or may not" in str(c.params.get("text"))
                for c in fake.calls_to("sendMessage")
                if c.params.get("chat_id") == ADMIN
            ),
            30,
            "the admins to be told",
        )
    stderr = stop_child(again)
    states = Counter(q["state"] for q in tgpipe.json("queue", "--all"))
    assert states == {"sent": 9, "unknown": 1}, stderr
    for chat in many_targets:
        assert len(fake.messages_in(chat)) == 1  # nothing doubled
    (unknown,) = tgpipe.json("queue", "--state", "unknown")
    shown = tgpipe("queue").stdout
    assert "unknown" in shown
    assert tgpipe("resolve", str(unknown["id"]), "--sent").returncode == 0
    assert Counter(q["state"] for q in tgpipe.json("queue", "--all")) == {"sent": 10}


def test_run_picks_up_what_another_process_schedules(
    tgpipe: Tgpipe, fake: FakeTelegram, tmp_path: Path
) -> None:
    tgpipe("import", str(write_export(tmp_path / "export")))
    tgpipe("channels", "add", "@mychannel")
    run = tgpipe.start("run")
    with stderr_on_failure(run):
        fake.wait_for_sync("getUpdates", timeout=30)
        tgpipe("schedule", "1", "--to", "@mychannel", "--at", "now")
        scheduled = time.monotonic()
        (call,) = fake.wait_for_sync("sendMessage", timeout=10)
        assert call.at - scheduled < 1.5  # polled at least twice a second
        tgpipe("schedule", "2", "--to", "@mychannel", "--at", "+3s")
        fake.wait_for_sync("sendMediaGroup", timeout=15)  # post 2 is the album
    stderr = stop_child(run)
    assert run.returncode == 0, stderr
    assert [q["state"] for q in tgpipe.json("queue", "--all")] == ["sent", "sent"], stderr


def test_run_with_a_webhook_serves_updates_health_and_metrics(
    tgpipe: Tgpipe, fake: FakeTelegram, tmp_path: Path
) -> None:
    tgpipe("import", str(write_export(tmp_path / "export")))
    tgpipe("channels", "add", "@mychannel")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    run = tgpipe.start("run", "--webhook", url, TGPIPE_WEBHOOK_LISTEN=f"127.0.0.1:{port}")
    with stderr_on_failure(run):
        (call,) = fake.wait_for_sync("setWebhook", timeout=30)
        assert call.params["url"] == url
        fake.push_update(private_message("/queue", user_id=ADMIN))
        (reply,) = fake.wait_for_sync("sendMessage", timeout=10)
        assert reply.params["chat_id"] == ADMIN
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as health:
            assert json.load(health) == {"status": "ok", "store": "ok"}
        tgpipe("schedule", "1", "--to", "@mychannel", "--at", "now")
        fake.wait_for_sync("sendMessage", count=2, timeout=10)
        # The send is recorded a moment after Telegram saw it: scrape until it shows.
        deadline = time.monotonic() + 10
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
                metrics = page.read().decode()
            if "tgpipe_sends_total 1" in metrics or time.monotonic() > deadline:
                break
        assert "tgpipe_sends_total 1" in metrics
        assert 'tgpipe_publications{state="sent"} 1' in metrics, metrics
    stderr = stop_child(run)
    assert run.returncode == 0, stderr
    assert not fake.calls_to("getUpdates")


def test_stopping_run_mid_send_records_the_send(
    tgpipe: Tgpipe, fake: FakeTelegram, tmp_path: Path
) -> None:
    # SIGTERM while Telegram has not yet answered: the send must still be recorded as sent
    # (aiogram closed the bot's HTTP session on stop, failing the request in flight).
    tgpipe("import", str(write_export(tmp_path / "export")))
    tgpipe("channels", "add", "@mychannel")
    fake.delay("sendMessage", 1.5)
    run = tgpipe.start("run")
    with stderr_on_failure(run):
        fake.wait_for_sync("getUpdates", timeout=30)
        tgpipe("schedule", "1", "--to", "@mychannel", "--at", "now")
        fake.wait_for_sync("sendMessage", timeout=10)
    stderr = stop_child(run)
    assert run.returncode == 0, stderr
    assert [q["state"] for q in tgpipe.json("queue", "--all")] == ["sent"], stderr
    assert len(fake.sent) == 1


def test_two_runs_and_a_dispatch_deliver_each_publication_once(
    tgpipe: Tgpipe, fake: FakeTelegram, many_targets: list[int], database_url: str
) -> None:
    runs = [tgpipe.start("run") for _ in range(2)]
    with stderr_on_failure(*runs):
        dispatch = tgpipe("dispatch", check=False)
        _wait(lambda: sum(len(fake.messages_in(c)) for c in many_targets) >= 10, 30, "all sent")
        # Every publication recorded as sent: none is left for a process to (re)send. Then both
        # are stopped, and a stopped `tgpipe run` has finished whatever it was sending, so any
        # duplicate has reached the fake before the messages are counted below.
        _wait(lambda: _states(database_url) == {"sent": 10}, 30, "all recorded as sent")
    for run in runs:
        stop_child(run)
    assert dispatch.returncode == 0, dispatch.stderr
    # One token, two pollers: Telegram answers the second with 409 (aiogram retries); only
    # one of them gets the updates, both deliver.
    assert {p.split(":")[0] for p in fake.problems} <= {"getUpdates"}
    fake.problems.clear()
    for chat in many_targets:
        assert len(fake.messages_in(chat)) == 1
    assert Counter(q["state"] for q in tgpipe.json("queue", "--all")) == {"sent": 10}


def _postgres_bindir() -> Path:
    """The folder of the newest installed PostgreSQL server's programs (initdb, pg_ctl)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        raise AssertionError("no PostgreSQL server programs (initdb, pg_ctl) on this machine")
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """A PostgreSQL server of its own: initdb in a temporary folder, a free port on 127.0.0.1.

    For the test that stops and starts its server: the suite's server at
    ``TGPIPE_TEST_DATABASE_URL`` keeps serving the other tests (and xdist workers) meanwhile.
    """

    def __init__(self) -> None:
        self.bindir = _postgres_bindir()
        self.directory = Path(tempfile.mkdtemp(prefix="tgpipe-test-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.port = _free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/tgpipe"
        # The server refuses to run as root: as root, its files and processes are postgres's.
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    def _pg(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as_owner, str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
            raise AssertionError(
                f"{program} {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
                f"\nserver log:\n{log[-4000:]}"
            )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self) -> None:
        # -m fast: as a crash or a failover would, connections are cut.
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    @contextmanager
    def running(self) -> Iterator[PrivatePostgres]:
        """Initialised, started, with an empty database ``tgpipe``; removed afterwards."""
        try:
            self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
            self.start()

            async def create() -> None:
                admin = await asyncpg.connect(
                    host="127.0.0.1", port=self.port, user="postgres", database="postgres"
                )
                try:
                    await admin.execute("CREATE DATABASE tgpipe")
                finally:
                    await admin.close()

            asyncio.run(create())
            yield self
        finally:
            if (self.data / "postmaster.pid").exists():
                self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            shutil.rmtree(self.directory, ignore_errors=True)


@pytest.mark.skipif(not os.environ.get(PG_URL_ENV), reason=f"PostgreSQL tests need {PG_URL_ENV}")
class TestPostgresqlRestart:
    @pytest.fixture
    def server(self) -> Iterator[PrivatePostgres]:
        with PrivatePostgres().running() as server:
            yield server

    @pytest.fixture
    def database_url(self, server: PrivatePostgres) -> str:
        """The store, migrated, on this test's own server (it is stopped and started)."""

        async def upgrade() -> None:
            engine = create_engine(server.url)
            try:
                await migrate.upgrade(engine)
            finally:
                await engine.dispose()

        asyncio.run(upgrade())
        return server.url

    def test_postgresql_restarted_under_a_running_run_loses_nothing(
        self,
        tgpipe: Tgpipe,
        fake: FakeTelegram,
        many_targets: list[int],
        database_url: str,
        server: PrivatePostgres,
    ) -> None:
        async def plan_more() -> None:  # due after the restart: claims must reconnect too
            engine = create_engine(database_url)
            factory = create_session_factory(engine)
            try:
                async with unit_of_work(factory) as session:
                    targets = (
                        await session.scalars(
                            select(Channel).where(Channel.chat_id.in_(many_targets[:5]))
                        )
                    ).all()
                for n, target in enumerate(targets):
                    post_id = await add_post(
                        factory, f"After the restart, post {n} for its channel"
                    )
                    await plan(factory, post_id, target, now_utc() + timedelta(seconds=6))
            finally:
                await engine.dispose()

        asyncio.run(plan_more())
        # One answer is slow: it comes while the server is down, and must still be recorded.
        fake.delay("sendMessage", 3.0, times=1)
        run = tgpipe.start("run")
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(run.stderr.readline, "")))  # type: ignore[union-attr]
        reader.start()
        stopped = False
        try:
            fake.wait_for_sync("sendMessage", timeout=30)
            server.stop()
            stopped = True
            _wait(lambda: any("store unavailable" in line for line in lines), 30, "a lost store")
            server.start()
            stopped = False
            _wait(
                lambda: sum(len(fake.messages_in(c)) for c in many_targets) == 15,
                60,
                "all 15",
                lambda: "".join(lines),
            )
            _wait(
                lambda: _states(database_url) == {"sent": 15},
                30,
                "all recorded as sent",
                lambda: "".join(lines) + tgpipe("queue", "--all").stdout,
            )
            assert Counter(q["state"] for q in tgpipe.json("queue", "--all")) == {"sent": 15}
            assert run.poll() is None, "tgpipe run died with the database"
        finally:
            if stopped:
                server.start()
            stop_child(run)
            reader.join(10)
        assert run.returncode == 0, "".join(lines[-30:])
        for chat in many_targets:  # nothing doubled: 10 chats, 5 of them twice
            texts = [m["text"] for m in fake.messages_in(chat)]
            assert len(texts) == len(set(texts))
