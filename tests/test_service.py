"""`bot run` as a user runs it: a subprocess against loopback arXiv and Telegram stand-ins."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import ScheduleEntry
from bot.service import due_week, publish_time
from bot.week import Week
from tests.chat_standins import TelegramStandIn
from tests.standins import ArxivStandIn, synthetic_week, week_monday

WriteConfig = Callable[..., Path]
TUESDAY_3 = ScheduleEntry(day_of_week="tue", hour=3)


def test_due_week_follows_the_publish_time() -> None:
    assert publish_time(Week.parse("2023-W18"), TUESDAY_3) == datetime(2023, 5, 9, 3, tzinfo=UTC)
    assert due_week(datetime(2023, 5, 9, 3, 0, tzinfo=UTC), TUESDAY_3) == Week.parse("2023-W18")
    assert due_week(datetime(2023, 5, 9, 2, 59, tzinfo=UTC), TUESDAY_3) == Week.parse("2023-W17")
    assert due_week(datetime(2023, 5, 8, 12, tzinfo=UTC), TUESDAY_3) == Week.parse("2023-W17")


def start(config: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "run"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def due_week_on_telegram(arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn,
                         chat_id: int, extra: str) -> tuple[Week, Path]:  # fmt: skip
    """The week due now, 100 papers of it on the arXiv stand-in, and a config delivering to one Telegram chat."""
    due = due_week(datetime.now(UTC), TUESDAY_3)
    arxiv_api.entries = synthetic_week(100, week_monday(str(due)))
    config = write_config(
        f"channels:\n  telegram: {{token: '{telegram.token}', chat_id: {chat_id}, base_url: '{telegram.url}',"
        f" min_interval_seconds: 0, subscriptions: false}}\n{extra}"
    )
    return due, config


def test_run_catches_up_once_refuses_a_second_instance_and_stops_on_sigterm(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn, tmp_path: Path
) -> None:
    due, config = due_week_on_telegram(arxiv_api, write_config, telegram, 1,
                                       f"archive:\n  out_dir: {tmp_path / 'site'}\n")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}

    service = start(config, env, tmp_path)
    wait_for(lambda: len(telegram.messages) == 1)
    assert telegram.messages[0].startswith(due.label("ko"))

    second = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "run"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=20)  # fmt: skip
    assert second.returncode == 1
    assert f"store {tmp_path / 'store.json'} is in use by another bot process (pid {service.pid})" in second.stderr

    time.sleep(0.5)  # let the catch-up job finish its ledger writes
    started = time.monotonic()
    service.send_signal(signal.SIGTERM)
    assert service.wait(timeout=15) == 0
    assert time.monotonic() - started < 15
    log = service.stderr.read() if service.stderr else ""
    assert "next publish:" in log and f"publish {due}: done" in log
    assert "archive: 1 week, " in log  # rebuilt after the publish
    assert due.label("ko") in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert telegram.token not in log  # secrets never logged
    assert "getUpdates" not in telegram.calls  # subscriptions off: the bot does not answer readers

    restarted = start(config, env, tmp_path)
    time.sleep(3)  # the catch-up job runs at once and finds everything delivered
    restarted.send_signal(signal.SIGINT)
    assert restarted.wait(timeout=15) == 0
    assert len(telegram.messages) == 1  # a restart sends nothing new
    assert f"publish {due}: done" in (restarted.stderr.read() if restarted.stderr else "")


def test_weeks_left_behind_are_published_too(tmp_path: Path) -> None:
    from bot.service import weeks_to_publish
    from bot.store import Store

    with Store(tmp_path / "s.json") as store:
        assert weeks_to_publish(store, Week.parse("2023-W20")) == [Week.parse("2023-W20")]  # a new store
        store.table("digests").insert({"week": "2023-W17", "items": []})
        assert [str(w) for w in weeks_to_publish(store, Week.parse("2023-W20"))] == [
            "2023-W17", "2023-W18", "2023-W19", "2023-W20"]  # fmt: skip
        behind = weeks_to_publish(store, Week.parse("2024-W30"))
        assert (len(behind), str(behind[0]), str(behind[-1])) == (12, "2024-W19", "2024-W30")  # 12 at most


def test_a_failed_publish_is_retried_with_backoff(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn, tmp_path: Path
) -> None:
    due = due_week(datetime.now(UTC), TUESDAY_3)
    arxiv_api.entries = synthetic_week(40, week_monday(str(due)))
    arxiv_api.script = [503, 503, 503]  # an arXiv outage at publish time: every try of the first run fails
    config = write_config(
        f"channels:\n  telegram: {{token: '{telegram.token}', chat_id: 1, base_url: '{telegram.url}',"
        " min_interval_seconds: 0}\nschedule:\n  retry_seconds: 1\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    service = start(config, env, tmp_path)
    try:
        wait_for(lambda: len(telegram.messages) == 1)  # the retry, a second later, publishes the week
        store = tmp_path / "store.json"
        wait_for(lambda: '"status":"sent"' in store.read_text(encoding="utf-8"))  # and the job has finished
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == 0
    log = service.stderr.read() if service.stderr else ""
    assert "publish failed (1 in a row); retrying in 1 s" in log
    assert "publish succeeded after 1 failed attempt(s)" in log


def test_operators_commands_work_while_bot_run_delivers(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn, tmp_path: Path
) -> None:
    import json

    due, config = due_week_on_telegram(arxiv_api, write_config, telegram, -100,
                                       f"digest:\n  notes_dir: {tmp_path / 'notes'}\n"
                                       f"archive:\n  out_dir: {tmp_path / 'site'}\n")  # fmt: skip
    telegram.hold = 4.0  # the channel's message takes a while: the operator acts during the delivery
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    service = start(config, env, tmp_path)
    store = tmp_path / "store.json"

    def bot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=30)  # fmt: skip

    try:
        wait_for(lambda: store.exists() and '"pending"' in store.read_text(encoding="utf-8"), 60)
        started = time.monotonic()
        added = bot("subscribers", "add", "ada@example.org", "--topics", "mllm")
        listed = bot("subscribers", "list")
        status = bot("status")
        backfill = bot("digest", "--week", str(due.previous()), "--dry-run")
        notes = bot("notes", "--week", str(due))
        assert time.monotonic() - started < 25
        wait_for(lambda: len(telegram.messages) == 1, 30)
        wait_for(lambda: '"status":"sent"' in store.read_text(encoding="utf-8"), 30)
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == 0
    for result in (added, listed, status, backfill, notes):
        assert result.returncode == 0, (result.args, result.stderr)
    assert "email:ada@example.org" in listed.stdout
    data = json.loads(store.read_text(encoding="utf-8"))
    assert [r["address"] for r in data["subscribers"].values()] == ["ada@example.org"]  # the operator's write
    assert [r["status"] for r in data["deliveries"].values()] == ["sent"]  # and the service's, both kept
    assert (tmp_path / "notes" / f"{due}.yaml").is_file()
