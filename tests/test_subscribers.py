"""Readers with their own topics: the table, filtering, batched delivery through the roster, email headers,
the CLI, and the Telegram bot inside `bot run` against the loopback Bot API stand-in."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.channels.telegram import TelegramChannel
from bot.cli import cli
from bot.config import Config, TelegramConfig, parse_config
from bot.digest import Digest
from bot.errors import BotError
from bot.service import due_week
from bot.store import Store
from bot.subscribers import (
    BATCH,
    Roster,
    Subscribers,
    batched,
    deliver_to_readers,
    filter_digest,
    parse_reader,
)
from bot.telegram_bot import toggled, topic_buttons
from tests.chat_standins import TelegramStandIn
from tests.standins import ArxivStandIn, synthetic_week, week_monday
from tests.test_delivery import WEEK, item
from tests.test_email import Mailbox, channel, smtp  # noqa: F401 (the fixture)
from tests.test_service import TUESDAY_3, start, wait_for

CONFIG = Config()


def mixed_digest() -> Digest:
    """Two diffusion items, one mllm, one quantization + llm-efficiency."""
    topics = [("diffusion",), ("diffusion",), ("mllm",), ("quantization", "llm-efficiency")]
    return Digest(WEEK, tuple(replace(item(i), topics=t, title=f"Paper {i} on {t[0]}") for i, t in enumerate(topics)))


def reader_channel(standin: TelegramStandIn, **settings: Any) -> TelegramChannel:
    """Readers' Telegram channel, rate limits off unless given."""
    limits = {"subscriber_rate": 0, "chat_interval_seconds": 0, **settings}
    return TelegramChannel(TelegramConfig(token=standin.token, chat_id="-100", base_url=standin.url,
                                          min_interval_seconds=0, timeout_seconds=5, **limits))  # fmt: skip


def test_a_filtered_digest_keeps_the_readers_topics_and_items_without_topics() -> None:
    digest = mixed_digest()
    assert [i.topics[0] for i in filter_digest(digest, ["diffusion"]).items] == ["diffusion", "diffusion"]
    assert len(filter_digest(digest, ["llm-efficiency"]).items) == 1  # the item's second topic counts
    editor = replace(digest, items=(*digest.items, replace(item(9), topics=())))
    assert filter_digest(editor, ["mllm"]).items[-1].key == "2305.00009"  # an editor's link goes to everyone


def test_the_subscribers_table_checks_what_it_is_given(tmp_path: Path) -> None:
    with Store(tmp_path / "s.json") as store:
        readers = Subscribers(store, CONFIG)
        ada = readers.add("email", "ada@example.org", ["mllm", "diffusion"], "en")
        assert ada.topics == ("diffusion", "mllm")  # config order, whatever the order given
        with pytest.raises(BotError, match="unknown topic gans: the topics are llm-efficiency, diffusion"):
            readers.add("email", "ada@example.org", ["gans"])
        with pytest.raises(BotError, match="is not an email address"):
            readers.add("email", "ada at example.org")
        again = readers.add("email", "ada@example.org", ["quantization"])
        assert (again.topics, again.language, again.token) == (("quantization",), "en", ada.token)  # updated
        readers.deactivate({ada.id: "mailbox gone"}, {ada.id: ada.updated})  # changed since: left as it is
        assert readers.get("email", "ada@example.org").active is True  # type: ignore[union-attr]
        readers.deactivate({ada.id: "mailbox gone"}, {ada.id: again.updated})
        assert readers.get("email", "ada@example.org").active is False  # type: ignore[union-attr]
        assert readers.add("email", "ada@example.org").active  # subscribing again reactivates
        assert readers.counts() == {"email": dict.fromkeys(CONFIG.topics, 1)}
        assert readers.remove("email", "ada@example.org") and not readers.remove("email", "ada@example.org")
    assert parse_reader("telegram:42") == ("telegram", "42") and parse_reader("42") == ("telegram", "42")
    assert parse_reader("a@b.org") == ("email", "a@b.org")


def test_the_topic_keyboard_toggles_and_never_leaves_none() -> None:
    rows = topic_buttons(CONFIG, ("diffusion",), "en")
    assert [row[0][1] for row in rows] == [f"topic:{t}" for t in CONFIG.topics]
    assert rows[1][0][0].startswith("✅") and rows[0][0][0].startswith("⬜")
    assert toggled(CONFIG, ("diffusion",), "mllm") == ("diffusion", "mllm")
    assert toggled(CONFIG, ("diffusion", "mllm"), "diffusion") == ("mllm",)
    assert toggled(CONFIG, ("diffusion",), "diffusion") is None


