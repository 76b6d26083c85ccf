"""`bot digest` with real channels, as a user runs it: reruns, a second run, and a SIGKILL mid-delivery."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.channels.base import Part, SendHooks
from bot.channels.slack import SlackChannel
from bot.channels.telegram import TelegramChannel
from bot.cli import cli
from bot.config import Config, SlackConfig, TelegramConfig
from bot.delivery import deliver
from bot.digest import Digest
from bot.errors import DeliveryError
from bot.ledger import PENDING, SENT, Ledger
from bot.store import Store
from tests.chat_standins import SlackStandIn, TelegramStandIn
from tests.standins import ArxivStandIn, synthetic_week, week_monday
from tests.test_delivery import WEEK, digest, item

WriteConfig = Callable[..., Path]


def channels_yaml(tg: TelegramStandIn, sl: SlackStandIn, interval: float = 0) -> str:
    return (
        "channels:\n"
        f"  telegram: {{token: '${{TG_TOKEN}}', chat_id: -100, base_url: '{tg.url}',"
        f" min_interval_seconds: {interval}}}\n"
        f"  slack: {{token: '{sl.token}', channel: C1, base_url: '{sl.url}'}}\n"
    )


def telegram_parts_sent(store: Path) -> int:
    try:
        rows = json.loads(store.read_text()).get("deliveries", {}).values()
    except (OSError, ValueError):
        return 0  # not written yet
    return sum(r["channel"] == "telegram" and r["status"] == "sent" for r in rows)


def urls(messages: list[str]) -> list[str]:
    return re.findall(r"https://arxiv\.org/abs/\S+", "\n".join(messages))


def test_second_run_sends_nothing_and_says_so(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn, slack: SlackStandIn,
    monkeypatch: object,
) -> None:  # fmt: skip
    os.environ["TG_TOKEN"] = telegram.token
    write_config(channels_yaml(telegram, slack))
    arxiv_api.entries = synthetic_week(100, week_monday("2023-W18"))
    first = CliRunner().invoke(cli, ["digest", "--week", "2023-W18"])
    assert first.exit_code == 0, first.output
    assert "2023-W18 telegram: ok: 1 sent, 0 already delivered, 0 failed of 1" in first.output
    second = CliRunner().invoke(cli, ["digest", "--week", "2023-W18"])
    assert second.exit_code == 0
    assert "nothing to send, already delivered to every channel" in second.output
    assert len(telegram.messages) == 1 and len(slack.posts) == 1
    forced = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--force", "--channel", "slack"])
    assert forced.exit_code == 0 and len(slack.posts) == 2 and len(telegram.messages) == 1
    refresh = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--refresh"])
    assert refresh.exit_code == 1 and "already delivered" in refresh.output


def test_missing_secret_is_named(arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn,
                                 slack: SlackStandIn) -> None:  # fmt: skip
    os.environ.pop("TG_TOKEN", None)
    path = write_config(channels_yaml(telegram, slack))
    result = CliRunner().invoke(cli, ["digest", "--week", "2023-W18"])
    assert result.exit_code == 1
    assert f"channels.telegram.token: environment variable TG_TOKEN is not set ({path})" in result.output


def test_sigkill_mid_delivery_then_rerun_delivers_every_item_exactly_once(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn, slack: SlackStandIn,
    tmp_path: Path,
) -> None:  # fmt: skip
    arxiv_api.entries = synthetic_week(300, week_monday("2023-W18"))
    config = write_config(channels_yaml(telegram, slack, interval=1.5))
    env = {**os.environ, "TG_TOKEN": telegram.token}
    cmd = [sys.executable, "-m", "bot", "--config", str(config), "digest", "--week", "2023-W18"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not telegram_parts_sent(tmp_path / "store.json") and time.monotonic() < deadline:
        time.sleep(0.02)
    # Killed once the first message is sent and recorded, while it waits 1.5 s before the second.
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    sent_before = len(telegram.messages)
    assert sent_before == 1

    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    delivered = urls(telegram.messages)
    assert len(telegram.messages) > sent_before
    assert len(delivered) == len(set(delivered)) == 30  # every item, once
    slack_urls = re.findall(r"<(https://arxiv\.org/abs/[^|]+)\|", str([p["blocks"] for p in slack.posts]))
    assert sorted(slack_urls) == sorted(delivered)


def test_a_slack_post_answered_too_late_is_looked_up_not_resent(slack: SlackStandIn, tmp_path: Path) -> None:
    slack.hold_seconds = 2.5  # Slack took the post, the answer comes after the client's timeout
    channel = SlackChannel(SlackConfig(token=slack.token, channel="C1", base_url=slack.url, timeout_seconds=1))
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [channel], digest(3), "en", Config())
        row = Ledger(store).rows("2023-W18", "slack")[("slack", "1")]
    assert len(slack.posts) == 1  # never resent blindly: the channel's history showed it arrived
    assert report.ok and report.sent == 1 and report.ambiguous == 0
    assert (row["status"], row["remote_id"]) == (SENT, slack.timeline[0][0])


def test_an_ambiguous_slack_part_that_cannot_be_looked_up_stays_pending(slack: SlackStandIn, tmp_path: Path) -> None:
    slack.hold_seconds = 2.5
    channel = SlackChannel(SlackConfig(token=slack.token, channel="C1", base_url=slack.url, timeout_seconds=1))
    channel.resolve = lambda part, since: (_ for _ in ()).throw(DeliveryError("history unreadable"))  # type: ignore[method-assign]
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [channel], digest(3), "en", Config())
        row = Ledger(store).rows("2023-W18", "slack")[("slack", "1")]
    assert len(slack.posts) == 1 and report.ambiguous == 1 and "(1 ambiguous)" in report.line()
    assert row["status"] == PENDING
    # The next run cannot read the history either: even with `skip` the part is neither guessed sent nor resent.
    skip = Config.model_validate({"delivery": {"on_ambiguous": "skip"}})
    slack.hold_seconds = 0
    with Store(tmp_path / "s.json") as store:
        [again] = deliver(Ledger(store), [channel], digest(3), "en", skip)
        assert Ledger(store).rows("2023-W18", "slack")[("slack", "1")]["status"] == PENDING
    assert not again.ok and "could not look it up" in again.line() and len(slack.posts) == 1


@pytest.mark.parametrize("policy", ["skip", "resend"])
def test_a_part_left_pending_is_looked_up_on_slack_whatever_the_policy(
    slack: SlackStandIn, tmp_path: Path, policy: str
) -> None:
    config = Config.model_validate({"delivery": {"on_ambiguous": policy}})
    channel = SlackChannel(SlackConfig(token=slack.token, channel="C1", base_url=slack.url))
    parts = channel.parts(digest(60), "en", config)  # several messages
    with Store(tmp_path / "s.json") as store:
        ledger = Ledger(store)
        # A run killed after posting part 1 and before recording it; part 2 was marked, never posted.
        ledger.record("slack", "2023-W18", "1", parts[0].hash, PENDING)
        channel.send(parts[0])
        ledger.record("slack", "2023-W18", "2", parts[1].hash, PENDING)
        [report] = deliver(ledger, [channel], digest(60), "en", config)
        rows = ledger.rows("2023-W18", "slack")
    texts = [post["text"] for post in slack.posts]
    assert texts.count(parts[0].payload["text"]) == 1  # found in the history: not resent
    assert texts.count(parts[1].payload["text"]) == 1  # not there: sent, even with on_ambiguous: skip
    assert {rows[("slack", p.id)]["status"] for p in parts} == {SENT} and report.ok


@pytest.mark.parametrize("webhook", [False, True])
def test_a_slack_post_whose_connection_dropped_is_never_resent(slack: SlackStandIn, tmp_path: Path,
                                                               webhook: bool) -> None:  # fmt: skip
    # slack_sdk's default retry handler resent a post whose connection dropped after Slack took it.
    slack.drop_posts = {1}
    settings = {"webhook_url": f"{slack.url}webhook"} if webhook else {"token": slack.token, "channel": "C1"}
    channel = SlackChannel(SlackConfig(base_url=slack.url, **settings))  # type: ignore[arg-type]
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [channel], digest(3), "en", Config())
    assert len(slack.posts) == 1
    assert report.ok if not webhook else report.ambiguous == 1  # a webhook cannot look: left pending


def test_a_part_left_pending_is_found_behind_hundreds_of_newer_messages(slack: SlackStandIn, tmp_path: Path) -> None:
    # The lookup read one page of 200: with more newer messages in the channel, the part was posted twice.
    channel = SlackChannel(SlackConfig(token=slack.token, channel="C1", base_url=slack.url))
    [part] = channel.parts(digest(3), "en", Config())
    with Store(tmp_path / "s.json") as store:
        ledger = Ledger(store)
        ledger.record("slack", "2023-W18", part.id, part.hash, PENDING)
        channel.send(part)  # it arrived; the run was killed before recording it
        slack.chatter(450)
        [report] = deliver(ledger, [channel], digest(3), "en", Config())
        row = ledger.rows("2023-W18", "slack")[("slack", part.id)]
    assert len(slack.posts) == 1 and report.ok and report.skipped == 1
    assert (row["status"], row["remote_id"]) == (SENT, slack.timeline[0][0])
    assert slack.history_calls == 3  # pages of 200, back to the pending mark and no further


def test_a_part_is_pending_only_while_a_request_may_be_on_its_way(telegram: TelegramStandIn) -> None:
    telegram.script = [1]  # a 429 with retry_after 1 s first
    marks: list[tuple[str, float]] = []
    channel = TelegramChannel(TelegramConfig(token=telegram.token, chat_id="-100", base_url=telegram.url,
                                             min_interval_seconds=0, timeout_seconds=5))  # fmt: skip
    started = time.monotonic()
    hooks = SendHooks(before_request=lambda: marks.append(("pending", time.monotonic() - started)),
                      refused=lambda reason: marks.append(("refused", time.monotonic() - started)))  # fmt: skip
    try:
        channel.send(digest_part(), hooks)
    finally:
        channel.close()
    # pending for the refused request, failed while waiting out the 429, pending again right before the next
    assert [state for state, _ in marks] == ["pending", "refused", "pending"]
    assert marks[2][1] - marks[1][1] >= 1.0
    assert len(telegram.messages) == 1


def digest_part() -> Part:
    return Part("1", "<b>Week</b>\n\nOne paper")


def test_a_telegram_connection_dropped_after_the_message_left_is_ambiguous_not_resent(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    telegram.drop_posts = {1}  # Telegram takes the message, then the connection drops without an answer
    channel = TelegramChannel(TelegramConfig(token=telegram.token, chat_id="-100", base_url=telegram.url,
                                             min_interval_seconds=0, timeout_seconds=5))  # fmt: skip
    with Store(tmp_path / "s.json") as store:
        ledger = Ledger(store)
        [report] = deliver(ledger, [channel], Digest(WEEK, (item(1),)), "en", Config())
        assert (report.sent, report.ambiguous) == (0, 1) and "(1 ambiguous)" in report.line()
        assert [row["status"] for row in ledger.rows(str(WEEK)).values()] == ["pending"]
    assert len(telegram.messages) == 1  # it arrived once; the run did not send it again


def test_a_telegram_connection_that_never_opened_is_retried_and_not_ambiguous() -> None:
    from tests.test_email import free_port

    marks: list[str] = []
    channel = TelegramChannel(TelegramConfig(token="1:x", chat_id="-1", base_url=f"http://127.0.0.1:{free_port()}/bot",
                                             max_retries=1, timeout_seconds=2))  # fmt: skip
    hooks = SendHooks(before_request=lambda: marks.append("pending"), refused=lambda reason: marks.append("refused"))
    with pytest.raises(DeliveryError, match="ConnectError") as raised:
        channel.send(digest_part(), hooks)
    channel.close()
    assert not raised.value.ambiguous and marks == ["pending", "refused", "pending"]
