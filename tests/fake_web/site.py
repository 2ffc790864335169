"""A fake t.me over real HTTP on 127.0.0.1: channels' web previews and plain pages.

It serves in a thread of its own (a ``ThreadingHTTPServer``), so in-process tests and
``tgpipe`` subprocesses reach it alike. Preview pages are built with the markup of real
``t.me/s/<name>`` pages (the saved pages in ``tests/pipeline/ingest/fixtures/web_html``):
the channel header, ``tgme_widget_message`` blocks with ``data-post`` and ``data-view``,
views, reactions, dates, and the ``?before=`` link to older posts, twenty posts a page.

Faults are asked for per path, a number of times: an answer with any status (429 with
``Retry-After``, 500), a slow answer, a body cut short, a redirect; a channel can go
private or change its markup. Every request is recorded, with whether it came through as a
proxy request (an absolute URL in the request line).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 20
_START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class SitePost:
    id: int
    text: str
    date: datetime
    views: int | None = None
    reactions: dict[str, int] = field(default_factory=dict)
    service: bool = False  # "Channel photo updated" and the like
    forwarded_from: str | None = None  # the name of the chat it was forwarded from


@dataclass
class Channel:
    username: str
    title: str
    telegram_id: int  # as a Desktop export writes it (without -100)
    posts: list[SitePost] = field(default_factory=list)
    subscribers: int = 12_800
    description: str = "Новости разработки и немного ИИ."
    private: bool = False  # the preview sends visitors to t.me/NAME, as Telegram does
    markup: str = "current"  # "no-ids": blocks without data-post; "renamed": other classes


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    proxied: bool
    status: int = 0


@dataclass
class _Rule:
    path: str
    kind: str  # "status", "slow", "truncate", "redirect"
    times: int
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    to: str = ""
    body: str = ""

    def matches(self, path: str, query: str) -> bool:
        target = f"{path}?{query}" if "?" in self.path else path
        if self.path.endswith("*"):
            return target.startswith(self.path[:-1])
        return target == self.path


class PreviewSite:
    """``with PreviewSite() as site:`` serves until the block ends; see the module's doc."""

    def __init__(self, page_size: int = PAGE_SIZE, etags: bool = True) -> None:
        self.page_size = page_size
        self.etags = etags
        self.channels: dict[str, Channel] = {}
        self.pages: dict[str, tuple[bytes, str]] = {}
        self.requests: list[Request] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._asked = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> PreviewSite:
        site = self

        class Handler(_Handler):
            pass

        Handler.site = site
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # Polled often so that shutdown() returns at once (the default 0.5 s is paid by
        # every test that starts a site).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-web",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    # -- content ------------------------------------------------------------------------

    def add_channel(
        self,
        username: str,
        title: str | None = None,
        *,
        posts: int = 0,
        telegram_id: int = 1_888_234_567,
        first_id: int = 1,
        every: timedelta = timedelta(hours=5),
        start: datetime = _START,
    ) -> Channel:
        """A public channel with ``posts`` posts numbered from ``first_id``, one every
        ``every`` from ``start``; each has a distinct text, views and reactions."""
        channel = Channel(username, title or username.replace("_", " ").title(), telegram_id)
        for number in range(posts):
            message_id = first_id + number
            channel.posts.append(
                SitePost(
                    id=message_id,
                    text=post_text(message_id),
                    date=start + number * every,
                    views=1000 + 37 * message_id,
                    reactions={"👍": 3 + message_id % 40, "🔥": message_id % 7},
                )
            )
        with self._lock:
            self.channels[username.lower()] = channel
        return channel

    def publish(self, username: str, text: str | None = None, **fields: Any) -> SitePost:
        """A new post, the channel's newest, an hour after the last."""
        with self._lock:
            channel = self.channels[username.lower()]
            last = channel.posts[-1] if channel.posts else None
            message_id = (last.id if last else 0) + 1
            date = (last.date if last else _START) + timedelta(hours=1)
            post = SitePost(message_id, text or post_text(message_id), date, views=5, **fields)
            channel.posts.append(post)
            return post

    def page(self, path: str, body: str, content_type: str = "text/html; charset=utf-8") -> None:
        with self._lock:
            self.pages[path] = (body.encode("utf-8"), content_type)

    # -- faults -------------------------------------------------------------------------

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: str = "",
    ) -> None:
        """Answer ``status`` to the next ``times`` requests of ``path`` (a trailing ``*``
        matches a prefix; a ``?`` in it matches the query too)."""
        self._add(_Rule(path, "status", times, status=status, headers=headers or {}, body=body))

    def slow(self, path: str, seconds: float, *, times: int = 1) -> None:
        self._add(_Rule(path, "slow", times, seconds=seconds))

    def truncate(self, path: str, *, times: int = 1) -> None:
        """Send half the body of the next answers, then close the connection."""
        self._add(_Rule(path, "truncate", times))

    def redirect(self, path: str, to: str, *, status: int = 302, times: int = 10**9) -> None:
        self._add(_Rule(path, "redirect", times, status=status, to=to))

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def _rule(self, path: str, query: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.times > 0 and rule.matches(path, query):
                    rule.times -= 1
                    return rule
        return None

    # -- inspection ---------------------------------------------------------------------

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def preview_requests(self, username: str) -> list[Request]:
        return self.requests_to(f"/s/{username}")

    def wait_for(self, path: str, count: int = 1, timeout: float = 15.0) -> list[Request]:
        """The requests of ``path`` once there are ``count`` (from another thread or
        process); TimeoutError naming what came instead."""
        deadline = time.monotonic() + timeout
        with self._asked:
            while True:
                found = [request for request in self.requests if request.path == path]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    asked = ", ".join(request.path for request in self.requests) or "nothing"
                    raise TimeoutError(f"waited {timeout} s for {count} of {path}; asked: {asked}")
                self._asked.wait(left)

    # -- rendering ----------------------------------------------------------------------

    def render(
        self, path: str, query: dict[str, str], raw_query: str = ""
    ) -> tuple[int, bytes, str, dict[str, str]]:
        """Status, body, content type and extra headers for a GET of ``path`` (a page added
        for ``path?query`` stands in for that one query)."""
        with self._lock:
            for key in (f"{path}?{raw_query}", path):
                if key in self.pages:
                    body, content_type = self.pages[key]
                    return 200, body, content_type, {}
            segments = [segment for segment in path.split("/") if segment]
            if len(segments) == 2 and segments[0] == "s":
                channel = self.channels.get(segments[1].lower())
                if channel is None or channel.private:
                    return 302, b"", "text/html", {"Location": f"/{segments[1]}"}
                before = query.get("before")
                return 200, _preview(channel, before, self.page_size), _HTML, {}
            if len(segments) == 1:
                return 200, _contact_page(segments[0]), _HTML, {}
        return 404, b"<html><body>Not found</body></html>", _HTML, {}


_HTML = "text/html; charset=utf-8"
_FORWARDED = (
    '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;<span '
    'class="tgme_widget_message_forwarded_from_name">{}</span></div>'
)
_REACTIONS = '<div class="tgme_widget_message_reactions js-message_reactions">{}</div>'
_COUNTER = (
    '<div class="tgme_channel_info_counters"><div class="tgme_channel_info_counter"><span '
    'class="counter_value">{}</span> <span class="counter_type">subscribers</span></div></div>'
)


def post_text(message_id: int) -> str:
    """A distinct text per post (never a near duplicate of another)."""
    words = ["релиз", "бенчмарк", "компилятор", "ядро", "драйвер", "модель", "датасет", "патч"]
    picked = [words[(message_id * k) % len(words)] for k in (1, 3, 5)]
    return f"Выпуск №{message_id}: {' '.join(picked)} — заметка {message_id * 7919 % 100003}."


def _view(channel: Channel, post: SitePost) -> str:
    data = {"c": f"-100{channel.telegram_id}", "p": post.id, "t": int(post.date.timestamp())}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _message(channel: Channel, post: SitePost) -> str:
    name = channel.username
    title = html.escape(channel.title)
    link = f"https://t.me/{name}/{post.id}"
    when = post.date.isoformat()
    wrapper = "tgme_post" if channel.markup == "renamed" else "tgme_widget_message"
    data_post = "" if channel.markup == "no-ids" else f' data-post="{name}/{post.id}"'
    service = " service_message" if post.service else ""
    reactions = "".join(
        f'<span class="tgme_reaction"><i class="emoji"><b>{emoji}</b></i>{count}</span>'
        for emoji, count in post.reactions.items()
        if count
    )
    views = (
        f'<span class="tgme_widget_message_views">{post.views}</span>'
        '<span class="copyonly"> views</span>'
        if post.views is not None
        else ""
    )
    return (
        f'<div class="{wrapper}_wrap js-widget_message_wrap"><div class="{wrapper} '
        f'text_not_supported_wrap js-widget_message{service}"{data_post} '
        f'data-view="{_view(channel, post)}">\n'
        f'  <div class="tgme_widget_message_bubble">\n'
        f'    <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_'
        f'owner_name" href="https://t.me/{name}"><span dir="auto">{title}</span></a></div>\n'
        + (_FORWARDED.format(html.escape(post.forwarded_from)) if post.forwarded_from else "")
        + '    <div class="tgme_widget_message_text js-message_text" dir="auto">'
        f"{html.escape(post.text)}</div>"
        + (_REACTIONS.format(reactions) if reactions else "")
        + '\n    <div class="tgme_widget_message_footer compact js-message_footer">\n'
        f'      <div class="tgme_widget_message_info short js-message_info">\n'
        f'        {views}<span class="tgme_widget_message_meta"><a class="tgme_widget_message_'
        f'date" href="{link}"><time datetime="{when}" class="time">{post.date:%H:%M}</time>'
        "</a></span>\n      </div>\n    </div>\n  </div>\n</div></div>\n"
    )


def _preview(channel: Channel, before: str | None, page_size: int) -> bytes:
    posts = sorted(channel.posts, key=lambda post: post.id)
    if before is not None and before.isdigit():
        posts = [post for post in posts if post.id < int(before)]
    shown = posts[-page_size:]
    name = channel.username
    title = html.escape(channel.title)
    more = ""
    if shown and len(posts) > len(shown):
        oldest = shown[0].id
        more = (
            '<div class="tgme_widget_message_centered js-messages_more_wrap">'
            f'<a href="/s/{name}?before={oldest}" class="tme_messages_more js-messages_more" '
            f'data-before="{oldest}"></a></div>\n'
        )
    after = ""
    if before is not None and shown:
        newest = shown[-1].id
        after = (
            '<div class="tgme_widget_message_centered js-messages_more_wrap">'
            f'<a href="/s/{name}?after={newest}" class="tme_messages_more js-messages_more" '
            f'data-after="{newest}"></a></div>\n'
        )
    messages = "".join(_message(channel, post) for post in shown)
    page = f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{title} – Telegram</title>
    <meta property="og:title" content="{title}">
    <meta property="og:site_name" content="Telegram">
    <link rel="canonical" href="https://t.me/s/{name}"/>
  </head>
  <body class="widget_frame_base tgme_webpreview_body emoji_image no_transitions">
    <main class="tgme_main">
      <div class="tgme_container">
    <section class="tgme_right_column">
      <div class="tgme_channel_info">
        <div class="tgme_channel_info_header">
          <div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div>
          <div class="tgme_channel_info_header_username"><a href="https://t.me/{name}">@{name}</a></div>
        </div>
        <div class="tgme_channel_info_description">{html.escape(channel.description)}</div>
        {_COUNTER.format(channel.subscribers)}
      </div>
    </section>
        <section class="tgme_channel_history js-message_history">
    {more}{messages}{after}
        </section>
      </div>
    </main>
  </body>
</html>
"""
    return page.encode("utf-8")


def _contact_page(name: str) -> bytes:
    safe = html.escape(name)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Telegram: Contact '
        f'@{safe}</title></head><body class="tgme_body"><div class="tgme_page">'
        f'<div class="tgme_page_title"><span dir="auto">@{safe}</span></div>'
        '<div class="tgme_page_description">If you have <strong>Telegram</strong>, you can '
        f'contact <a class="tgme_username_link" href="tg://resolve?domain={safe}">@{safe}'
        "</a> right away.</div></div></body></html>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    site: PreviewSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        proxied = self.path.startswith(("http://", "https://"))
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        request = Request(
            "GET", parts.path, query, dict(self.headers.items()), time.monotonic(), proxied
        )
        with self.site._lock:
            self.site.requests.append(request)
            self.site._asked.notify_all()
        rule = self.site._rule(parts.path, parts.query)
        if rule is not None and rule.kind == "slow":
            time.sleep(rule.seconds)
            rule = None
        if rule is not None and rule.kind == "status":
            self._send(request, rule.status, rule.body.encode(), _HTML, rule.headers)
            return
        if rule is not None and rule.kind == "redirect":
            self._send(request, rule.status, b"", _HTML, {"Location": rule.to})
            return
        status, body, content_type, headers = self.site.render(parts.path, query, parts.query)
        if rule is not None and rule.kind == "truncate":
            request.status = status
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if status == 200 and self.site.etags:
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            headers = {**headers, "ETag": etag}
            if self.headers.get("If-None-Match") == etag:
                self._send(request, 304, b"", content_type, headers)
                return
        self._send(request, status, body, content_type, headers)

    def _send(
        self,
        request: Request,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
    ) -> None:
        request.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)