def test_readers_get_their_topics_once_in_their_language_and_a_blocked_reader_turns_inactive(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    telegram.blocked.add("103")
    with Store(tmp_path / "s.json") as store:
        readers = Subscribers(store, CONFIG)
        readers.add("telegram", "101", ["diffusion"], "en")
        readers.add("telegram", "102", ["mllm", "quantization"], "ko")
        readers.add("telegram", "103")
        readers.add("telegram", "104", ["diffusion"])
        readers.remove("telegram", "104")
        report = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), CONFIG)
        assert (report.sent, report.gone, report.ok) == (2, 1, True)
        assert "1 unreachable (now inactive)" in report.line()
        again = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), CONFIG)
        assert (again.sent, again.skipped, again.readers) == (0, 2, 2)  # the blocked reader is not tried again
        reader = readers.get("telegram", "103")
        assert reader is not None and not reader.active and "blocked" in reader.note
        assert Roster(store, "telegram", str(WEEK)).sent == {"telegram:101", "telegram:102"}
    assert set(telegram.chats) == {"101", "102"}
    [english] = telegram.chats["101"]
    assert english.startswith("Week 1 of May 2023") and "Paper 0 on diffusion" in english
    assert "Paper 2 on mllm" not in english
    [korean] = telegram.chats["102"]
    assert korean.startswith("2023년 5월 1주차") and "Paper 2 on mllm" in korean and "diffusion" not in korean


def test_a_reader_with_nothing_this_week_gets_nothing_and_counts_as_done(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    only_diffusion = replace(mixed_digest(), items=mixed_digest().items[:2])
    with Store(tmp_path / "s.json") as store:
        Subscribers(store, CONFIG).add("telegram", "201", ["mllm"])
        report = deliver_to_readers(store, reader_channel(telegram), only_diffusion, CONFIG)
        assert (report.sent, report.empty) == (0, 1) and "1 with nothing on their topics" in report.line()
        assert Roster(store, "telegram", str(WEEK)).sent == {"telegram:201"}
    assert telegram.chats == {}


def test_ledger_writes_are_batched_and_a_crash_leaves_one_batch_pending(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    n = BATCH * 2 + 7
    with Store(tmp_path / "s.json") as store:
        readers = Subscribers(store, CONFIG)
        with store.batch():
            for chat in range(1000, 1000 + n):
                readers.add("telegram", str(chat), ["diffusion"])
        storage = store._storage
        assert storage is not None
        writes = []
        flush = storage.flush
        storage.flush = lambda: (writes.append(storage._dirty), flush())  # type: ignore[method-assign]
        report = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), CONFIG)
        assert report.sent == n and len(telegram.messages) == n
        # Batches of 1, 2, 4, 8, 16, 32, then 50 at most (here the 44 left): one write per batch (it also
        # marks the next pending) and the first mark.
        assert [len(b) for b in batched(readers.all())] == [1, 2, 4, 8, 16, 32, 44]
        assert sum(writes) == 7 + 1

        # A crash in the middle of the second batch: its readers stay pending, the others are settled.
        roster = Roster(store, "telegram", "2023-W19")
        ids = [f"telegram:{c}" for c in range(1000, 1000 + n)]
        roster.mark_pending(ids[:BATCH])
        roster.settle(ids[:BATCH], ids[:BATCH], {}, set())
        roster.mark_pending(ids[BATCH : 2 * BATCH])  # ... and the process dies here
        assert Roster(store, "telegram", "2023-W19").pending == set(ids[BATCH : 2 * BATCH])


@pytest.mark.parametrize("policy", ["resend", "skip"])
def test_readers_left_pending_by_a_crash_follow_on_ambiguous(
    telegram: TelegramStandIn, tmp_path: Path, policy: str
) -> None:
    config = parse_config(f"delivery:\n  on_ambiguous: {policy}\n", "test")
    with Store(tmp_path / "s.json") as store:
        readers = Subscribers(store, config)
        for chat in ("301", "302"):
            readers.add("telegram", chat, ["diffusion"])
        Roster(store, "telegram", str(WEEK)).mark_pending(["telegram:301"])  # a crash mid-batch
        report = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), config)
        assert Roster(store, "telegram", str(WEEK)).pending == set()
    if policy == "resend":
        assert report.sent == 2 and set(telegram.chats) == {"301", "302"}
    else:
        assert (report.sent, report.skipped) == (1, 1) and set(telegram.chats) == {"302"}


