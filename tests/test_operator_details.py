"""The smaller things an operator meets in the first week."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from bot.channels.email import EmailChannel
from bot.cli import cli
from bot.config import EmailConfig
from bot.week import Week

WriteConfig = Callable[..., Path]


def test_list_id_is_well_formed_for_every_sender_form() -> None:
    for sender in ("bot@example.org", "Paper Feed Bot <bot@example.org>", '"Feed, the bot" <bot@example.org>'):
        channel = EmailChannel(EmailConfig(host="h", sender=sender, recipients=["a@example.org"]))
        message = channel.message({"to": "a@example.org", "subject": "s", "text": "t", "html": "<p>t</p>",
                                   "week": "2023-W18"})  # fmt: skip
        assert message["List-Id"] == "Paper Feed Bot <paper-feed-bot.example.org>"  # RFC 2919: one angle-addr
        assert message["Message-ID"].endswith("@example.org>")


def test_a_week_in_lower_case_is_the_same_week() -> None:
    assert Week.parse("2023-w18") == Week.parse("2023-W18")


def test_bot_check_names_a_folder_the_bot_cannot_write(write_config: WriteConfig, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    write_config(f"digest:\n  notes_dir: {blocker / 'notes'}\n")
    result = CliRunner().invoke(cli, ["check", "--no-network"])
    assert result.exit_code == 1
    assert f"FAIL notes folder: {blocker} cannot be written by" in result.output
    assert "ok   store folder: " in result.output


def test_subscribers_add_warns_when_no_email_channel_is_configured(write_config: WriteConfig) -> None:
    write_config()
    result = CliRunner().invoke(cli, ["subscribers", "add", "ada@example.org"])
    assert result.exit_code == 0
    assert "no email channel is configured" in result.output
