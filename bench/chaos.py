"""Exactly-once under faults: N rounds of `bot digest` against loopback Telegram, Slack and SMTP stand-ins.

Usage: python bench/chaos.py [N] [--seed S]

Each round, in each `delivery.on_ambiguous` mode, publishes one synthetic week to Telegram, Slack (Web API),
three email recipients and readers of their own (Telegram and email) with random faults — 429s on Telegram and
Slack, a Slack answer held past the client's timeout, a Telegram or Slack connection dropped after the message
was taken, an SMTP server that answers 451 — and a SIGKILL of the bot at a random moment (two rounds in
three). Readers who refuse are there every round: Telegram chats not found (400) or blocked (403), email
addresses answered 450 (busy) or 501 (bad address); and one reader unsubscribes between the killed run and
the rerun (`bot digest` holds the store, so a /stop lands between runs). Then it reruns `bot digest` until a
run completes.

It prints per mode and channel: the parts expected (every part of the frozen digest, from the final ledger),
delivered (distinct parts received), duplicates (parts received more than once), losses (never received) and
ambiguous (parts a killed or timed-out run left pending, then skipped or resent by policy; Slack looks them up
instead); then per mode the readers: expected (every reader who does not refuse and did not unsubscribe before
the first run), reached, duplicates (a reader given the week twice), after stop (a digest to the reader who
unsubscribed, after the /stop) and refused (readers refusing, never counted as reached). Goals: 0 losses in
both modes; in `skip` 0 duplicates; in `resend` duplicates no more than the ambiguous Telegram / email parts,
and 0 on Slack; every non-refusing reader reached, none after their stop.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiosmtpd.controller import Controller  # noqa: E402

from bot.standin import ArxivStandIn, serve  # noqa: E402
from tests.chat_standins import SlackStandIn, TelegramStandIn  # noqa: E402
from tests.standins import synthetic_week, week_monday  # noqa: E402
from tests.test_email import Mailbox, free_port  # noqa: E402

WEEK = "2023-W18"
RECIPIENTS = ["a@example.org", "b@example.org", "c@example.org"]
FIGURES = ("expected", "delivered", "duplicates", "losses", "ambiguous")
READER_FIGURES = ("expected", "reached", "duplicates", "after stop", "refused")
TG_READERS, TG_MISSING, TG_BLOCKED = [str(c) for c in range(2001, 2007)], ["2101", "2102"], ["2201"]
EMAIL_READERS = ["r1@example.org", "r2@example.org", "r3@example.org"]
EMAIL_REFUSING = {"busy@example.org": "450 4.2.1 Mailbox busy", "bad@example.org": "501 5.1.3 Bad address"}


def subscribe_readers(store_path: Path) -> None:
    """Every round's readers, refusing ones included."""
    from bot.config import Config
    from bot.store import Store
    from bot.subscribers import Subscribers

    with Store(store_path) as store:
        readers = Subscribers(store, Config())
        for chat in TG_READERS + TG_MISSING + TG_BLOCKED:
            readers.add("telegram", chat)
        for address in EMAIL_READERS + list(EMAIL_REFUSING):
            readers.add("email", address)


def unsubscribe(store_path: Path, reader: str) -> None:
    """A reader's /stop (or `bot subscribers remove`), between two runs."""
    from bot.config import Config
    from bot.store import Store
    from bot.subscribers import Subscribers, parse_reader

    with Store(store_path) as store:
        Subscribers(store, Config()).remove(*parse_reader(reader))


