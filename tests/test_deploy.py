"""The deploy files work as their comments say: channel blocks to uncomment, compose, systemd unit."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import parse_config

REPO = Path(__file__).resolve().parents[1]


def env_example() -> dict[str, str]:
    lines = (REPO / "deploy" / ".env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def uncommented_channels() -> str:
    """config.yaml with its commented `channels:` block uncommented in place of `channels: {}`."""
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    block = re.search(r"^# channels:\n(?:#   .*\n)+", text, re.MULTILINE)
    assert block is not None, "config.yaml has no commented channels block"
    channels = "".join(line[2:] + "\n" for line in block.group(0).splitlines())
    return text.replace("channels: {}", "", 1).replace(block.group(0), channels)


def test_the_channel_blocks_of_config_yaml_work_with_the_env_example(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env_example().items():
        monkeypatch.setenv(name, value)
    config = parse_config(uncommented_channels(), "config.yaml")
    assert config.channels.telegram and config.channels.telegram.token == env_example()["TELEGRAM_TOKEN"]
    assert config.channels.slack and config.channels.slack.token == env_example()["SLACK_TOKEN"]
    assert config.channels.email and config.channels.email.password == env_example()["SMTP_PASSWORD"]
    webhook = uncommented_channels().replace('  slack: {token: "${SLACK_TOKEN}", channel: "C0123456789"}\n', "")
    webhook = webhook.replace("  # or a Slack incoming webhook instead: slack:", "  slack:")
    slack = parse_config(webhook, "config.yaml").channels.slack
    assert slack is not None and slack.webhook_url == env_example()["SLACK_WEBHOOK_URL"]


def test_every_env_example_variable_is_used_by_config_yaml() -> None:
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    assert [name for name in env_example() if "${" + name + "}" not in text] == []


def test_compose_mounts_an_untracked_config_and_checks_health() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["paper-feed-bot"]
    assert "./config.yaml:/config/config.yaml:ro" in service["volumes"]
    assert service["healthcheck"]["test"][:2] == ["CMD", "bot"] and "status" in service["healthcheck"]["test"]
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "deploy/.env" in ignored and "deploy/config.yaml" in ignored
    assert "HEALTHCHECK" in (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")


# Only where systemd's own checker is installed (Debian's systemd package has it; containers may not).
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (REPO / "deploy" / "paper-feed-bot.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/paper-feed-bot/bin/bot run" in unit
    # systemd-analyze checks that the programs exist: point them at this environment's bot.
    bot = shutil.which("bot") or str(Path(sys.executable).with_name("bot"))
    (tmp_path / "paper-feed-bot.service").write_text(unit.replace("/opt/paper-feed-bot/bin/bot", bot))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "paper-feed-bot.service")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr


def _env_of(dockerfile: str, name: str) -> str:
    line = next(line for line in dockerfile.splitlines() if line.startswith("ENV ") and f"{name}=" in line)
    return line.split(f"{name}=", 1)[1].split()[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: the read-only mount cannot be shown")
def test_without_the_state_dir_a_read_only_config_folder_fails_bot_check(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    shutil.copy(REPO / "config.yaml", config_dir / "config.yaml")
    config_dir.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_STATE_DIR",)}
    env["BOT_CONFIG"] = str(config_dir / "config.yaml")
    result = subprocess.run([sys.executable, "-m", "bot", "check", "--no-network"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    config_dir.chmod(0o755)
    assert result.returncode == 1 and "FAIL store folder" in result.stdout


def test_the_images_config_made_as_the_readme_says_passes_bot_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README: copy config.yaml unchanged, mount it read-only at /config; the image sets BOT_STATE_DIR.
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    unit = (REPO / "deploy" / "paper-feed-bot.service").read_text(encoding="utf-8")
    assert _env_of(dockerfile, "BOT_STATE_DIR") == "/data"
    assert "BOT_STATE_DIR=/var/lib/paper-feed-bot" in unit and "StateDirectory=paper-feed-bot" in unit
    config_dir, data = tmp_path / "config", tmp_path / "data"
    config_dir.mkdir()
    data.mkdir()
    shutil.copy(REPO / "config.yaml", config_dir / "config.yaml")
    env = {**os.environ, "BOT_CONFIG": str(config_dir / "config.yaml"), "BOT_STATE_DIR": str(data)}
    result = subprocess.run([sys.executable, "-m", "bot", "check", "--no-network"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok   store folder: {data} writable by" in result.stdout
    from bot.config import load_config

    monkeypatch.setenv("BOT_STATE_DIR", str(data))
    assert Path(load_config(str(config_dir / "config.yaml")).store.path).parent == data  # not the config's folder
