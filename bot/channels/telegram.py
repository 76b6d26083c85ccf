"""Telegram (python-telegram-bot): HTML messages of at most 4096 UTF-16 units after entity parsing."""

from __future__ import annotations

import asyncio
import html
import re
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.channels.base import NO_HOOKS, Channel, Part, SendHooks
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


class TelegramChannel(Channel):
    """A Telegram chat or channel through the Bot API (or a self-hosted Bot API server via `base_url`)."""

    name = "telegram"
    max_length = 4096

    settings: TelegramConfig

    def __init__(self, settings: TelegramConfig) -> None:
        super().__init__(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bot: Any = None
        self._last_send = 0.0

    def parts(self, digest: Digest, language: str, config: Config) -> list[Part]:
        """Messages split only between items; the label heads the first."""
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
        return [Part(str(i), text) for i, text in enumerate(messages, start=1)]

    def send(self, part: Part, hooks: SendHooks = NO_HOOKS) -> str:
        """Send one HTML message; wait out 429s (bounded), keep at least min_interval between messages."""
        result: str = self._run(self._send(part.payload, hooks))
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
        from telegram.request import HTTPXRequest

        if self._bot is None:
            timeout = self.settings.timeout_seconds
            request = HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
            self._bot = Bot(self.settings.token, base_url=self.settings.base_url, request=request)
        return self._bot

    async def _send(self, text: str, hooks: SendHooks) -> str:
        from telegram import LinkPreviewOptions
        from telegram.constants import ParseMode
        from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

        bot = self._client()
        for attempt in range(self.settings.max_retries + 1):
            wait = self._last_send + self.settings.min_interval_seconds - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            hooks.before_request()
            try:
                message = await bot.send_message(
                    chat_id=self.settings.chat_id,
                    text=text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                return str(message.message_id)
            except RetryAfter as error:
                delay = error.retry_after
                seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
                if attempt == self.settings.max_retries:
                    raise DeliveryError(f"rate limited (retry after {seconds:g} s), gave up") from None
                hooks.refused(f"rate limited, retrying in {seconds:g} s")
                await asyncio.sleep(seconds)
            except TimedOut:
                # The message may have gone out: leave the ledger row pending for the ambiguity policy.
                raise DeliveryError("timed out waiting for Telegram", ambiguous=True) from None
            except (BadRequest, Forbidden, InvalidToken) as error:
                raise DeliveryError(f"Telegram refused the message: {error.message}") from None
            except NetworkError as error:
                if "connect" not in error.message.lower():  # the request may have left: never guess
                    raise DeliveryError(f"network error: {error.message}", ambiguous=True) from None
                if attempt == self.settings.max_retries:
                    raise DeliveryError(f"network error: {error.message}") from None
                hooks.refused(f"no connection ({error.message}), retrying")
                await asyncio.sleep(min(2.0**attempt, 30.0))
            finally:
                self._last_send = time.monotonic()
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the HTTP client and the event loop."""
        if self._loop is not None:
            if self._bot is not None:
                self._loop.run_until_complete(self._bot.shutdown())
            self._loop.close()
            self._loop = None
            self._bot = None