def test_the_rate_limits_hold_for_readers(telegram: TelegramStandIn, tmp_path: Path) -> None:
    telegram.rate_limits = True  # the stand-in answers 429 to more than 1 message a second to one chat
    big = Digest(WEEK, tuple(replace(item(i), commentary="Long words. " * 120) for i in range(12)))
    with Store(tmp_path / "s.json") as store:
        Subscribers(store, CONFIG).add("telegram", "401", ["diffusion"])
        started = time.monotonic()
        channel = reader_channel(telegram, chat_interval_seconds=1.0, subscriber_rate=30)
        report = deliver_to_readers(store, channel, big, CONFIG)
    parts = len(telegram.chats["401"])
    assert report.sent == 1 and parts >= 2 and time.monotonic() - started >= parts - 1
    assert telegram.rejected == [] and not any("Too Many" in r for r in telegram.rejected)


def test_email_readers_get_their_topics_with_unsubscribe_headers(
    smtp: tuple[Mailbox, int, str],  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    mailbox, port, ca = smtp
    plain = channel(port, ca, ["operator@example.org"])
    one_click = plain.settings.model_copy(update={"unsubscribe_url": "https://example.org/unsubscribe"})
    with Store(tmp_path / "s.json") as store:
        readers = Subscribers(store, CONFIG)
        ada = readers.add("email", "ada@example.org", ["diffusion"], "en")
        readers.add("email", "bob@example.org", ["mllm"], "ko")
        report = deliver_to_readers(store, type(plain)(one_click), mixed_digest(), CONFIG)
    assert report.sent == 2 and report.ok
    by_rcpt = {rcpts[0]: msg for rcpts, msg in mailbox.messages}
    assert set(by_rcpt) == {"ada@example.org", "bob@example.org"}  # not the operator's fixed list
    msg = by_rcpt["ada@example.org"]
    assert msg["List-Unsubscribe"].strip() == (  # (long: folded onto the next line)
        f"<mailto:digest@example.org?subject=unsubscribe%20{ada.token}>, "
        f"<https://example.org/unsubscribe?token={ada.token}>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",)).get_content()
    assert "Paper 0 on diffusion" in text and "Paper 2 on mllm" not in text
    assert f"Unsubscribe: https://example.org/unsubscribe?token={ada.token}" in text
    assert "Unsubscribe" in msg.get_body(("html",)).get_content()
    korean = by_rcpt["bob@example.org"]
    assert korean["Subject"] == "논문 다이제스트: 2023년 5월 1주차"
    assert "구독 해지" in korean.get_body(("plain",)).get_content()


