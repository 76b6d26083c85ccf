"""Telegram (python-telegram-bot): HTML messages of at most 4096 UTF-16 units after entity parsing."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx

from bot.channels.base import NO_HOOKS, Channel, Part, Reader, SendHooks
from bot.commentary import shorten
from bot.config import Config, TelegramConfig
from bot.digest import Digest, DigestItem
from bot.errors import DeliveryError
from bot.paper import clean_text
from bot.render import also_in, author_list, hashtags

_TAG = re.compile(r"<[^>]+>")


def visible_length(markup: str) -> int:
    """Length as Telegram counts it: tags removed, entities decoded, in UTF-16 code units."""
    return len(html.unescape(_TAG.sub("", markup)).encode("utf-16-le")) // 2


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def item_html(item: DigestItem, max_authors: int, language: str, commentary: str | None = None) -> str:
    """One item in the roundup's shape: link, bold title with authors, commentary, hashtags, curated mentions."""
    lines = [_escape(item.url), f"<b>{_escape(clean_text(item.title))}</b>"]
    if item.authors:
        lines[1] += f" ({_escape(author_list(item.authors, max_authors))})"
    text = item.commentary if commentary is None else commentary
    lines += [_escape(text)] if text else []
    lines += [hashtags(item.tags)] if item.tags else []
    lines += [f"<i>{_escape(mention)}</i>"] if (mention := also_in(item, language)) else []
    return "\n".join(lines)


