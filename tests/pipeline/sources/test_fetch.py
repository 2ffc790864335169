"""The polite fetcher (``pipeline/sources/fetch.py``): retries, 429 holds, redirects, the size
cap, conditional requests and charsets, against the fake t.me on 127.0.0.1 or an
``httpx.MockTransport``; no test waits on real time (see ``conftest.py``)."""

from __future__ import annotations

import asyncio
import gzip
import pickle
import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from email.utils import format_datetime
from importlib.metadata import PackageNotFoundError, version

import httpx
import pytest

from pipeline.sources.fetch import FetchError, HostPacer, Page, Validators, user_agent
from pipeline.store.types import now_utc
from tests.fake_web import PreviewSite
from tests.pipeline.sources.conftest import FakeClock, Rig

MB = 1024 * 1024


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def statuses(site: PreviewSite, path: str) -> list[int]:
    return [request.status for request in site.requests_to(path)]


class Recorder:
    """A MockTransport handler answering ``answer`` to every request, which it records."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def html_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, html="<p>ok</p>")


# -- a plain fetch ----------------------------------------------------------------------------


async def test_a_page_is_fetched_with_what_the_server_said(
    rig: Rig, preview_site: PreviewSite
) -> None:
    preview_site.page("/blog/post", "<html><body>Привет</body></html>")
    url = f"{preview_site.base_url}/blog/post"

    page = await rig.fetcher().get(url)

    assert (page.url, page.status, page.content_type) == (url, 200, "text/html")
    assert page.text == "<html><body>Привет</body></html>"
    assert page.is_html
    assert page.validators.etag is not None  # the fake sends an ETag with every 200
    assert not page.not_modified
    assert (rig.turns.slept, rig.backoff.slept) == ([], [])


@pytest.mark.parametrize(
    ("content_type", "is_html"),
    [
        ("text/html", True),
        ("application/xhtml+xml", True),
        ("text/plain", False),
        ("application/pdf", False),
        ("", False),
    ],
)
def test_is_html(content_type: str, is_html: bool) -> None:
    page = Page("https://example.com/", 200, "", content_type, Validators())
    assert page.is_html is is_html


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/file", "file:///etc/passwd", "https:///no-host", "example.com/page"],
)
async def test_only_http_addresses_are_fetched(rig: Rig, url: str) -> None:
    recorder = Recorder(html_answer)

    with pytest.raises(FetchError) as caught:
        await rig.fetcher(transport=recorder.transport).get(url)

    assert str(caught.value) == f"{url}: not an http(s) address"
    assert recorder.requests == []


def test_a_fetch_error_names_the_url_and_crosses_processes() -> None:
    error = FetchError("https://t.me/s/news", "no such page (404 Not Found)")

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is FetchError
    assert (copy.file, copy.place, copy.reason) == (error.file, None, error.reason)
    assert str(copy) == str(error) == "https://t.me/s/news: no such page (404 Not Found)"


# -- the User-Agent -------------------------------------------------------------------------


async def test_the_user_agent_names_tgpipe_and_its_version(
    rig: Rig, preview_site: PreviewSite
) -> None:
    preview_site.page("/p", "<p>x</p>")

    await rig.fetcher().get(f"{preview_site.base_url}/p")

    (request,) = preview_site.requests_to("/p")
    sent = request.headers["User-Agent"]
    assert sent == user_agent()
    assert sent.startswith(f"tgpipe/{version('tgpipe')} (")
    assert f"python-httpx/{httpx.__version__}" in sent


def test_the_user_agent_of_a_source_tree_never_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr("importlib.metadata.version", missing)

    assert user_agent().startswith("tgpipe/0+unknown (")


# -- 429: the host is held back as long as asked ----------------------------------------------


def _in(seconds: float) -> str:
    return format_datetime(now_utc() + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        (lambda: "7", 7.0, 7.0),
        (lambda: "0.5", 0.5, 0.5),
        (lambda: " 12 ", 12.0, 12.0),
        (lambda: _in(120), 118.0, 120.0),  # an HTTP date, to the second
        (lambda: None, 5.0, 5.0),  # none given: a few seconds
        (lambda: "soon", 5.0, 5.0),  # unreadable: the same
    ],
    ids=["seconds", "fraction", "spaces", "http-date", "absent", "unreadable"],
)
async def test_a_429_is_waited_out_then_the_page_fetched(
    rig: Rig,
    preview_site: PreviewSite,
    retry_after: Callable[[], str | None],
    low: float,
    high: float,
) -> None:
    preview_site.page("/p", "<p>here</p>")
    value = retry_after()
    preview_site.fail("/p", 429, headers={} if value is None else {"Retry-After": value})

    page = await rig.fetcher().get(f"{preview_site.base_url}/p")

    assert page.text == "<p>here</p>"
    assert statuses(preview_site, "/p") == [429, 200]
    # The wait is the pacer's (the whole host is held), not a retry's backoff.
    (waited,) = rig.turns.slept
    assert low <= waited <= high
    assert rig.backoff.slept == []


async def test_a_429_with_a_date_already_past_is_asked_again_at_once(
    rig: Rig, preview_site: PreviewSite
) -> None:
    preview_site.page("/p", "<p>here</p>")
    preview_site.fail("/p", 429, headers={"Retry-After": _in(-60)})

    page = await rig.fetcher().get(f"{preview_site.base_url}/p")

    assert page.status == 200
    assert statuses(preview_site, "/p") == [429, 200]
    assert rig.turns.slept == rig.backoff.slept == []


@pytest.mark.parametrize(("retry_after", "shown"), [("3600", "3600"), ("600.6", "601")])
async def test_a_429_asking_longer_than_retry_after_max_fails(
    rig: Rig, preview_site: PreviewSite, retry_after: str, shown: str
) -> None:
    preview_site.page("/p", "<p>here</p>")
    preview_site.fail("/p", 429, times=5, headers={"Retry-After": retry_after})
    url = f"{preview_site.base_url}/p"

    with pytest.raises(FetchError) as caught:
        await rig.fetcher(retry_after_max=600).get(url)

    assert caught.value.file == url
    assert str(caught.value) == (
        f"{url}: the server asks to wait {shown} s before asking again (429)"
    )
    assert statuses(preview_site, "/p") == [429]  # not waited, not asked again
    assert rig.turns.slept == rig.backoff.slept == []


@pytest.mark.parametrize(
    ("refusals", "limited_max", "fails"),
    [(2, 2, False), (3, 2, True), (1, 0, True), (10, 10, False)],
)
async def test_more_429s_in_a_row_than_limited_max_fail(
    rig: Rig, preview_site: PreviewSite, refusals: int, limited_max: int, fails: bool
) -> None:
    preview_site.page("/p", "<p>here</p>")
    preview_site.fail("/p", 429, times=refusals, headers={"Retry-After": "1"})
    fetcher = rig.fetcher(limited_max=limited_max)
    url = f"{preview_site.base_url}/p"

    if fails:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(url)
        assert str(caught.value) == (
            f"{url}: the server answered 429 Too Many Requests {limited_max + 1} times in a row"
        )
        assert statuses(preview_site, "/p") == [429] * (limited_max + 1)
        assert rig.turns.slept == [1.0] * limited_max  # each wait it asked for, no more
    else:
        page = await fetcher.get(url)
        assert page.status == 200
        assert statuses(preview_site, "/p") == [429] * refusals + [200]
        assert rig.turns.slept == [1.0] * refusals
    assert rig.backoff.slept == []  # a 429 is no failure: it costs no retry


# -- temporary failures: retried with exponential backoff and jitter ---------------------------


def _fail(kind: str) -> Callable[[PreviewSite, str, int], None]:
    def arrange(site: PreviewSite, path: str, times: int) -> None:
        if kind == "truncate":
            site.truncate(path, times=times)
        else:
            site.fail(path, int(kind), times=times)

    return arrange


@pytest.mark.parametrize("kind", ["500", "502", "503", "504", "truncate"])
async def test_a_temporary_failure_is_retried_until_the_page_comes(
    rig: Rig, preview_site: PreviewSite, kind: str
) -> None:
    body = "<html><body>" + "слово " * 2000 + "</body></html>"  # enough to cut in half
    preview_site.page("/p", body)
    _fail(kind)(preview_site, "/p", 2)

    page = await rig.fetcher().get(f"{preview_site.base_url}/p")

    assert page.text == body  # the whole page, not the half of a cut-short answer
    assert len(preview_site.requests_to("/p")) == 3
    assert rig.backoff.slept == [1.0, 2.0]  # base 1 s, doubled; jitter 0.5 scales by 1


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("500", "the server answered 500 Internal Server Error"),
        ("503", "the server answered 503 Service Unavailable"),
        ("truncate", "the answer was cut short ("),
    ],
)
async def test_a_failure_that_persists_ends_in_one_sentence(
    rig: Rig, preview_site: PreviewSite, kind: str, reason: str
) -> None:
    preview_site.page("/p", "<p>" + "x" * 5000 + "</p>")
    _fail(kind)(preview_site, "/p", 100)
    url = f"{preview_site.base_url}/p"

    with pytest.raises(FetchError) as caught:
        await rig.fetcher(retries=2).get(url)

    message = str(caught.value)
    assert message.startswith(f"{url}: {reason}")
    assert message.endswith(" (3 tries)")
    assert len(preview_site.requests_to("/p")) == 3
    assert rig.backoff.slept == [1.0, 2.0]


async def test_a_host_that_refuses_connections_is_retried_then_named(rig: Rig) -> None:
    url = f"http://127.0.0.1:{closed_port()}/s/news"

    with pytest.raises(FetchError) as caught:
        await rig.fetcher(retries=3).get(url)

    assert caught.value.file == url
    assert caught.value.reason.startswith("cannot connect: ")
    assert caught.value.reason.endswith(" (4 tries)")
    assert rig.backoff.slept == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("base", "cap", "jitters", "delays"),
    [
        (1.0, 60.0, [0.5] * 4, [1.0, 2.0, 4.0, 8.0]),
        (1.0, 3.0, [0.5] * 4, [1.0, 2.0, 3.0, 3.0]),  # capped at backoff_max
        (2.0, 60.0, [0.0, 0.99, 0.25], [1.0, 5.96, 6.0]),  # base * 2^n * (0.5 + jitter)
        (0.5, 1.0, [0.0, 0.0, 0.0, 0.0, 0.0], [0.25, 0.5, 1.0, 1.0, 1.0]),
        (1.0, 3.0, [0.99] * 3, [1.49, 2.98, 3.0]),  # jitter never passes the cap
    ],
)
async def test_backoff_doubles_up_to_the_cap_scaled_by_jitter(
    rig: Rig, base: float, cap: float, jitters: list[float], delays: list[float]
) -> None:
    recorder = Recorder(lambda request: httpx.Response(502))
    rig.jitter = iter(jitters).__next__
    fetcher = rig.fetcher(
        transport=recorder.transport, retries=len(delays), backoff_base=base, backoff_max=cap
    )

    with pytest.raises(FetchError) as caught:
        await fetcher.get("https://t.me/s/news")

    assert str(caught.value) == (
        f"https://t.me/s/news: the server answered 502 Bad Gateway ({len(delays) + 1} tries)"
    )
    assert rig.backoff.slept == pytest.approx(delays)
    assert len(recorder.requests) == len(delays) + 1


# -- refusals: not retried --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (404, "no such page (404 Not Found)"),
        (403, "the server refuses to show it (403 Forbidden)"),
        (401, "the server refuses to show it (401 Unauthorized)"),
        (410, "the server answered 410 Gone"),
        (400, "the server answered 400 Bad Request"),
    ],
)
async def test_a_client_error_fails_at_once(
    rig: Rig, preview_site: PreviewSite, status: int, reason: str
) -> None:
    preview_site.fail("/p", status, times=5)
    url = f"{preview_site.base_url}/p"

    with pytest.raises(FetchError) as caught:
        await rig.fetcher().get(url)

    assert str(caught.value) == f"{url}: {reason}"
    assert statuses(preview_site, "/p") == [status]
    assert rig.backoff.slept == []


async def test_a_missing_page_of_the_fake_is_a_404(rig: Rig, preview_site: PreviewSite) -> None:
    url = f"{preview_site.base_url}/no/such/page"

    with pytest.raises(FetchError, match=r"no such page \(404 Not Found\)$"):
        await rig.fetcher().get(url)

    assert statuses(preview_site, "/no/such/page") == [404]


# -- time-outs ------------------------------------------------------------------------------


@pytest.mark.parametrize(("slow_answers", "fails"), [(1, False), (2, True)])
async def test_an_answer_slower_than_the_timeout_is_retried(
    rig: Rig, preview_site: PreviewSite, slow_answers: int, fails: bool
) -> None:
    preview_site.page("/p", "<p>here</p>")
    preview_site.slow("/p", 0.4, times=slow_answers)
    fetcher = rig.fetcher(timeout=0.15, retries=1)
    url = f"{preview_site.base_url}/p"

    if fails:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(url)
        assert str(caught.value) == f"{url}: no answer in time (2 tries)"
    else:
        assert (await fetcher.get(url)).text == "<p>here</p>"
    assert len(preview_site.requests_to("/p")) == 2
    assert rig.backoff.slept == [1.0]


async def test_a_server_sending_a_trickle_is_cut_off(rig: Rig) -> None:
    """Each chunk comes in time, but the whole answer does not: bounded at twice the
    timeout, whatever the per-read time-out says."""

    async def trickle() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.05)
            yield b"<p>"

    recorder = Recorder(lambda request: httpx.Response(200, content=trickle()))
    fetcher = rig.fetcher(transport=recorder.transport, timeout=0.1, retries=1)

    with pytest.raises(FetchError) as caught:
        await fetcher.get("https://t.me/s/news")

    assert str(caught.value) == "https://t.me/s/news: no complete answer in time (2 tries)"
    assert len(recorder.requests) == 2


# -- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_followed_and_the_page_says_where_it_was_found(
    rig: Rig, preview_site: PreviewSite, status: int
) -> None:
    preview_site.page("/new", "<p>moved here</p>")
    preview_site.redirect("/old", "/new", status=status)

    page = await rig.fetcher().get(f"{preview_site.base_url}/old")

    assert (page.url, page.text) == (f"{preview_site.base_url}/new", "<p>moved here</p>")
    assert statuses(preview_site, "/old") == [status]


@pytest.mark.parametrize(("hops", "fails"), [(1, False), (3, False), (4, True), (20, True)])
async def test_more_redirects_than_max_redirects_fail(
    rig: Rig, preview_site: PreviewSite, hops: int, fails: bool
) -> None:
    preview_site.page("/end", "<p>end</p>")
    for hop in range(hops):
        preview_site.redirect(f"/hop{hop}", f"/hop{hop + 1}" if hop + 1 < hops else "/end")
    url = f"{preview_site.base_url}/hop0"
    fetcher = rig.fetcher(max_redirects=3)

    if fails:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(url)
        assert str(caught.value) == f"{url}: more than 3 redirects"
        assert preview_site.requests_to("/end") == []
        assert rig.backoff.slept == []  # not retried
    else:
        page = await fetcher.get(url)
        assert page.url == f"{preview_site.base_url}/end"


# -- the size cap ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "error"),
    [
        (MB, None),  # exactly the cap
        (MB + MB // 2, "the page is larger than 1.0 MB (1.5 MB)"),  # by its Content-Length
    ],
)
async def test_a_page_declared_larger_than_the_cap_is_refused(
    rig: Rig, preview_site: PreviewSite, size: int, error: str | None
) -> None:
    preview_site.page("/big", "x" * size)
    url = f"{preview_site.base_url}/big"
    fetcher = rig.fetcher(max_bytes=MB)

    if error is None:
        assert len((await fetcher.get(url)).text) == size
    else:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(url)
        assert str(caught.value) == f"{url}: {error}"
        assert len(preview_site.requests_to("/big")) == 1  # not retried


class Endless:
    """A body of 64 KiB chunks without end, counting what was taken of it."""

    def __init__(self) -> None:
        self.chunks = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.chunks += 1
            yield b"x" * 65536


async def test_a_streamed_body_beyond_the_cap_is_cut_off(rig: Rig) -> None:
    body = Endless()
    recorder = Recorder(lambda request: httpx.Response(200, content=body))  # no Content-Length
    fetcher = rig.fetcher(transport=recorder.transport, max_bytes=MB)

    with pytest.raises(FetchError) as caught:
        await fetcher.get("https://t.me/s/news")

    assert str(caught.value) == "https://t.me/s/news: the page is larger than 1.0 MB"
    assert body.chunks <= MB // 65536 + 2  # it stopped reading at the cap
    assert len(recorder.requests) == 1


async def test_the_cap_counts_the_body_after_decompression(rig: Rig) -> None:
    packed = gzip.compress(b"<p>" + b" " * (4 * MB) + b"</p>")
    assert len(packed) < MB
    recorder = Recorder(
        lambda request: httpx.Response(
            200, content=packed, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
        )
    )
    fetcher = rig.fetcher(transport=recorder.transport, max_bytes=MB)

    with pytest.raises(FetchError, match=r"the page is larger than 1\.0 MB$"):
        await fetcher.get("https://t.me/s/news")


async def test_a_compressed_page_within_the_cap_is_read(rig: Rig) -> None:
    packed = gzip.compress("<p>Привет</p>".encode())
    recorder = Recorder(
        lambda request: httpx.Response(
            200, content=packed, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
        )
    )

    page = await rig.fetcher(transport=recorder.transport).get("https://t.me/s/news")

    assert page.text == "<p>Привет</p>"
    assert "gzip" in recorder.requests[0].headers["Accept-Encoding"]


# -- conditional requests ---------------------------------------------------------------------


async def test_validators_make_the_request_conditional(rig: Rig, preview_site: PreviewSite) -> None:
    preview_site.add_channel("news", posts=3)
    url = f"{preview_site.base_url}/s/news"
    fetcher = rig.fetcher()
    first = await fetcher.get(url)
    assert first.validators.etag

    unchanged = await fetcher.get(url, first.validators)
    preview_site.publish("news")
    changed = await fetcher.get(url, first.validators)

    first_request, second_request, third_request = preview_site.preview_requests("news")
    assert "If-None-Match" not in first_request.headers
    assert second_request.headers["If-None-Match"] == first.validators.etag
    assert (unchanged.status, unchanged.not_modified, unchanged.text) == (304, True, "")
    assert unchanged.url == url
    assert unchanged.validators.etag == first.validators.etag
    assert third_request.headers["If-None-Match"] == first.validators.etag
    assert (changed.status, changed.not_modified) == (200, False)
    assert changed.validators.etag not in (None, first.validators.etag)
    assert "Выпуск №4" in changed.text


LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.mark.parametrize(
    ("validators", "sent"),
    [
        (None, {}),
        (Validators(), {}),
        (Validators(etag='"abc"'), {"If-None-Match": '"abc"'}),
        (Validators(last_modified=LAST_MODIFIED), {"If-Modified-Since": LAST_MODIFIED}),
        (
            Validators('W/"abc"', LAST_MODIFIED),
            {"If-None-Match": 'W/"abc"', "If-Modified-Since": LAST_MODIFIED},
        ),
    ],
)
async def test_the_conditional_headers_sent(
    rig: Rig, validators: Validators | None, sent: dict[str, str]
) -> None:
    recorder = Recorder(lambda request: httpx.Response(304))

    page = await rig.fetcher(transport=recorder.transport).get("https://t.me/s/news", validators)

    (request,) = recorder.requests
    conditional = {
        name: request.headers[name]
        for name in ("If-None-Match", "If-Modified-Since")
        if name in request.headers
    }
    assert conditional == sent
    assert page.not_modified


async def test_the_validators_of_an_answer_are_kept(rig: Rig) -> None:
    recorder = Recorder(
        lambda request: httpx.Response(
            200, html="<p>x</p>", headers={"ETag": '"v1"', "Last-Modified": LAST_MODIFIED}
        )
    )

    page = await rig.fetcher(transport=recorder.transport).get("https://t.me/s/news")

    assert page.validators == Validators('"v1"', LAST_MODIFIED)


@pytest.mark.parametrize(
    ("validators", "truthy"),
    [
        (Validators(), False),
        (Validators(etag='"a"'), True),
        (Validators(last_modified=LAST_MODIFIED), True),
        (Validators(etag=""), False),
    ],
)
def test_validators_are_true_when_they_say_something(validators: Validators, truthy: bool) -> None:
    assert bool(validators) is truthy


# -- charsets ---------------------------------------------------------------------------------

RUSSIAN = "Привет, мир"


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/html; charset=utf-8", RUSSIAN.encode(), RUSSIAN),
        ("text/html; charset=windows-1251", RUSSIAN.encode("cp1251"), RUSSIAN),
        ('text/html; charset="koi8-r"', RUSSIAN.encode("koi8_r"), RUSSIAN),
        ("TEXT/HTML; CHARSET=WINDOWS-1251", RUSSIAN.encode("cp1251"), RUSSIAN),
        ("text/html", RUSSIAN.encode(), RUSSIAN),  # none said: UTF-8, as Telegram serves
        ("", RUSSIAN.encode(), RUSSIAN),
        (
            "text/html",
            b'<meta charset="windows-1251"><p>' + RUSSIAN.encode("cp1251"),
            f'<meta charset="windows-1251"><p>{RUSSIAN}',
        ),
        (
            "text/html",
            b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>'
            + RUSSIAN.encode("koi8_r"),
            f'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>{RUSSIAN}',
        ),
        (  # the server's header wins over the page's <meta>
            "text/html; charset=utf-8",
            b"<meta charset='windows-1251'><p>" + RUSSIAN.encode(),
            f"<meta charset='windows-1251'><p>{RUSSIAN}",
        ),
        ("text/html; charset=utf-8", b"ok \xff\xfe end", "ok \ufffd\ufffd end"),
        ("text/html; charset=no-such-charset", RUSSIAN.encode(), RUSSIAN),
        ("text/html", b"<meta charset=nonsense>\xd0\x9f\xff", "<meta charset=nonsense>П\ufffd"),
    ],
)
async def test_the_text_is_decoded_by_the_charset_the_page_names(
    rig: Rig, content_type: str, body: bytes, text: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    recorder = Recorder(lambda request: httpx.Response(200, content=body, headers=headers))

    page = await rig.fetcher(transport=recorder.transport).get("https://t.me/s/news")

    assert page.text == text
    assert page.content_type == content_type.partition(";")[0].lower()


# -- turns per host -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "slept"),
    [
        (["wait a", "wait a"], [2.0]),
        (["wait a", "wait b"], []),  # two hosts do not wait for each other
        (["wait a", "wait a", "wait a"], [2.0, 2.0]),
        (["wait a", "wait b", "wait a", "wait b"], [2.0]),  # b's turn came while a waited
        (["wait a", "tick 0.5", "wait a"], [1.5]),
        (["wait a", "tick 2", "wait a"], []),
        (["hold a 30", "wait a"], [30.0]),
        (["wait a", "hold a 30", "wait a", "wait a"], [30.0, 2.0]),
        (["wait a", "hold a 1", "wait a"], [2.0]),  # a hold never shortens a turn
        (["hold a 30", "hold a 5", "wait a"], [30.0]),  # nor a longer hold
        (["hold b 30", "wait a", "wait a"], [2.0]),  # nor holds another host
    ],
)
async def test_host_pacer_turns(steps: list[str], slept: list[float]) -> None:
    clock = FakeClock()
    pacer = HostPacer(2.0, clock=clock, sleep=clock.sleep)

    for step in steps:
        match step.split():
            case ["wait", host]:
                await pacer.wait(host)
            case ["hold", host, seconds]:
                await pacer.hold(host, float(seconds))
            case ["tick", seconds]:
                clock.now += float(seconds)

    assert clock.slept == slept


async def test_concurrent_requests_to_one_host_take_turns() -> None:
    clock = FakeClock(start=0.0)
    pacer = HostPacer(2.0, clock=clock, sleep=clock.sleep)
    turns: list[tuple[str, float]] = []

    async def visit(host: str) -> None:
        await pacer.wait(host)
        turns.append((host, clock()))

    await asyncio.gather(visit("a"), visit("a"), visit("b"), visit("a"))

    # One after another, an interval apart; b's turn came without waiting.
    assert [at for host, at in turns if host == "a"] == [0.0, 2.0, 4.0]
    assert [host for host, _ in turns].count("b") == 1
    assert clock.slept == [2.0, 2.0]


async def test_a_hold_that_comes_while_a_request_waits_its_turn_is_kept() -> None:
    """Another watch's request got a 429 while this one waited: it waits the hold out."""
    clock = FakeClock(start=0.0)
    pacer = HostPacer(2.0, clock=clock, sleep=clock.sleep)
    await pacer.wait("t.me")
    waiting = asyncio.create_task(pacer.wait("t.me"))
    await asyncio.sleep(0)  # it is asleep until its turn, at 2.0
    assert clock.slept == [2.0]

    await pacer.hold("t.me", 30)  # at 2.0: none before 32.0
    await waiting

    assert clock() == 32.0
    assert clock.slept == [2.0, 30.0]


async def test_the_fetcher_paces_each_host_and_holds_only_the_one_that_asked(rig: Rig) -> None:
    answers = {"a.example": [httpx.Response(429, headers={"Retry-After": "30"})]}

    def answer(request: httpx.Request) -> httpx.Response:
        waiting = answers.get(request.url.host, [])
        return waiting.pop(0) if waiting else httpx.Response(200, html="<p>ok</p>")

    recorder = Recorder(answer)
    fetcher = rig.fetcher(transport=recorder.transport, host_interval=10.0)

    await fetcher.get("https://a.example/1")  # a 429, then 30 s later the page
    await fetcher.get("https://b.example/1")  # another host: at once
    await fetcher.get("https://a.example/2")  # a's next turn: 10 s after its last

    assert [str(request.url) for request in recorder.requests] == [
        "https://a.example/1",
        "https://a.example/1",
        "https://b.example/1",
        "https://a.example/2",
    ]
    assert rig.turns.slept == [30.0, 10.0]
    assert rig.backoff.slept == []