def test_without_a_one_click_url_only_the_mailto_is_offered(
    smtp: tuple[Mailbox, int, str],  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    mailbox, port, ca = smtp
    mailbox.refuse.add("gone@example.org")
    with Store(tmp_path / "s.json") as store:
        readers = Subscribers(store, CONFIG)
        readers.add("email", "ada@example.org", ["diffusion"], "en")
        readers.add("email", "gone@example.org", ["diffusion"], "en")
        report = deliver_to_readers(store, channel(port, ca, []), mixed_digest(), CONFIG)
        assert (report.sent, report.gone) == (1, 1)
        assert readers.get("email", "gone@example.org").active is False  # type: ignore[union-attr]
    [(_, msg)] = mailbox.messages
    assert msg["List-Unsubscribe"].strip().startswith("<mailto:digest@example.org?subject=unsubscribe%20")
    assert msg["List-Unsubscribe-Post"] is None  # RFC 8058 one-click needs an https URI


def test_cli_subscribers_add_list_remove_and_status(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 's.json'}\nsources:\n  feeds: []\n", encoding="utf-8")
    run = lambda *args: CliRunner().invoke(cli, ["--config", str(config), *args])  # noqa: E731
    added = run("subscribers", "add", "ada@example.org", "--topics", "mllm,diffusion", "--lang", "en")
    assert added.exit_code == 0 and "subscribed email:ada@example.org: diffusion, mllm (en)" in added.output
    bad = run("subscribers", "add", "ada@example.org", "--topics", "gans")
    assert bad.exit_code == 1 and "unknown topic gans" in bad.output
    listed = run("subscribers", "list")
    assert listed.exit_code == 0 and "email:ada@example.org\tdiffusion,mllm\ten\t" in listed.output
    assert "active" in listed.output
    status = run("status")
    assert "email readers: diffusion 1, mllm 1" in status.output
    assert run("subscribers", "remove", "ada@example.org").exit_code == 0
    missing = run("subscribers", "remove", "ada@example.org")
    assert missing.exit_code == 1 and "is not subscribed" in missing.output


def private(chat: int, text: str, language: str = "en") -> dict[str, Any]:
    """A private message update, as Telegram sends it."""
    user = {"id": chat, "is_bot": False, "first_name": "R", "language_code": language}
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
    message = {"message_id": int(time.time() * 1000) % 100000, "date": int(time.time()), "text": text,
               "chat": {"id": chat, "type": "private"}, "from": user, "entities": entities}  # fmt: skip
    return {"message": message}


def tap(chat: int, message_id: int, data: str) -> dict[str, Any]:
    """A tap on an inline keyboard button."""
    user = {"id": chat, "is_bot": False, "first_name": "R"}
    message = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat, "type": "private"},
               "text": "topics"}  # fmt: skip
    return {"callback_query": {"id": f"q{chat}{data}", "from": user, "chat_instance": "1", "data": data,
                               "message": message}}  # fmt: skip


def store_rows(path: Path, table: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get(table, {}).values())


def test_bot_run_answers_readers_and_sends_each_their_topics_once_across_a_sigkill(
    arxiv_api: ArxivStandIn, write_config: Any, telegram: TelegramStandIn, tmp_path: Path
) -> None:
    due = due_week(datetime.now(UTC), TUESDAY_3)
    arxiv_api.entries = synthetic_week(60, week_monday(str(due)))
    arxiv_api.script = [503] * 1000  # arXiv is down until the readers have subscribed
    config = write_config(
        f"channels:\n  telegram: {{token: '{telegram.token}', chat_id: -100, base_url: '{telegram.url}',"
        " min_interval_seconds: 0, subscriber_rate: 0, chat_interval_seconds: 0}\n"
        "schedule:\n  retry_seconds: 1\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    store = tmp_path / "store.json"
    service = start(config, env, tmp_path)
    try:
        telegram.push_update(private(501, "/start", "en"))
        telegram.push_update(private(502, "/start", "ko"))
        telegram.push_update(private(503, "/start"))
        telegram.push_update(private(504, "/start"))
        wait_for(lambda: all(str(c) in telegram.chats for c in (501, 502, 503, 504)))
        assert telegram.chats["501"][0].startswith("Subscribed: every week you get the paper digest on")
        assert telegram.chats["502"][0].startswith("구독했습니다")
        telegram.push_update(private(502, "/topics"))
        wait_for(lambda: len(telegram.chats["502"]) == 2)
        keyboard = telegram.markups[("502", 2)]["inline_keyboard"]
        assert len(keyboard) == len(CONFIG.topics) and all(row[0]["text"].startswith("✅") for row in keyboard)
        for topic in ("llm-efficiency", "diffusion", "quantization"):  # leave only mllm
            telegram.push_update(tap(502, 2, f"topic:{topic}"))
        wait_for(lambda: len(telegram.answered) == 3)
        wait_for(lambda: [r[0]["text"][0] for r in telegram.markups[("502", 2)]["inline_keyboard"]]
                 == ["⬜", "⬜", "✅", "⬜"])  # fmt: skip
        telegram.push_update(private(503, "/stop"))
        telegram.push_update(private(501, "/lang en"))
        wait_for(lambda: len(telegram.chats["503"]) == 2 and len(telegram.chats["501"]) == 2)
        readers = {r["address"]: r for r in store_rows(store, "subscribers")}
        assert set(readers) == {"501", "502", "504"} and readers["502"]["topics"] == ["mllm"]
        telegram.blocked.add("504")
        # Hold the first channel message, so a SIGKILL lands before the readers are reached.
        telegram.hold = 30.0
        arxiv_api.script.clear()
        wait_for(lambda: any(r["status"] == "pending" for r in store_rows(store, "deliveries")), 60)
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=15)
    telegram.hold = 0.0
    service = start(config, env, tmp_path)
    try:
        wait_for(lambda: any(r["channel"] == "telegram" and r["sent"] for r in store_rows(store, "roster")), 60)
        wait_for(lambda: not [r for r in store_rows(store, "subscribers") if r["address"] == "504" and r["active"]])
        time.sleep(1.0)
        digests_501 = [m for m in telegram.chats["501"] if m.startswith("Week ")]
        digests_502 = [m for m in telegram.chats["502"] if m.startswith(due.label("ko"))]
        assert len(digests_501) == 1 and len(digests_502) == 1  # exactly once each
        telegram.push_update(private(502, "/last"))  # on demand: the latest digest again, on their topics
        wait_for(lambda: telegram.chats["502"][-1] == digests_502[0])
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == 0
    assert "Diffusion" in digests_501[0] or "diffusion" in digests_501[0]
    assert "Vision-Language" in digests_502[0] and "Diffusion Models" not in digests_502[0]  # only mllm
    assert not any(m.startswith(due.label("ko")) for m in telegram.chats["503"])  # unsubscribed
    log = service.stderr.read() if service.stderr else ""
    assert "telegram readers: ok: 2 sent" in log and "1 unreachable (now inactive)" in log