def fit_item(item: DigestItem, max_authors: int, language: str, budget: int) -> str:
    """The item's HTML, its commentary shortened (never its markup broken) until it fits the budget."""
    markup = item_html(item, max_authors, language)
    commentary = item.commentary
    while visible_length(markup) > budget and commentary:
        commentary = shorten(commentary, len(commentary) - (visible_length(markup) - budget))
        markup = item_html(item, max_authors, language, commentary)
    if visible_length(markup) > budget:  # even without commentary (a hostile title): cut the title too
        markup = item_html(replace(item, title=item.title[: budget // 2] + "…"), max_authors, language, "")
    return markup


class Pacer:
    """Telegram's limits for one bot, shared by everything in the process that sends with its token (the weekly
    delivery and the readers' /last): `min_interval_seconds` between messages to the channel; to readers,
    `subscriber_rate` per second overall and `chat_interval_seconds` between two messages to one chat."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._by_chat: dict[str, float] = {}

    def reserve(self, chat: str, settings: TelegramConfig) -> float:
        """Seconds to wait before a message to `chat` (empty: the channel); the slot is taken at once, so two
        senders never get the same one."""
        with self._lock:
            now = time.monotonic()
            if not chat:
                wait = self._last + settings.min_interval_seconds - now
            else:
                overall = 1 / settings.subscriber_rate if settings.subscriber_rate else 0.0
                here = self._by_chat.get(chat, -float("inf")) + settings.chat_interval_seconds - now
                wait = max(self._last + overall - now, here)
            wait = max(wait, 0.0)
            self._mark(chat, now + wait)
            return wait

    def sent(self, chat: str) -> None:
        """A message to `chat` has just been answered: the intervals count from now."""
        with self._lock:
            self._mark(chat, time.monotonic())

    def _mark(self, chat: str, at: float) -> None:
        self._last = at
        if chat:
            self._by_chat[chat] = at


_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer(token: str) -> Pacer:
    """The one Pacer of a bot token in this process."""
    with _PACERS_LOCK:
        return _PACERS.setdefault(hashlib.sha256(token.encode()).hexdigest(), Pacer())


class TelegramChannel(Channel):
    """A Telegram chat or channel through the Bot API (or a self-hosted Bot API server via `base_url`)."""

    name = "telegram"
    max_length = 4096

    settings: TelegramConfig

    def __init__(self, settings: TelegramConfig) -> None:
        super().__init__(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bot: Any = None
        self.pacer = pacer(settings.token)
        self._before_request: Callable[[], None] | None = None  # the ledger's mark for the send in progress

    def parts(self, digest: Digest, language: str, config: Config) -> list[Part]:
        """Messages split only between items; the label heads the first."""
        return [Part(str(i), text) for i, text in enumerate(self.messages(digest, language, config), start=1)]

    @property
    def has_readers(self) -> bool:
        """Readers subscribe by messaging the bot, unless `subscriptions` is off."""
        return self.settings.subscriptions

    def reader_parts(self, digest: Digest, language: str, config: Config) -> Callable[[Reader], list[Part]]:
        """The same messages, addressed to a reader's private chat."""
        messages = self.messages(digest, language, config)
        return lambda reader: [Part(str(i), text, to=reader.address) for i, text in enumerate(messages, start=1)]

    def messages(self, digest: Digest, language: str, config: Config) -> list[str]:
        """The digest as HTML messages of at most 4096 visible UTF-16 units (pure)."""
        header = f"<b>{_escape(digest.week.label(language))}</b>"
        separator = "\n\n"
        messages: list[str] = []
        current = header
        for item in digest.items:
            budget = self.max_length - visible_length(header) - 2
            markup = fit_item(item, config.digest.max_authors, language, budget)
            if visible_length(current) + 2 + visible_length(markup) > self.max_length:
                messages.append(current)
                current = markup
            else:
                current += separator + markup
        messages.append(current)
        return messages

    def send(self, part: Part, hooks: SendHooks = NO_HOOKS) -> str:
        """Send one HTML message; wait out 429s (bounded) and keep the rate limits: `min_interval_seconds`
        between messages to the channel; to readers, `subscriber_rate` per second overall and
        `chat_interval_seconds` between two messages to one chat (Telegram's limits for bots)."""
        result: str = self._run(self._send(part.payload, part.to, hooks))
        return result

    def check(self) -> str:
        """getMe: the token is valid and the Bot API answers."""
        from telegram.error import TelegramError

        async def get_me() -> str:
            try:
                me = await self._client().get_me()
            except TelegramError as error:
                raise DeliveryError(f"getMe failed: {error.message}") from None
            return f"bot @{me.username}, chat {self.settings.chat_id}"

        verified: str = self._run(get_me())
        return verified

    def _run(self, coroutine: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coroutine)

    def _client(self) -> Any:
        from telegram import Bot
        from telegram.warnings import PTBUserWarning

        from bot.channels.telegram_request import JSONRequest

        if self._bot is None:
            # `do_api_request("sendMessage")` is deliberate (see `_send`): not a mistake to warn about.
            warnings.filterwarnings("ignore", "Please use 'Bot.sendMessage'", PTBUserWarning)
            timeout = self.settings.timeout_seconds
            # httpx calls the hook right before each request is written, after PTB has built and encoded it:
            # the part is marked pending there, so it is pending only while a request may be on its way.
            hook = {"event_hooks": {"request": [self._mark_pending]}}
            request = JSONRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                                  httpx_kwargs=hook)  # fmt: skip
            self._bot = Bot(self.settings.token, base_url=self.settings.base_url, request=request)
        return self._bot

    async def _mark_pending(self, request: httpx.Request) -> None:
        if self._before_request is not None and request.url.path.endswith("/sendMessage"):
            self._before_request()

    async def _send(self, text: str, chat: str, hooks: SendHooks) -> str:
        from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

        bot = self._client()
        for attempt in range(self.settings.max_retries + 1):
            wait = self.pacer.reserve(chat, self.settings)
            if wait > 0:
                await asyncio.sleep(wait)
            self._before_request = hooks.before_request
            try:
                # The answer as JSON, not a `Message`: building one from a digest's entities costs more than
                # sending it (about 0.6 ms per message, 10,000 readers a week).
                sent = await bot.do_api_request(
                    "sendMessage", api_kwargs=_send_message_kwargs(chat or self.settings.chat_id, text)
                )
                return str(sent["message_id"])
            except RetryAfter as error:
                delay = error.retry_after
                seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
                if seconds > self.settings.max_retry_after_seconds:
                    raise DeliveryError(f"rate limited for {seconds:g} s (over max_retry_after_seconds): "
                                        "deferred to the next run", deferred=True) from None  # fmt: skip
                if attempt == self.settings.max_retries:
                    raise DeliveryError(f"rate limited (retry after {seconds:g} s), gave up") from None
                hooks.refused(f"rate limited, retrying in {seconds:g} s")
                await asyncio.sleep(seconds)
            except TimedOut:
                # The message may have gone out: leave the ledger row pending for the ambiguity policy.
                raise DeliveryError("timed out waiting for Telegram", ambiguous=True) from None
            except Forbidden as error:  # blocked by a reader, or the bot was removed from the chat
                raise DeliveryError(f"Telegram refused the message: {error.message}", gone=bool(chat)) from None
            except (BadRequest, InvalidToken) as error:
                # "chat not found" names a reader's chat: theirs to fix, not a sign that Telegram is down
                about_chat = bool(chat) and isinstance(error, BadRequest) and _NAMES_A_CHAT.search(error.message)
                raise DeliveryError(f"Telegram refused the message: {error.message}", reader=bool(about_chat)) from None
            except NetworkError as error:
                # Only a connection that never opened is safe to retry; "Server disconnected" after the
                # request left may have delivered it: never guess.
                if not isinstance(error.__cause__, httpx.ConnectError):
                    raise DeliveryError(f"network error: {error.message}", ambiguous=True) from None
                if attempt == self.settings.max_retries:
                    raise DeliveryError(f"network error: {error.message}") from None
                hooks.refused(f"no connection ({error.message}), retrying")
                await asyncio.sleep(min(2.0**attempt, 30.0))
            finally:
                self._before_request = None
                self.pacer.sent(chat)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the HTTP client and the event loop."""
        if self._loop is not None:
            if self._bot is not None:
                self._loop.run_until_complete(self._bot.shutdown())
            self._loop.close()
            self._loop = None
            self._bot = None


_NAMES_A_CHAT = re.compile(r"chat not found|user not found|chat_id|peer_id_invalid|user is deactivated", re.I)


def _send_message_kwargs(chat: str, text: str) -> dict[str, object]:
    """sendMessage's parameters for one HTML message without link previews."""
    return {"chat_id": chat, "text": text, "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}
