"""One reader's refusal is theirs, not the run's; addresses are normalised; a long 429 defers one channel."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from bot.channels.email import EmailChannel
from bot.channels.slack import SlackChannel
from bot.cli import cli
from bot.config import Config, EmailConfig, SlackConfig
from bot.delivery import deliver
from bot.errors import BotError
from bot.ledger import Ledger
from bot.store import Store
from bot.subscribers import Roster, Subscribers, check_email, deliver_to_readers
from tests.chat_standins import SlackStandIn, TelegramStandIn
from tests.test_delivery import WEEK, digest
from tests.test_email import Mailbox, channel, free_port, smtp  # noqa: F401 (the fixture)
from tests.test_subscribers import mixed_digest, reader_channel

CONFIG = Config()


def test_telegram_readers_whose_chat_is_not_found_do_not_stop_the_others(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    # Five "chat not found" in a row used to count as "the service is down": every reader after them waited.
    missing = [str(chat) for chat in range(301, 306)]
    telegram.missing.update(missing)
    with Store(tmp_path / "s.json") as store:
        for chat in [*missing, "306", "307"]:
            Subscribers(store, CONFIG).add("telegram", chat, ["diffusion"])
        report = deliver_to_readers(store, reader_channel(telegram), mixed_digest(), CONFIG)
        assert (report.sent, len(report.failed), report.unreached, report.ok) == (2, 5, 0, True)
        assert "Chat not found" in report.failed[0]
    assert set(telegram.chats) == {"306", "307"}


def test_email_readers_refused_for_good_or_for_now_do_not_stop_the_others(
    smtp: tuple[Mailbox, int, str],  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    mailbox, port, ca = smtp
    busy = [f"busy{i}@example.org" for i in range(3)]
    bad = [f"bad{i}@example.org" for i in range(3)]
    mailbox.answers.update({a: "450 4.2.1 Mailbox busy" for a in busy})
    mailbox.answers.update({a: "501 5.1.3 Bad recipient address syntax" for a in bad})
    # A reader's 450 is never waited for in line (with a 30 s backoff, this test would take minutes).
    mail = EmailChannel(channel(port, ca, []).settings.model_copy(update={"backoff_seconds": 30}))
    started = time.monotonic()
    with Store(tmp_path / "s.json") as store:
        for address in [*busy, *bad, "ada@example.org", "bob@example.org"]:
            Subscribers(store, CONFIG).add("email", address, ["diffusion"])
        report = deliver_to_readers(store, mail, mixed_digest(), CONFIG)
        assert (report.sent, len(report.failed), report.unreached, report.ok) == (2, 6, 0, True)
        failed = Roster(store, "email", str(WEEK)).row["failed"]
        assert set(failed) == {f"email:{a}" for a in busy + bad}  # retried on the next run
    assert time.monotonic() - started < 20
    assert {rcpts[0] for rcpts, _ in mailbox.messages} == {"ada@example.org", "bob@example.org"}
    # The busy ones are asked again once, after every other reader; the refused ones are not.
    assert mailbox.asked.count(busy[0]) == 2 and mailbox.asked.count(bad[0]) == 1
    assert mailbox.asked.index("bob@example.org") < len(mailbox.asked) - 3


def test_a_busy_reader_who_accepts_on_the_second_try_gets_the_week(
    smtp: tuple[Mailbox, int, str],  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    mailbox, port, ca = smtp
    mailbox.busy = 1  # the first RCPT of the run answers 451
    with Store(tmp_path / "s.json") as store:
        for address in ("ada@example.org", "bob@example.org"):
            Subscribers(store, CONFIG).add("email", address, ["diffusion"])
        report = deliver_to_readers(store, channel(port, ca, []), mixed_digest(), CONFIG)
        assert (report.sent, report.failed, report.ok) == (2, [], True)
    assert mailbox.asked == ["ada@example.org", "bob@example.org", "ada@example.org"]


@pytest.mark.parametrize("smtputf8", [False, True])
def test_a_non_ascii_address_never_aborts_the_digest(tmp_path: Path, smtputf8: bool) -> None:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        settings = EmailConfig(host="127.0.0.1", port=port, security="none", sender="digest@example.org",
                               backoff_seconds=0, timeout_seconds=5, smtputf8=True)  # fmt: skip
        config = Config.model_validate({"channels": {"email": settings.model_dump()}})
        with Store(tmp_path / "s.json") as store:
            readers = Subscribers(store, config)
            jorg = readers.add("email", "Jörg@Exämple.de", ["diffusion"])
            readers.add("email", "ada@example.org", ["diffusion"])
            assert jorg.address == "jörg@xn--exmple-cua.de"  # domain in IDNA, case-folded
            report = deliver_to_readers(store, EmailChannel(settings), mixed_digest(), config)
    finally:
        controller.stop()
    delivered = {rcpts[0] for rcpts, _ in mailbox.messages}
    assert "ada@example.org" in delivered
    assert ("jörg@xn--exmple-cua.de" in delivered) == smtputf8
    assert report.sent == (2 if smtputf8 else 1) and report.ok
    if not smtputf8:
        assert "does not offer SMTPUTF8" in report.failed[0]


@pytest.mark.parametrize(
    ("given", "problem"),
    [("ada@example.org\n", ""), (" Ada@Example.ORG ", ""), ("a\u202eb@example.org", "invisible"),
     ("\x1b[31mada@example.org", "control"), ("ad\u200ba@example.org", "invisible"), ("a b@example.org", "not an"),
     ("jörg@example.de", "SMTPUTF8")],
)  # fmt: skip
def test_addresses_are_normalised_or_refused_with_a_reason(given: str, problem: str) -> None:
    if problem:
        with pytest.raises(BotError, match=problem):
            check_email(given)
    else:
        assert check_email(given) == "ada@example.org"


def test_bad_rows_an_older_version_let_in_are_listed_escaped_and_removable(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 's.json'}\nsources:\n  feeds: []\n", encoding="utf-8")
    with Store(tmp_path / "s.json") as store:
        row = {"kind": "email", "address": "ada@example.org\n\u202e", "topics": ["mllm"], "language": "en",
               "active": True, "token": "t", "since": "2023-01-01T00:00:00+00:00", "note": ""}  # fmt: skip
        store.table("subscribers").insert(row)
    runner = CliRunner()
    listed = runner.invoke(cli, ["--config", str(config), "subscribers", "list"])
    assert listed.exit_code == 0 and "\u202e" not in listed.output
    shown = listed.output.split("\t")[0]
    assert shown == "email:ada@example.org\\n\\u202e" and "not deliverable" in listed.output
    assert runner.invoke(cli, ["--config", str(config), "subscribers", "add", "Ada@Example.org"]).exit_code == 0
    both = runner.invoke(cli, ["--config", str(config), "subscribers", "add", "ada@example.org"])
    assert both.exit_code == 0  # the same reader: the second add updates, never a twin
    removed = runner.invoke(cli, ["--config", str(config), "subscribers", "remove", shown])
    assert removed.exit_code == 0, removed.output
    left = runner.invoke(cli, ["--config", str(config), "subscribers", "list"]).output
    assert left.count("email:") == 1 and "email:ada@example.org\t" in left


def test_a_long_retry_after_defers_one_channel_without_holding_the_others(
    telegram: TelegramStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    from tests.test_delivery import slack_channel, telegram_channel

    telegram.script = [3600]  # Telegram says: come back in an hour
    started = time.monotonic()
    with Store(tmp_path / "s.json") as store:
        reports = deliver(Ledger(store), [telegram_channel(telegram), slack_channel(slack)], digest(3), "en", CONFIG)
    assert time.monotonic() - started < 10
    tg, sl = reports
    assert not tg.ok and "deferred to the next run" in tg.failed[0]
    assert sl.ok and slack.posts
    webhook = SlackChannel(SlackConfig(webhook_url=f"{slack.url}webhook", max_retry_after_seconds=0))
    slack.script = [5]
    with Store(tmp_path / "t.json") as store:
        [report] = deliver(Ledger(store), [webhook], digest(3), "en", CONFIG)
    assert not report.ok and "over max_retry_after_seconds" in report.failed[0]