def test_bot_run_takes_updates_by_webhook_and_checks_telegrams_secret(
    arxiv_api: ArxivStandIn, write_config: Any, telegram: TelegramStandIn, tmp_path: Path
) -> None:
    import hashlib
    import urllib.error
    import urllib.request

    from tests.test_email import free_port

    due = due_week(datetime.now(UTC), TUESDAY_3)
    arxiv_api.entries = synthetic_week(20, week_monday(str(due)))
    port = free_port()
    config = write_config(
        f"channels:\n  telegram: {{token: '{telegram.token}', chat_id: -100, base_url: '{telegram.url}',"
        f" min_interval_seconds: 0, webhook_url: 'https://bot.example.org/tg/hook',"
        f" webhook_listen: '127.0.0.1:{port}'}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    service = start(config, env, tmp_path)
    secret = hashlib.sha256(f"webhook|{telegram.token}".encode()).hexdigest()[:48]

    def post(update: dict[str, Any], token: str) -> int:
        body = json.dumps({**update, "update_id": 7}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/tg/hook", data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": token})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return error.code

    try:
        wait_for(lambda: telegram.webhook == "https://bot.example.org/tg/hook")
        wait_for(lambda: _answers(port))
        assert post(private(601, "/start"), "forged") == 403
        assert post(private(601, "/help"), secret) == 200
        wait_for(lambda: "601" in telegram.chats)
        assert telegram.chats["601"][0].startswith("/start subscribe")  # /help; the forged /start was dropped
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == 0


def _answers(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_subscriptions_off_means_no_readers_on_telegram(telegram: TelegramStandIn, tmp_path: Path) -> None:
    from bot.subscribers import deliver_to_all_readers

    with Store(tmp_path / "s.json") as store:
        Subscribers(store, CONFIG).add("telegram", "701")
        off = reader_channel(telegram, subscriptions=False)
        assert not off.has_readers
        assert deliver_to_all_readers(store, [off], mixed_digest(), CONFIG) == []
    assert telegram.chats == {}


def test_a_service_that_keeps_failing_stops_the_run_and_the_next_run_sends_the_rest(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    from tests.test_email import free_port

    down = TelegramChannel(TelegramConfig(token=telegram.token, chat_id="-100", timeout_seconds=2, max_retries=0,
                                          base_url=f"http://127.0.0.1:{free_port()}/bot", subscriber_rate=0,
                                          chat_interval_seconds=0))  # fmt: skip
    with Store(tmp_path / "s.json") as store:
        for chat in range(801, 811):
            Subscribers(store, CONFIG).add("telegram", str(chat), ["diffusion"])
        report = deliver_to_readers(store, down, mixed_digest(), CONFIG)
        assert (report.sent, len(report.failed), report.unreached, report.ok) == (0, 5, 5, False)
        assert "5 not reached (the next run sends to them)" in report.line()
        assert Roster(store, "telegram", str(WEEK)).pending == set()  # nothing ambiguous: nothing left
        again = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), CONFIG)
        assert (again.sent, again.ok) == (10, True)
    assert len(telegram.chats) == 10
