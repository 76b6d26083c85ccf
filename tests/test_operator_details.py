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


def test_demo_keep_freezes_the_recorded_week_for_offline_trials(write_config: WriteConfig, tmp_path: Path) -> None:
    write_config(f"digest:\n  notes_dir: {tmp_path / 'notes'}\n")
    kept = CliRunner().invoke(cli, ["demo", "--keep"])
    assert kept.exit_code == 0 and "kept 2023-W20" in kept.output
    status = CliRunner().invoke(cli, ["status"])
    assert "2023-W20: " in status.output and "demo week (bot demo --keep), never delivered" in status.output
    assert CliRunner().invoke(cli, ["notes", "--week", "2023-W20"]).exit_code == 0
    site = CliRunner().invoke(cli, ["archive", "build", str(tmp_path / "site"), "--no-search"])
    assert site.exit_code == 0 and "1 week, " in site.output
    from bot.service import weeks_to_publish
    from bot.store import Store

    with Store(tmp_path / "store.json") as store:  # the service's catch-up does not start from the demo week
        assert weeks_to_publish(store, Week.parse("2026-W48")) == [Week.parse("2026-W48")]
    write_config("channels:\n  telegram: {token: '1:x', chat_id: 1, base_url: 'http://127.0.0.1:9/bot'}\n")
    refused = CliRunner().invoke(cli, ["digest", "--week", "2023-W20"])
    assert refused.exit_code == 1 and "holds the demo digest" in refused.output  # never delivered


def test_the_archive_index_names_its_tags_and_says_search_needs_http(tmp_path: Path) -> None:
    from bot.archive import build_archive
    from bot.config import Config
    from bot.digest import Digest, freeze_digest
    from bot.store import Store
    from tests.test_delivery import WEEK, item

    with Store(tmp_path / "s.json") as store:
        freeze_digest(store, Digest(WEEK, (item(1), item(2))))
        build_archive(store, Config(), tmp_path / "site", search=False)
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "<h2>#</h2>" not in index and "<h2>Hashtags</h2>" in index
    assert '<span class="tag"><a href="tags/ddpm.html">#ddpm</a>&nbsp;<span class="meta">2</span></span>' in index
    assert 'location.protocol === "file:"' in index  # no search box that spins forever from disk


def test_a_paper_without_authors_shows_none_in_every_format_and_language(write_config: WriteConfig) -> None:
    import json

    write_config()
    as_json = CliRunner().invoke(cli, ["demo", "--format", "json"])
    assert as_json.exit_code == 0 and all(item["authors"] == [] for item in json.loads(as_json.output)["items"])
    for lang in ("ko", "en", "zh"):
        for fmt in ("text", "markdown"):
            out = CliRunner().invoke(cli, ["demo", "--format", fmt, "--lang", lang]).output
            assert "not recorded" not in out and "()" not in out


def test_titles_lose_a_trailing_period_but_not_an_ellipsis() -> None:
    from datetime import UTC, datetime

    from bot.paper import Paper

    def title(text: str) -> str:
        return Paper(key="2305.01115", title=text, authors=(), abstract="", url="https://arxiv.org/abs/2305.01115",
                     published=datetime(2023, 5, 2, tzinfo=UTC)).title  # fmt: skip

    assert title("Pruning for Video Diffusion Models.") == "Pruning for Video Diffusion Models"
    assert title("Wait for it...") == "Wait for it..."
