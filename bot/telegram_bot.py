"""The Telegram bot readers talk to, inside `bot run`: /start, /topics, /lang, /stop, /last, /help.

python-telegram-bot's `Application` runs in a thread of its own with its own event loop: long polling by
default, a webhook when `channels.telegram.webhook_url` is set (Telegram posts updates to it; the bot listens
on `webhook_listen` behind the operator's TLS proxy, and checks Telegram's secret token header). Its handlers
read and write the `subscribers` table of the service's store, whose every call holds the store's lock, so
a publish job running at the same time is not disturbed. The weekly messages to readers are not sent here:
the publish job sends them through the ledger (`bot.subscribers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from typing import Any

from bot.config import Config, TelegramConfig
from bot.digest import latest_digest
from bot.render import topic_labels
from bot.store import Store
from bot.subscribers import Subscriber, Subscribers, filter_digest
from bot.week import LANGUAGES

log = logging.getLogger(__name__)
RETRY_START_SECONDS = 60.0
UPDATES = ["message", "callback_query"]

TEXTS = {
    "en": {
        "welcome": "Subscribed: every week you get the paper digest on {topics}. /topics to choose, /help for more.",
        "topics": "Your topics (tap to switch on or off):",
        "need_one": "Keep at least one topic (or /stop).",
        "lang": "Language set: English.",
        "lang_usage": "Usage: /lang ko | en | zh",
        "stopped": "Unsubscribed. /start to come back.",
        "not_subscribed": "You are not subscribed: /start first.",
        "no_digest": "No digest has been published yet.",
        "nothing": "Nothing on your topics in the latest digest ({label}).",
        "help": "/start subscribe (every topic)\n/topics choose topics\n/lang ko|en|zh language\n"
                "/last the latest digest on your topics\n/stop unsubscribe",
    },
    "ko": {
        "welcome": "구독했습니다: 매주 {topics} 논문 다이제스트를 보내 드립니다. 주제 선택은 /topics, 도움말은 /help.",
        "topics": "구독 주제 (눌러서 켜고 끄기):",
        "need_one": "주제를 하나 이상 남겨 주세요 (해지는 /stop).",
        "lang": "언어: 한국어.",
        "lang_usage": "사용법: /lang ko | en | zh",
        "stopped": "구독을 해지했습니다. 다시 받으려면 /start.",
        "not_subscribed": "구독 중이 아닙니다: 먼저 /start.",
        "no_digest": "아직 발행된 다이제스트가 없습니다.",
        "nothing": "최신 다이제스트({label})에 구독 주제의 논문이 없습니다.",
        "help": "/start 구독 (모든 주제)\n/topics 주제 선택\n/lang ko|en|zh 언어\n"
                "/last 최신 다이제스트\n/stop 구독 해지",
    },
    "zh": {
        "welcome": "已订阅：每周为你推送 {topics} 的论文周报。/topics 选择主题，/help 查看帮助。",
        "topics": "你的主题（点击开关）：",
        "need_one": "请至少保留一个主题（或 /stop）。",
        "lang": "语言：中文。",
        "lang_usage": "用法：/lang ko | en | zh",
        "stopped": "已退订。/start 可重新订阅。",
        "not_subscribed": "你还没有订阅：请先 /start。",
        "no_digest": "还没有发布过周报。",
        "nothing": "最新周报（{label}）中没有你订阅主题的论文。",
        "help": "/start 订阅（全部主题）\n/topics 选择主题\n/lang ko|en|zh 语言\n/last 最新周报\n/stop 退订",
    },
}  # fmt: skip


def topic_buttons(config: Config, chosen: tuple[str, ...], language: str) -> list[list[tuple[str, str]]]:
    """The /topics keyboard as rows of (label, callback data): one button per topic, ✅ when chosen (pure)."""
    labels = topic_labels(config, language)
    return [[(f"{'✅' if name in chosen else '⬜'} {labels[name]}", f"topic:{name}")] for name in config.topics]


def toggled(config: Config, chosen: tuple[str, ...], topic: str) -> tuple[str, ...] | None:
    """The topics after switching one on or off, in config order; None when that would leave none (pure)."""
    wanted = set(chosen) ^ {topic}
    result = tuple(name for name in config.topics if name in wanted)
    return result or None


class ReaderBot:
    """The Application answering readers' private messages, in its own thread (see the module docstring)."""

    def __init__(self, config: Config, store: Store) -> None:
        assert config.channels.telegram is not None
        self.config = config
        self.settings: TelegramConfig = config.channels.telegram
        self.store = store
        self.subscribers = Subscribers(store, config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._polling: asyncio.Task[None] | None = None
        self._offset: int | None = None  # the first update not handled yet
        self._app: Any = None
        self.ready = threading.Event()

    def start(self) -> None:
        """Start answering in a background thread (returns at once)."""
        self._thread = threading.Thread(target=self._serve, name="telegram-readers", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling (or the webhook server) and wait for the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    async def _run(self) -> None:
        assert self._stop is not None
        while not self._stop.is_set():
            app = self._application()
            try:
                await app.initialize()
                await app.start()
                await self._receive(app)
            except Exception as error:  # the Bot API unreachable or refusing at start: keep the service up
                log.error("telegram readers: cannot start (%s: %s); retrying in %.0f s", type(error).__name__,
                          error, RETRY_START_SECONDS)  # fmt: skip
                await self._shutdown(app)
                try:
                    await asyncio.wait_for(self._stop.wait(), RETRY_START_SECONDS)
                except TimeoutError:
                    continue
                return
            mode = f"webhook {self.settings.webhook_url}" if self.settings.webhook_url else "long polling"
            log.info("telegram readers: answering /start, /topics, /lang, /stop, /last, /help (%s)", mode)
            self.ready.set()
            await self._stop.wait()
            await self._shutdown(app)
            return

    async def _receive(self, app: Any) -> None:
        self._app = app
        if self.settings.webhook_url:  # the updates come through `take_update` (bot.web serves the webhook)
            await app.bot.set_webhook(url=self.settings.webhook_url, allowed_updates=UPDATES,
                                      secret_token=self.secret_token)  # fmt: skip
        else:
            await app.bot.delete_webhook()  # getUpdates is refused while a webhook is set
            self._polling = asyncio.create_task(self._poll(app))

    async def _poll(self, app: Any) -> None:
        """Long polling that confirms an update only once it is handled.

        PTB's updater confirms a batch of updates (the next getUpdates' offset) as soon as it has fetched them;
        killed before handling them, the service never answered those readers nor saved their /start. Here
        the offset moves past an update after its handler ran, so a restart answers every command left.
        """
        from telegram.error import NetworkError, TelegramError

        assert self._stop is not None
        wait = 1.0
        while not self._stop.is_set():
            try:
                updates = await app.bot.get_updates(offset=self._offset, timeout=10, allowed_updates=UPDATES,
                                                    read_timeout=self.settings.timeout_seconds + 15)  # fmt: skip
            except (NetworkError, TelegramError) as error:
                log.warning("telegram readers: getUpdates failed (%s); retrying in %.0f s", error, wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
                wait = min(wait * 2, RETRY_START_SECONDS)
                continue
            wait = 1.0
            for update in updates:
                await app.process_update(update)  # a failing handler goes to on_error; the update is done
                self._offset = update.update_id + 1

    def take_update(self, data: dict[str, Any], timeout: float = 60.0) -> None:
        """Handle one update Telegram posted to the webhook, in the bot's loop; returns once it is handled."""
        from telegram import Update

        loop, app = self._loop, self._app
        if loop is None or app is None or not self.ready.is_set():
            raise RuntimeError("the reader bot is not running")

        async def handle() -> None:
            await app.process_update(Update.de_json(data, app.bot))

        asyncio.run_coroutine_threadsafe(handle(), loop).result(timeout)

    @property
    def secret_token(self) -> str:
        """What Telegram sends in `X-Telegram-Bot-Api-Secret-Token` with each update (derived from the token)."""
        return hashlib.sha256(f"webhook|{self.settings.token}".encode()).hexdigest()[:48]

    @property
    def webhook_path(self) -> str:
        """The URL path the webhook server answers on: the path of `webhook_url`."""
        from urllib.parse import urlsplit

        return urlsplit(self.settings.webhook_url or "").path.lstrip("/")

    async def _shutdown(self, app: Any) -> None:
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
            self._polling = None
            if self._offset is not None:  # confirm what was handled, so a restart does not answer it twice
                with contextlib.suppress(Exception):
                    await app.bot.get_updates(offset=self._offset, timeout=0, allowed_updates=UPDATES)
        for step in (app.updater.stop, app.stop, app.shutdown):
            with contextlib.suppress(RuntimeError):  # not running: nothing to stop
                await step()

    def _application(self) -> Any:
        from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, filters

        timeout = self.settings.timeout_seconds
        app = (
            ApplicationBuilder()
            .token(self.settings.token)
            .base_url(self.settings.base_url)
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .write_timeout(timeout)
            .get_updates_read_timeout(timeout + 15)  # long polling holds the request for up to 10 s
            .build()
        )
        private = filters.ChatType.PRIVATE
        for name, handler in (("start", self.on_start), ("topics", self.on_topics), ("lang", self.on_lang),
                              ("stop", self.on_stop), ("last", self.on_last), ("help", self.on_help)):  # fmt: skip
            app.add_handler(CommandHandler(name, handler, filters=private))
        app.add_handler(CallbackQueryHandler(self.on_toggle, pattern=r"^topic:"))
        app.add_error_handler(self.on_error)
        return app

    def _reader(self, update: Any) -> Subscriber | None:
        return self.subscribers.get("telegram", str(update.effective_chat.id))

    def _language(self, update: Any, reader: Subscriber | None = None) -> str:
        if reader is not None:
            return reader.language
        code = (getattr(update.effective_user, "language_code", None) or "")[:2]
        return code if code in LANGUAGES else self.config.digest.language

    @staticmethod
    def _keyboard(rows: list[list[tuple[str, str]]]) -> Any:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup

        return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in row]
                                     for row in rows])  # fmt: skip

    async def on_start(self, update: Any, context: Any) -> None:
        """/start: subscribe with every topic (a returning reader keeps their topics and language)."""
        chat = str(update.effective_chat.id)
        known = self._reader(update)
        language = self._language(update, known)
        reader = self.subscribers.add("telegram", chat, known.topics if known else None, language)
        labels = topic_labels(self.config, reader.language)
        text = TEXTS[reader.language]["welcome"].format(topics=", ".join(labels[t] for t in reader.topics))
        await update.effective_message.reply_text(text)
        log.info("telegram readers: %s subscribed (%s)", reader.id, ",".join(reader.topics))

    async def on_topics(self, update: Any, context: Any) -> None:
        """/topics: the keyboard of topics, ✅ on the reader's."""
        reader = self._reader(update)
        if reader is None:
            await update.effective_message.reply_text(TEXTS[self._language(update)]["not_subscribed"])
            return
        keyboard = self._keyboard(topic_buttons(self.config, reader.topics, reader.language))
        await update.effective_message.reply_text(TEXTS[reader.language]["topics"], reply_markup=keyboard)

    async def on_toggle(self, update: Any, context: Any) -> None:
        """A tap on the keyboard: switch the topic, answer the tap, redraw the keyboard."""
        query = update.callback_query
        reader = self._reader(update)
        topic = str(query.data).removeprefix("topic:")
        if reader is None or topic not in self.config.topics:
            await query.answer(TEXTS[self._language(update)]["not_subscribed"])
            return
        topics = toggled(self.config, reader.topics, topic)
        if topics is None:
            await query.answer(TEXTS[reader.language]["need_one"])
            return
        reader = self.subscribers.add("telegram", reader.address, topics, reader.language)
        await query.answer()
        await query.edit_message_reply_markup(self._keyboard(topic_buttons(self.config, topics, reader.language)))

    async def on_lang(self, update: Any, context: Any) -> None:
        """/lang ko|en|zh: the language of the reader's digest and of the bot's answers."""
        reader = self._reader(update)
        wanted = (context.args or [""])[0].lower()
        if reader is None:
            await update.effective_message.reply_text(TEXTS[self._language(update)]["not_subscribed"])
            return
        if wanted not in LANGUAGES:
            await update.effective_message.reply_text(TEXTS[reader.language]["lang_usage"])
            return
        self.subscribers.add("telegram", reader.address, reader.topics, wanted)
        await update.effective_message.reply_text(TEXTS[wanted]["lang"])

    async def on_stop(self, update: Any, context: Any) -> None:
        """/stop: unsubscribe."""
        reader = self._reader(update)
        language = self._language(update, reader)
        self.subscribers.remove("telegram", str(update.effective_chat.id))
        await update.effective_message.reply_text(TEXTS[language]["stopped"])
        if reader is not None:
            log.info("telegram readers: %s unsubscribed", reader.id)

    async def on_last(self, update: Any, context: Any) -> None:
        """/last: the newest digest, filtered to the reader's topics, in their language."""
        from telegram import LinkPreviewOptions
        from telegram.constants import ParseMode

        from bot.channels.telegram import TelegramChannel, pacer

        reader = self._reader(update)
        language = self._language(update, reader)
        digest = latest_digest(self.store)
        if digest is None:
            await update.effective_message.reply_text(TEXTS[language]["no_digest"])
            return
        filtered = filter_digest(digest, reader.topics if reader else tuple(self.config.topics))
        if not filtered.items:
            label = digest.week.label(language)
            await update.effective_message.reply_text(TEXTS[language]["nothing"].format(label=label))
            return
        chat = str(update.effective_chat.id)
        limits = pacer(self.settings.token)  # the weekly delivery's pacing: per chat and overall
        for text in TelegramChannel(self.settings).messages(filtered, language, self.config):
            await asyncio.sleep(limits.reserve(chat, self.settings))
            try:
                await update.effective_message.reply_text(
                    text, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
                )
            finally:
                limits.sent(chat)

    async def on_help(self, update: Any, context: Any) -> None:
        """/help: the commands."""
        await update.effective_message.reply_text(TEXTS[self._language(update, self._reader(update))]["help"])

    async def on_error(self, update: Any, context: Any) -> None:
        """A handler failed: one log line (the reader gets no answer; the next message is handled anew)."""
        log.error("telegram readers: %s: %s", type(context.error).__name__, context.error)
