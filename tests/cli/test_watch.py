"""`tgpipe watch ...` and watches inside `tgpipe run`: a fake t.me (tests/fake_web) to read,
the fake Bot API to publish to, a real store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.test_publishing import CHAT, Tgpipe
from tests.conftest import stderr_on_failure, stop_child
from tests.fake_telegram.server import FakeTelegram
from tests.fake_web import PreviewSite


@pytest.fixture
def fake(fake_telegram_thread: FakeTelegram) -> FakeTelegram:
    fake_telegram_thread.add_chat(CHAT, type="channel", title="My Channel", username="mychannel")
    return fake_telegram_thread


@pytest.fixture
def tgpipe(
    tmp_path: Path, migrated_database_url: str, fake: FakeTelegram, preview_site: PreviewSite
) -> Tgpipe:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return Tgpipe(
        workdir,
        migrated_database_url,
        fake,
        TGPIPE_PREVIEW_BASE=preview_site.base_url,
        TGPIPE_FETCH_INTERVAL="0",
    )


def test_a_watched_channels_new_post_is_queued_after_its_delay(
    tgpipe: Tgpipe, preview_site: PreviewSite
) -> None:
    preview_site.add_channel("dev_news", "Dev News", posts=30)
    tgpipe("channels", "add", "@mychannel")

    added = tgpipe("watch", "add", "t.me/dev_news", "--to", "@mychannel", "--delay", "2h")

    assert added.stdout == (
        "watch 1: @dev_news every 15m, new posts queued for @mychannel 2h after (policy all)\n"
    )
    (first,) = tgpipe.json("watch", "run-once")
    assert (first["outcome"], first["new"], first["queued"]) == ("first look", 20, [])
    assert tgpipe.json("queue") == []
    assert tgpipe("watch", "run-once").stdout == "no watch is due\n"

    post = preview_site.publish("dev_news", "Вышел новый релиз компилятора")
    looked = datetime.now().astimezone()
    (second,) = tgpipe.json("watch", "run-once", "1")

    assert (second["outcome"], second["new"], len(second["queued"])) == ("new posts", 1, 1)
    (queued,) = tgpipe.json("queue")
    assert queued["chat"] == "@mychannel"
    assert queued["title"] == post.text
    due = datetime.fromisoformat(queued["due_at"])
    assert abs(due - (looked + timedelta(hours=2))) < timedelta(minutes=1)
    (watch,) = tgpipe.json("watch", "list")
    assert watch["last_message_id"] == post.id
    assert (watch["failures"], watch["last_error"]) == (0, None)


def test_run_looks_at_watches_and_sends_what_they_queue(
    tgpipe: Tgpipe, preview_site: PreviewSite, fake: FakeTelegram
) -> None:
    preview_site.add_channel("dev_news", posts=5)
    tgpipe("channels", "add", "@mychannel")
    tgpipe("watch", "add", "@dev_news", "--every", "1h", "--to", "@mychannel")
    run = tgpipe.start("run")
    with stderr_on_failure(run):
        fake.wait_for_sync("getUpdates", timeout=30)
        preview_site.wait_for("/s/dev_news")
        post = preview_site.publish("dev_news", "Свежий пост: ядро 6.13 вышло")
        # Not due for an hour: `resume` makes the watch look at once, as after a pause.
        tgpipe("watch", "resume", "1")
        (call,) = fake.wait_for_sync("sendMessage", timeout=20)
        assert call.params["chat_id"] == CHAT
        assert call.params["text"] == post.text
    stderr = stop_child(run)
    assert run.returncode == 0, stderr
    assert [q["state"] for q in tgpipe.json("queue", "--all")] == ["sent"]


def test_list_pause_resume_remove(tgpipe: Tgpipe) -> None:
    tgpipe("watch", "add", "@dev_news", "--every", "1h30m")
    tgpipe("watch", "add", "https://t.me/s/ml_weekly")

    assert tgpipe("watch", "pause", "1").stdout == "watch 1 (@dev_news) paused\n"
    listed = tgpipe("watch", "list").stdout.splitlines()
    assert listed[0].split("\t") == [
        "id",
        "channel",
        "every",
        "to",
        "delay",
        "policy",
        "state",
        "next (UTC)",
        "last error",
    ]
    assert listed[1].split("\t")[:7] == ["1", "@dev_news", "1h30m", "—", "—", "—", "paused"]
    assert listed[2].split("\t")[:7] == ["2", "@ml_weekly", "15m", "—", "—", "—", "on"]
    assert tgpipe("watch", "resume", "1").stdout == "watch 1 (@dev_news) resumed: it looks now\n"
    assert tgpipe("watch", "remove", "2").stdout == "watch 2 (@ml_weekly) removed\n"
    assert [w["channel"] for w in tgpipe.json("watch", "list")] == ["@dev_news"]


def test_a_failing_look_exits_1_and_says_why(tgpipe: Tgpipe, preview_site: PreviewSite) -> None:
    tgpipe("watch", "add", "@gone_channel")

    done = tgpipe("watch", "run-once", check=False)

    assert done.returncode == 1
    assert done.stderr == (
        f"tgpipe: error: watch 1: {preview_site.base_url}/s/gone_channel: @gone_channel has no "
        "public web preview (a private channel, or none of that name)\n"
    )
    (watch,) = tgpipe.json("watch", "list")
    assert watch["failures"] == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("add", "@dev_news", "--every", "30s"), 2, "a watch checks at most once a minute"),
        (("add", "@dev_news", "--delay", "1h"), 2, "a delay and a policy are for queueing"),
        (("add", "@dev_news", "--policy", "originals"), 2, "a delay and a policy are for queueing"),
        (("add", "@dev_news", "--every", "soon"), 2, "--every: 'soon': not a length of time"),
        (("add", "https://example.com/blog"), 2, "not a channel (give @NAME or t.me/NAME)"),
        (("add", "@dev_news", "--to", "@nowhere"), 1, "@nowhere is not a publishing target"),
        (("pause", "7"), 1, "no watch with id 7"),
        (("remove", "7"), 1, "no watch with id 7"),
    ],
)
def test_mistakes(tgpipe: Tgpipe, args: tuple[str, ...], code: int, message: str) -> None:
    done = tgpipe("watch", *args, check=False)

    assert done.returncode == code
    assert done.stderr.startswith("tgpipe: error: ")
    assert message in done.stderr
    assert done.stderr.count("\n") == 1
