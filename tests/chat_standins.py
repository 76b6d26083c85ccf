"""Telegram Bot API and Slack Web API stand-ins that enforce the real limits and answers."""

from __future__ import annotations

import html
import json
import re
import threading
import time
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
    """`POST /bot<token>/sendMessage`; `script` holds 429s (retry_after seconds) to answer first."""

    token: str = "123:TEST"
    script: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # the visible texts accepted
    raw: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", 0))
        body = handler.rfile.read(length).decode()
        if "json" in handler.headers.get("Content-Type", ""):
            params = json.loads(body or "{}")
        else:
            params = {k: v[0] for k, v in parse_qs(body).items()}
        if not handler.path.startswith(f"/bot{self.token}/"):
            return reply_json(handler, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = handler.path.rsplit("/", 1)[1]
        if method == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "Feed", "username": "feed_bot"}
            return reply_json(handler, 200, {"ok": True, "result": result})
        if method != "sendMessage":
            return reply_json(handler, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        with self.lock:
            if self.script:
                wait = self.script.pop(0)
                return reply_json(handler, 429, {"ok": False, "error_code": 429, "parameters": {"retry_after": wait},
                                                 "description": f"Too Many Requests: retry after {wait}"})  # fmt: skip
            return self._send(handler, params)

    def _send(self, handler: BaseHTTPRequestHandler, params: dict[str, Any]) -> None:
        text = str(params.get("text", ""))
        try:
            visible = parse_telegram_html(text) if params.get("parse_mode") == "HTML" else text
        except ValueError as error:
            return self._bad(handler, f"Bad Request: can't parse entities: {error}")
        if not visible.strip():
            return self._bad(handler, "Bad Request: message text is empty")
        if len(visible.encode("utf-16-le")) // 2 > 4096:
            return self._bad(handler, "Bad Request: message is too long")
        self.messages.append(visible)
        self.raw.append(text)
        message = {"message_id": len(self.messages), "date": 1700000000, "text": visible,
                   "chat": {"id": int(params.get("chat_id", 0)), "type": "channel"}}  # fmt: skip
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
            handler.send_response(400 if problem else 200)
            handler.send_header("Content-Type", "text/plain")
            handler.end_headers()
            handler.wfile.write((problem or "ok").encode())
            if not problem:
                self.posts.append(payload)
            return None
        if handler.path.endswith("/auth.test"):
            return reply_json(handler, 200, {"ok": True, "user": "bot", "team": "T"})
        if handler.path.split("?")[0].endswith("/conversations.history"):  # newest first, metadata included
            messages = [{"ts": f"1700000000.{i:06d}", "text": post.get("text", ""), "metadata": _metadata(post)}
                        for i, post in enumerate(self.posts, start=1)][::-1]  # fmt: skip
            return reply_json(handler, 200, {"ok": True, "messages": messages})
        payload = json.loads(body) if body.startswith("{") else {k: v[0] for k, v in parse_qs(body).items()}
        problem = slack_problem(payload)
        if problem:
            return reply_json(handler, 200, {"ok": False, "error": problem})
        self.posts.append(payload)
        if not self.hold_posts or len(self.posts) in self.hold_posts:
            time.sleep(self.hold_seconds)
        return reply_json(handler, 200, {"ok": True, "channel": "C1", "ts": f"1700000000.{len(self.posts):06d}"})