def run_round(mode: str, rng: random.Random, arxiv_url: str) -> dict[str, Counter[str]]:
    """One publish with faults and reruns; per channel: expected, delivered, duplicates, losses, ambiguous;
    under "readers": expected, reached, duplicates, after stop, refused."""
    telegram, slack, mailbox = TelegramStandIn(), SlackStandIn(), Mailbox()
    telegram.script = [1] * rng.randint(0, 2)
    telegram.missing.update(TG_MISSING)
    telegram.blocked.update(TG_BLOCKED)
    if rng.random() < 0.3:  # a connection dropped after Telegram took the message
        telegram.drop_posts = {rng.randint(1, 3)}
    slack.script = [1] * rng.randint(0, 1)
    if rng.random() < 0.5:
        slack.hold_seconds, slack.hold_posts = 2.5, {rng.randint(1, 2)}
    elif rng.random() < 0.5:  # a connection dropped after Slack took the post
        slack.drop_posts = {rng.randint(1, 2)}
    mailbox.busy = rng.randint(0, 1)
    mailbox.answers.update(EMAIL_REFUSING)
    stopper = rng.choice([f"telegram:{c}" for c in TG_READERS] + [f"email:{a}" for a in EMAIL_READERS])
    received_before_stop = 0
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with serve(telegram.handle) as tg, serve(slack.handle) as sl, tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.yaml"
            config.write_text(
                f"store: {{path: {tmp}/store.json}}\n"
                f"sources:\n  arxiv: {{api_url: '{arxiv_url}', delay_seconds: 0}}\n  feeds: []\n"
                f"delivery: {{on_ambiguous: {mode}}}\n"
                "channels:\n"
                f"  telegram: {{token: '{telegram.token}', chat_id: 1, base_url: '{tg}/bot', "
                "min_interval_seconds: 0.2}\n"
                f"  slack: {{token: '{slack.token}', channel: C1, base_url: '{sl}/api/', timeout_seconds: 1}}\n"
                f"  email: {{host: 127.0.0.1, port: {port}, security: none, sender: bot@example.org, "
                f"recipients: {json.dumps(RECIPIENTS)}, backoff_seconds: 0}}\n"
            )
            store = Path(tmp) / "store.json"
            subscribe_readers(store)
            command = [sys.executable, "-m", "bot", "--config", str(config), "digest", "--week", WEEK]
            if rng.random() < 2 / 3:  # a SIGKILL at a random moment of the first run
                bot = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.5, 4.0))
                bot.send_signal(signal.SIGKILL)
                bot.wait()
            received_before_stop = digests_of(telegram, mailbox)[stopper]
            unsubscribe(store, stopper)
            for _ in range(6):  # rerun until a run completes
                if subprocess.run(command, cwd=REPO, capture_output=True, text=True).returncode == 0:
                    break
            expected, ambiguous = parts_and_ambiguous(store)
    finally:
        controller.stop()
    digests = digests_of(telegram, mailbox)
    wanted = [f"telegram:{c}" for c in TG_READERS] + [f"email:{a}" for a in EMAIL_READERS]
    # The reader who stopped was owed the week only if the killed run had reached them already.
    owed = [r for r in wanted if r != stopper or received_before_stop]
    refusing = [f"telegram:{c}" for c in TG_MISSING + TG_BLOCKED] + [f"email:{a}" for a in EMAIL_REFUSING]
    readers = Counter({"expected": len(owed), "reached": sum(1 for r in owed if digests[r]),
                       "duplicates": sum(max(0, digests[r] - 1) for r in wanted),
                       "after stop": digests[stopper] - received_before_stop,
                       "refused": sum(1 for r in refusing if not digests[r])})  # fmt: skip
    channel_messages = {"1"}  # the configured chat; the others are readers
    received = {
        "telegram": Counter(m for chat, texts in telegram.chats.items() if chat in channel_messages for m in texts),
        "slack": Counter(json.dumps(post.get("blocks"), sort_keys=True) for post in slack.posts),
        "email": Counter(rcpt for rcpts, _ in mailbox.messages for rcpt in rcpts if rcpt in RECIPIENTS),
    }
    figures: dict[str, Counter[str]] = {}
    for channel, counts in received.items():
        figures[channel] = Counter(
            expected=expected[channel], delivered=len(counts), ambiguous=ambiguous[channel],
            duplicates=sum(n - 1 for n in counts.values()), losses=max(0, expected[channel] - len(counts)),
        )  # fmt: skip
    figures["readers"] = readers
    return figures


def digests_of(telegram: TelegramStandIn, mailbox: Mailbox) -> Counter[str]:
    """How many times each reader received the week (a Telegram digest's first message starts with its label)."""
    from bot.week import Week

    label = Week.parse(WEEK).label("ko")
    counts: Counter[str] = Counter()
    for chat, texts in telegram.chats.items():
        counts[f"telegram:{chat}"] += sum(text.startswith(label) for text in texts)
    for rcpts, _ in mailbox.messages:
        counts.update(f"email:{rcpt}" for rcpt in rcpts if rcpt not in RECIPIENTS)
    return counts


def parts_and_ambiguous(store: Path) -> tuple[Counter[str], Counter[str]]:
    """Parts per channel in the ledger, and those recorded as ambiguous (skipped or resent after pending)."""
    data = json.loads(store.read_text(encoding="utf-8"))
    expected: Counter[str] = Counter()
    ambiguous: Counter[str] = Counter()
    for row in data.get("deliveries", {}).values():
        expected[row["channel"]] += 1
        ambiguous[row["channel"]] += row.get("error", "").startswith("ambiguous") or row["status"] == "pending"
    return expected, ambiguous


def main() -> None:
    """Run the rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rounds", type=int, nargs="?", default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    arxiv = ArxivStandIn(entries=synthetic_week(300, week_monday(WEEK)))
    with serve(arxiv.handle) as base:
        for mode in ("skip", "resend"):
            totals: dict[str, Counter[str]] = {}
            for _ in range(args.rounds):
                for channel, figures in run_round(mode, rng, f"{base}/api/query").items():
                    totals.setdefault(channel, Counter()).update(figures)
            print(f"on_ambiguous: {mode} ({args.rounds} rounds)")
            for channel, t in totals.items():
                names = READER_FIGURES if channel == "readers" else FIGURES
                numbers = "  ".join(f"{name} {t[name]:4d}" for name in names)
                print(f"  {channel:9} {numbers}")


if __name__ == "__main__":
    main()
