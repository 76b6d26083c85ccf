"""Readers who act while a run is on: /stop and /start take effect at once, commands survive a SIGKILL, and
/last keeps Telegram's pacing."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, TelegramConfig
from bot.digest import Digest, freeze_digest
from bot.store import Store
from bot.subscribers import Roster, Subscribers, deliver_to_readers
from bot.telegram_bot import ReaderBot
from tests.chat_standins import TelegramStandIn
from tests.test_delivery import WEEK, digest
from tests.test_service import start, wait_for
from tests.test_subscribers import mixed_digest, private, reader_channel, store_rows

CONFIG = Config()


@pytest.mark.parametrize("process", ["this", "another"])
def test_a_stop_during_delivery_takes_effect_for_the_rest_of_the_run(
    telegram: TelegramStandIn, tmp_path: Path, process: str
) -> None:
    with Store(tmp_path / "s.json") as store, Store(tmp_path / "s.json") as operator:
        readers = Subscribers(store, CONFIG)
        for chat in ("401", "402", "403"):
            readers.add("telegram", chat, ["diffusion"])
        # The ReaderBot's /stop from its own thread, or `bot subscribers remove` from another process (a Store of
        # its own on the same file).
        stopper = readers if process == "this" else Subscribers(operator, CONFIG)

        def reader_402_stops_when_401_is_sent_to(chat: str) -> None:
            if chat == "401":
                stopper.remove("telegram", "402")

        telegram.on_send = reader_402_stops_when_401_is_sent_to
        report = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), CONFIG)
    assert set(telegram.chats) == {"401", "403"}  # "Unsubscribed", and no digest after it
    assert (report.sent, report.left, report.ok) == (2, 1, True) and "1 unsubscribed during the run" in report.line()


def test_a_start_after_a_failed_send_is_not_undone_at_the_end_of_the_run(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    telegram.blocked.add("501")
    with Store(tmp_path / "s.json") as store:
        readers = Subscribers(store, CONFIG)
        for chat in ("501", "502"):
            readers.add("telegram", chat, ["diffusion"])

        def reader_501_unblocks_and_starts_again(chat: str) -> None:
            if chat == "502":  # after 501's send was refused (403), before the run ends
                telegram.blocked.discard("501")
                readers.add("telegram", "501")

        telegram.on_send = reader_501_unblocks_and_starts_again
        report = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), CONFIG)
        assert report.gone == 1
        assert readers.get("telegram", "501").active  # type: ignore[union-attr]
        telegram.on_send = None
        again = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), CONFIG)
        assert again.sent == 1 and Roster(store, "telegram", str(WEEK)).sent == {"telegram:501", "telegram:502"}


def test_commands_fetched_before_a_sigkill_are_answered_after_the_restart(
    write_config: Any, telegram: TelegramStandIn, tmp_path: Path
) -> None:
    # Updates used to be confirmed when fetched: a kill mid-batch lost every command not handled yet.
    config = write_config(
        f"channels:\n  telegram: {{token: '{telegram.token}', chat_id: -100, base_url: '{telegram.url}',"
        " min_interval_seconds: 0, subscriber_rate: 0, chat_interval_seconds: 0}\n"
        "schedule:\n  publish: {day_of_week: mon, hour: 0}\n"
    )
    chats = range(1001, 1041)
    for chat in chats:
        telegram.push_update(private(chat, "/start"))
    telegram.private_delay = 0.1  # each answer takes a while: the kill lands mid-batch
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    service = start(config, env, tmp_path)
    try:
        wait_for(lambda: len(telegram.chats) >= 5, 60)
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=15)
    assert len(telegram.chats) < len(chats)
    telegram.private_delay = 0.0
    service = start(config, env, tmp_path)
    try:
        wait_for(lambda: len(telegram.chats) == len(chats), 60)
        wait_for(lambda: len(store_rows(tmp_path / "store.json", "subscribers")) == len(chats))
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == 0
    assert {row["address"] for row in store_rows(tmp_path / "store.json", "subscribers")} == {str(c) for c in chats}


def test_last_keeps_the_per_chat_pacing(telegram: TelegramStandIn, tmp_path: Path) -> None:
    telegram.rate_limits = True  # a second message to one chat within a second is a 429
    settings = TelegramConfig(token=telegram.token, chat_id="-100", base_url=telegram.url, timeout_seconds=5,
                              max_retries=0, chat_interval_seconds=1.0)  # fmt: skip
    config = Config(channels={"telegram": settings})  # type: ignore[arg-type]
    week: Digest = digest(40)  # several messages
    with Store(tmp_path / "s.json") as store:
        freeze_digest(store, week)
        bot = ReaderBot(config, store)
        bot.start()
        try:
            assert bot.ready.wait(20)
            for _ in range(2):
                for chat in (701, 702, 703):
                    telegram.push_update(private(chat, "/last"))
            started = time.monotonic()
            wait_for(lambda: sum(len(telegram.chats.get(str(c), [])) for c in (701, 702, 703)) >= 12, 60)
        finally:
            bot.stop()
    assert telegram.rejected == [] and not any("Too Many" in r for r in telegram.rejected)
    per_chat = {c: len(telegram.chats[str(c)]) for c in (701, 702, 703)}
    assert min(per_chat.values()) >= 4, per_chat
    assert time.monotonic() - started >= 3  # four messages to one chat take three intervals
