"""Telegram Bot API and Slack Web API stand-ins that enforce the real limits and answers."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.standins import reply_json

TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
                 "span", "blockquote"}  # fmt: skip
_MARKUP = re.compile(r"<(/?)([a-zA-Z][\w\-]*)([^<>]*)>|&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);|[<>&]")


def parse_telegram_html(text: str) -> str:
    """The visible text of Telegram HTML, or ValueError with Telegram's own wording."""
    stack: list[str] = []
    visible: list[str] = []
    pos = 0
    for match in _MARKUP.finditer(text):
        visible.append(text[pos : match.start()])
        pos = match.end()
        closing, tag, entity = match.group(1), match.group(2), match.group(4)
        if tag:
            tag = tag.lower()
            if tag not in TELEGRAM_TAGS:
                raise ValueError(f'Unsupported start tag "{tag}" at byte offset {match.start()}')
            if closing:
                if not stack or stack.pop() != tag:
                    raise ValueError(f"Unexpected end tag at byte offset {match.start()}")
            else:
                stack.append(tag)
        elif entity:
            visible.append(html.unescape(match.group(0)))
        else:
            raise ValueError(f"Unsupported start tag or unescaped character at byte offset {match.start()}")
    visible.append(text[pos:])
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(visible)


@dataclass
class TelegramStandIn:
    """The Bot API methods the bot uses: sendMessage (HTML parsed as Telegram does, 4096 units, 403 for a
    reader who blocked the bot, 429 from `script` or from the rate limits), getMe, getUpdates (long polling
    over `push_update`), answerCallbackQuery, editMessageReplyMarkup, setWebhook and deleteWebhook.

    With `rate_limits`, more than 30 messages a second overall or one a second to a private chat get a 429.
    """

    token: str = "123:TEST"
    script: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # the visible texts accepted
    raw: list[str] = field(default_factory=list)
    chats: dict[str, list[str]] = field(default_factory=dict)  # chat id → visible texts accepted
    markups: dict[tuple[str, int], Any] = field(default_factory=dict)  # (chat, message id) → inline keyboard
    blocked: set[str] = field(default_factory=set)  # chats whose reader blocked the bot
    missing: set[str] = field(default_factory=set)  # chat ids Telegram does not know (400 "chat not found")
    on_send: Callable[[str], None] | None = None  # told the chat of each sendMessage, before it is answered
    private_delay: float = 0.0  # seconds each message to a private chat takes (a slow answer)
    answered: list[str] = field(default_factory=list)  # callback query ids answered
    webhook: str = ""
    rejected: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # the Bot API methods called, in order
    encodings: list[str] = field(default_factory=list)  # per call, how its body came: "json" or "form"
    rate_limits: bool = False
    hold: float = 0.0  # seconds to hold each message to a group or channel before taking it (a slow server)
    drop_posts: set[int] = field(default_factory=set)  # sendMessage calls (1-based) taken, then answered by a
    # dropped connection: the message arrived, the bot cannot know
    _posts: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    updates: list[dict[str, Any]] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)
    _next_update: int = 1
    _sent_at: list[float] = field(default_factory=list)
    _chat_sent_at: dict[str, float] = field(default_factory=dict)

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (its update_id is set here); returns the id."""
        with self._arrived:
            update = {**update, "update_id": self._next_update}
            self._next_update += 1
            self.updates.append(update)
            self._arrived.notify_all()
            return int(update["update_id"])

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", 0))
        body = handler.rfile.read(length).decode()
        if "json" in handler.headers.get("Content-Type", ""):
            params = json.loads(body or "{}")
            self.encodings.append("json")
        else:
            params = {k: v[0] for k, v in parse_qs(body).items()}
            self.encodings.append("form")
        if not handler.path.startswith(f"/bot{self.token}/"):
            return reply_json(handler, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = handler.path.rsplit("/", 1)[1]
        self.calls.append(method)
        if method == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "Feed", "username": "feed_bot"}
            return reply_json(handler, 200, {"ok": True, "result": result})
        if method == "getUpdates":
            return reply_json(handler, 200, {"ok": True, "result": self._updates(params)})
        if method in ("setWebhook", "deleteWebhook"):
            self.webhook = str(params.get("url", "")) if method == "setWebhook" else ""
            return reply_json(handler, 200, {"ok": True, "result": True})
        if method == "answerCallbackQuery":
            self.answered.append(str(params.get("callback_query_id")))
            return reply_json(handler, 200, {"ok": True, "result": True})
        if method == "editMessageReplyMarkup":
            return self._edit(handler, params)
        if method != "sendMessage":
            return reply_json(handler, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if self.hold and str(params.get("chat_id")).startswith("-"):
            time.sleep(self.hold)
        if self.private_delay and not str(params.get("chat_id")).startswith("-"):
            time.sleep(self.private_delay)
        if self.on_send is not None:
            self.on_send(str(params.get("chat_id")))
        with self.lock:
            if self.script:
                return self._too_many(handler, self.script.pop(0))
            if str(params.get("chat_id")) in self.blocked:
                return reply_json(handler, 403, {"ok": False, "error_code": 403,
                                                 "description": "Forbidden: bot was blocked by the user"})  # fmt: skip
            if str(params.get("chat_id")) in self.missing:
                return self._bad(handler, "Bad Request: chat not found")
            if self.rate_limits and (wait := self._over_limit(str(params.get("chat_id")))):
                return self._too_many(handler, wait)
            self._posts += 1
            if self._posts in self.drop_posts:
                self._take(params)
                handler.close_connection = True  # no answer at all: the client sees the connection dropped
                return None
            return self._send(handler, params)

    def _updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Updates after `offset` (confirming the ones before it), waiting up to `timeout` seconds for one."""
        offset, timeout = int(params.get("offset") or 0), float(params.get("timeout") or 0)
        with self._arrived:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            self._arrived.wait_for(lambda: bool(self.updates), timeout=min(timeout, 2.0))
            return list(self.updates)

    def _over_limit(self, chat: str) -> int:
        now = time.monotonic()
        self._sent_at = [t for t in self._sent_at if now - t < 1.0]
        private = not chat.startswith("-")
        if len(self._sent_at) >= 30 or (private and now - self._chat_sent_at.get(chat, -9.0) < 1.0):
            return 1
        self._sent_at.append(now)
        self._chat_sent_at[chat] = now
        return 0

    def _too_many(self, handler: BaseHTTPRequestHandler, wait: int) -> None:
        return reply_json(handler, 429, {"ok": False, "error_code": 429, "parameters": {"retry_after": wait},
                                         "description": f"Too Many Requests: retry after {wait}"})  # fmt: skip

    def _send(self, handler: BaseHTTPRequestHandler, params: dict[str, Any]) -> None:
        problem, message = self._take(params)
        if problem:
            return self._bad(handler, problem)
        return reply_json(handler, 200, {"ok": True, "result": message})

    def _take(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Check a message as Telegram does and keep it: (the Bad Request description, or "", the message)."""
        text = str(params.get("text", ""))
        try:
            visible = parse_telegram_html(text) if params.get("parse_mode") == "HTML" else text
        except ValueError as error:
            return f"Bad Request: can't parse entities: {error}", {}
        if not visible.strip():
            return "Bad Request: message text is empty", {}
        if len(visible.encode("utf-16-le")) // 2 > 4096:
            return "Bad Request: message is too long", {}
        chat = str(params.get("chat_id", 0))
        self.messages.append(visible)
        self.raw.append(text)
        self.chats.setdefault(chat, []).append(visible)
        message_id = len(self.chats[chat])
        markup = params.get("reply_markup")
        if markup:
            self.markups[(chat, message_id)] = json.loads(markup) if isinstance(markup, str) else markup
        return "", {"message_id": message_id, "date": 1700000000, "text": visible,
                    "chat": {"id": int(chat), "type": "channel" if chat.startswith("-") else "private"}}  # fmt: skip

    def _edit(self, handler: BaseHTTPRequestHandler, params: dict[str, Any]) -> None:
        chat, message_id = str(params.get("chat_id")), int(params.get("message_id") or 0)
        if (chat, message_id) not in self.markups:
            return self._bad(handler, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        self.markups[(chat, message_id)] = json.loads(markup) if isinstance(markup, str) else markup
        message = {"message_id": message_id, "date": 1700000000, "text": self.chats[chat][message_id - 1],
                   "chat": {"id": int(chat), "type": "private"}}  # fmt: skip
        return reply_json(handler, 200, {"ok": True, "result": message})

    def _bad(self, handler: BaseHTTPRequestHandler, description: str) -> None:
        self.rejected.append(description)
        reply_json(handler, 400, {"ok": False, "error_code": 400, "description": description})


def slack_problem(payload: dict[str, Any]) -> str | None:
    """Slack's error code for a chat.postMessage payload that breaks its limits, or None."""
    blocks = payload.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not payload.get("text") and not blocks:
        return "no_text"
    if len(blocks) > 50:
        return "invalid_blocks"
    total = 0
    for block in blocks:
        text = block.get("text", {}).get("text", "")
        if (block["type"] == "header" and len(text) > 150) or (block["type"] == "section" and len(text) > 3000):
            return "invalid_blocks"
        total += len(text)
    return "msg_blocks_too_long" if total > 12000 else None


def _metadata(post: dict[str, Any]) -> Any:
    """A post's message metadata (a JSON string when the post was form-encoded)."""
    metadata = post.get("metadata")
    return json.loads(metadata) if isinstance(metadata, str) else metadata


@dataclass
class SlackStandIn:
    """`POST /api/chat.postMessage` with a Bearer token; `script` holds 429s (Retry-After seconds)."""

    token: str = "xoxb-test"
    script: list[int] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    hold_seconds: float = 0.0  # accept a post, then hold the answer this long (past a client's timeout)
    hold_posts: set[int] = field(default_factory=set)  # which posts (1-based) are held; empty: every post
    drop_posts: set[int] = field(default_factory=set)  # posts (1-based) taken, then answered by a dropped connection
    timeline: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (ts, message): the channel
    history_calls: int = 0

    def chatter(self, n: int) -> None:
        """`n` messages by people in the channel (no metadata), newer than every post so far."""
        for i in range(n):
            self._append({"text": f"chatter {i}"})

    def _append(self, message: dict[str, Any]) -> str:
        last = float(self.timeline[-1][0]) if self.timeline else 0.0
        ts = f"{max(time.time(), last + 0.000001):.6f}"
        self.timeline.append((ts, message))
        return ts

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0))).decode()
        webhook = handler.path.endswith("/webhook")
        if not webhook and handler.headers.get("Authorization") != f"Bearer {self.token}":
            return reply_json(handler, 200, {"ok": False, "error": "invalid_auth"})
        if self.script:
            wait = self.script.pop(0)
            return reply_json(handler, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)})
        if handler.path.endswith("/webhook"):
            payload = json.loads(body)
            problem = slack_problem(payload)
            if not problem and len(self.posts) + 1 in self.drop_posts:
                self.posts.append(payload)
                handler.close_connection = True  # taken, then no answer
                return None
            handler.send_response(400 if problem else 200)
            handler.send_header("Content-Type", "text/plain")
            handler.end_headers()
            handler.wfile.write((problem or "ok").encode())
            if not problem:
                self.posts.append(payload)
            return None
        if handler.path.endswith("/auth.test"):
            return reply_json(handler, 200, {"ok": True, "user": "bot", "team": "T"})
        if handler.path.split("?")[0].endswith("/conversations.history"):
            return self._history(handler, body)
        payload = json.loads(body) if body.startswith("{") else {k: v[0] for k, v in parse_qs(body).items()}
        problem = slack_problem(payload)
        if problem:
            return reply_json(handler, 200, {"ok": False, "error": problem})
        self.posts.append(payload)
        ts = self._append({"text": payload.get("text", ""), "metadata": _metadata(payload)})
        if len(self.posts) in self.drop_posts:
            handler.close_connection = True  # no answer at all: the post arrived, the client cannot know
            return None
        if not self.hold_posts or len(self.posts) in self.hold_posts:
            time.sleep(self.hold_seconds)
        return reply_json(handler, 200, {"ok": True, "channel": "C1", "ts": ts})

    def _history(self, handler: BaseHTTPRequestHandler, body: str) -> None:
        """Newest first, `limit` a page (at most 200 without metadata trouble), `cursor` and `oldest` as Slack
        reads them; `has_more` and `response_metadata.next_cursor` when more are left."""
        self.history_calls += 1
        params = {k: v[0] for k, v in parse_qs(body).items()}
        limit, start = min(int(params.get("limit", 100)), 999), int(params.get("cursor") or 0)
        oldest = float(params.get("oldest") or 0)
        newest_first = [{"ts": ts, **m} for ts, m in reversed(self.timeline) if float(ts) > oldest]
        page = newest_first[start : start + limit]
        more = start + limit < len(newest_first)
        return reply_json(
            handler,
            200,
            {
                "ok": True,
                "messages": page,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            },
        )
