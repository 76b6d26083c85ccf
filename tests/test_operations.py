"""`bot check` and `bot status` against the loopback stand-ins, and secret redaction in logs."""

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import Redact, cli
from bot.redaction import register
from tests.chat_standins import SlackStandIn, TelegramStandIn
from tests.standins import ArxivStandIn, synthetic_week, week_monday

WriteConfig = Callable[..., Path]


def channels(tg: TelegramStandIn, sl: SlackStandIn, token: str) -> str:
    return (
        f"channels:\n  telegram: {{token: '{token}', chat_id: 1, base_url: '{tg.url}', min_interval_seconds: 0}}\n"
        f"  slack: {{token: '{sl.token}', channel: C1, base_url: '{sl.url}'}}\n"
    )


def test_check_passes_without_posting(arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn,
                                      slack: SlackStandIn) -> None:  # fmt: skip
    arxiv_api.entries = synthetic_week(3, week_monday("2023-W18"))
    write_config(channels(telegram, slack, telegram.token))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok   config: ")
    assert "ok   arxiv: " in result.output
    assert "ok   telegram: bot @feed_bot, chat 1" in lines
    assert "ok   slack: team T, user bot, channel C1" in lines
    assert telegram.messages == [] and slack.posts == []
    assert arxiv_api.requests[0]["max_results"] == ["1"]


def test_check_fails_on_a_bad_token_and_an_unset_variable(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn, slack: SlackStandIn,
    monkeypatch: object,
) -> None:  # fmt: skip
    arxiv_api.entries = synthetic_week(3, week_monday("2023-W18"))
    write_config(channels(telegram, slack, "999:WRONG"))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "FAIL telegram: getMe failed" in result.output
    assert "Error: 1 check(s) failed" in result.output
    write_config(channels(telegram, slack, "${UNSET_TOKEN_FOR_TEST}"))
    offline = CliRunner().invoke(cli, ["check", "--no-network"])
    assert offline.exit_code == 1
    assert "FAIL config: channels.telegram.token: environment variable UNSET_TOKEN_FOR_TEST is not set (" in (
        offline.output
    )


def test_check_lists_every_config_problem_on_its_own_line(write_config: WriteConfig) -> None:
    path = write_config(
        "schedule:\n  publish: {day_of_week: tusday, timezone: Mars/Olympus}\n"
        "topics:\n  t: {cues: {'(bad': 1}}\n"
        "store:\n  path: ${UNSET_DIR_FOR_TEST}/x.json\n"
    )
    result = CliRunner().invoke(cli, ["check", "--no-network"])
    assert result.exit_code == 1
    fails = [line for line in result.output.splitlines() if line.startswith("FAIL config: ")]
    assert len(fails) == 4 and all(line.endswith(f"({path})") for line in fails)
    assert any("schedule.publish.timezone" in line for line in fails)
    assert any("schedule.publish.day_of_week: 'tusday'" in line for line in fails)  # both, not one of the two
    assert any("topics.t.cues" in line for line in fails)
    assert any("store.path: environment variable UNSET_DIR_FOR_TEST" in line for line in fails)
    for command in (["status"], ["digest", "--dry-run"], ["run"]):  # the same problems end every command cleanly
        other = CliRunner().invoke(cli, command)
        assert other.exit_code == 1 and other.output.startswith("Error: ") and "Traceback" not in other.output
        assert "schedule.publish.timezone" in other.output


def test_status_shows_digests_ledger_and_next_runs(arxiv_api: ArxivStandIn, write_config: WriteConfig,
                                                   telegram: TelegramStandIn, slack: SlackStandIn) -> None:  # fmt: skip
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W18"))
    write_config(channels(telegram, slack, telegram.token))
    assert "no digest published yet" in CliRunner().invoke(cli, ["status"]).output
    assert CliRunner().invoke(cli, ["digest", "--week", "2023-W18"]).exit_code == 0
    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 0
    assert "2023-W18: 4 items — telegram 1 sent; slack 1 sent" in status.output
    assert "next publish: " in status.output


def test_status_exits_1_when_the_last_publish_failed(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn, slack: SlackStandIn
) -> None:
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W18"))
    write_config(channels(telegram, slack, "999:WRONG"))
    assert CliRunner().invoke(cli, ["digest", "--week", "2023-W18"]).exit_code == 1
    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 1  # the compose healthcheck turns this into "unhealthy"
    assert "Error: the last publish (2023-W18) failed on telegram" in status.output
    write_config(channels(telegram, slack, telegram.token))
    assert CliRunner().invoke(cli, ["digest", "--week", "2023-W18"]).exit_code == 0
    assert CliRunner().invoke(cli, ["status"]).exit_code == 0


def test_secrets_are_redacted_from_log_records() -> None:
    record = logging.LogRecord("httpx", logging.INFO, "", 0, "POST %s", ("https://x/bot123:SECRET/sendMessage",), None)
    register(["123:SECRET"])
    Redact().filter(record)
    assert record.getMessage() == "POST https://x/bot***/sendMessage"


def test_a_failed_publish_alerts_the_operator(arxiv_api: ArxivStandIn, write_config: WriteConfig,
                                              telegram: TelegramStandIn, tmp_path: Path) -> None:  # fmt: skip
    from datetime import UTC, datetime

    from bot.config import load_config
    from bot.pipeline import open_store
    from bot.service import Service, due_week

    config_path = write_config(
        f"channels:\n  telegram: {{token: '{telegram.token}', chat_id: 1, base_url: '{telegram.url}',"
        " min_interval_seconds: 0}\n"
        "  slack: {token: xoxb-x, channel: C1, base_url: 'http://127.0.0.1:9/api/', max_retries: 0}\n"
        "alerts: {telegram_chat_id: 999}\n"
    )
    config = load_config(str(config_path))
    arxiv_api.entries = synthetic_week(40, week_monday(str(due_week(datetime.now(UTC), config.schedule.publish))))
    with open_store(config) as store:
        Service(config, store).publish_due()
    _digest, alert = telegram.messages
    assert "slack: FAILED" in alert and alert.startswith("Paper Feed Bot: publishing ")
    assert "cannot reach Slack" in alert


def test_no_output_of_a_failing_config_shows_a_secret(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {"TG_SECRET": "987654:SECRET-TG", "SLACK_SECRET": "xoxb-SECRET-SLACK", "SMTP_SECRET": "SECRET-SMTP"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    write_config(
        "channels:\n  telegram: '${TG_SECRET}'\n"  # a mapping expected: the error must not echo the value
        "  slack: {token: '${SLACK_SECRET}', channel: 7, colour: red}\n"
        "  email: {host: h, sender: s, recipients: r, password: '${SMTP_SECRET}', port: '${SMTP_SECRET}'}\n"
    )
    outputs = []
    for command in (["check", "--no-network"], ["check"], ["digest", "--dry-run"], ["status"], ["-v", "run"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1
        outputs.append(result.output)
    assert all("SECRET" not in output for output in outputs), outputs
