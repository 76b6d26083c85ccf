"""One week to 10,000 Telegram readers and 2,000 email readers through the loopback stand-ins.

Usage: python bench/subscribers.py [--telegram N] [--email N] [--weeks W] [--operator-writes N]

Fills a store with the readers (mixed topics and languages) and a frozen 30-item digest, starts the Telegram
Bot API stand-in and an SMTP server (STARTTLS + AUTH, aiosmtpd) in a separate process with their rate limits
off, runs the real `bot digest --week 2023-W20` in a subprocess, and prints the bot's own CPU time per message
(the stand-ins' work is in their own process), wall time, peak memory, store writes and the store's size. It
then writes W-1 more weeks of the same size (digests and reader rosters, shaped as the run wrote them) and
prints the store's size after W weeks (default 52: a year; older rosters are pruned). Goals: the 12,000
deliveries' bot-side work under 60 s (5 ms a message), the store under 20 MB after 52 weeks.

With `--operator-writes N`, an operator (another process's Store on the same file, as `bot subscribers add`
is) adds N email readers one by one while the delivery runs; it prints how many of them the store kept (goal:
all, 0 lost) and the delivery's figures, to compare with a run without them (the slowdown).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.config import Config  # noqa: E402
from bot.digest import Digest, DigestItem, freeze_digest  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.subscribers import KEEP_WEEKS, Roster, Subscriber  # noqa: E402
from bot.week import Week  # noqa: E402

WEEK = Week.parse("2023-W20")
TOPICS = list(Config().topics)


def digest(week: Week, rng: random.Random) -> Digest:
    """A 30-item digest with real-sized fields, the topics spread evenly."""
    items = []
    for n in range(30):
        key = f"2305.{week.number:02d}{n:03d}"
        items.append(DigestItem(
            key=key, url=f"https://arxiv.org/abs/{key}", title=f"A paper on topic {n} with a realistic title length",
            authors=tuple(f"Author{rng.randrange(9999)} Surname" for _ in range(5)), published=week.start.isoformat(),
            categories=("cs.LG",), topics=(TOPICS[n % 4],), tags=("tag", "other"), score=5.0,
            commentary="We propose a method that does something useful; it improves results. " * 3,
            sources=("arXiv",),
        ))  # fmt: skip
    return Digest(week, tuple(items))


def fill(path: Path, telegram: int, email: int, rng: random.Random) -> None:
    """The readers and the week's frozen digest."""
    with Store(path) as store, store.batch():
        rows = []
        for i in range(telegram + email):
            kind, address = ("telegram", str(10_000_000 + i)) if i < telegram else ("email", f"r{i}@example.org")
            topics = tuple(sorted(rng.sample(TOPICS, rng.randint(1, 4)), key=TOPICS.index))
            rows.append(Subscriber(kind, address, topics, rng.choice(("ko", "en", "zh"))).to_row())
        store.table("subscribers").insert_multiple(rows)
        freeze_digest(store, digest(WEEK, rng))


def serve() -> None:
    """The stand-ins' process: prints their addresses as JSON, serves until stdin closes, prints counts."""
    import trustme
    from aiosmtpd.controller import Controller

    from bot.standin import serve as serve_http
    from tests.chat_standins import TelegramStandIn
    from tests.test_email import Mailbox, authenticate, free_port

    class Counting(Mailbox):
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            self.messages.append(1)  # count only: 2,000 parsed messages would only cost memory
            return "250 OK"

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    tmp = Path(tempfile.mkdtemp())
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    telegram, mailbox, port = TelegramStandIn(), Counting(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, authenticator=authenticate)  # fmt: skip
    controller.start()
    with serve_http(telegram.handle) as url:
        print(json.dumps({"telegram": url + "/bot", "token": telegram.token, "smtp": port, "ca": str(tmp / "ca.pem")}),
              flush=True)  # fmt: skip
        sys.stdin.read()
    controller.stop()
    counts = {"telegram": len(telegram.messages), "chats": len(telegram.chats), "email": len(mailbox.messages)}
    print(json.dumps(counts))


def operate(store_path: Path, writes: int, bot: subprocess.Popen[str]) -> tuple[int, float]:
    """Add `writes` email readers one by one as an operator would while `bot` delivers; (how many were made
    while it ran, the median time of one)."""
    from bot.subscribers import Subscribers

    during, times = 0, []
    with Store(store_path) as store:
        readers = Subscribers(store, Config())
        time.sleep(1.0)  # the delivery is under way
        for i in range(writes):
            start = time.perf_counter()
            readers.add("email", f"operator{i}@example.org", ["mllm"])
            times.append(time.perf_counter() - start)
            during += bot.poll() is None
            time.sleep(0.05)
    return during, sorted(times)[len(times) // 2]


def main() -> None:
    """Run the week, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--telegram", type=int, default=10_000)
    parser.add_argument("--email", type=int, default=2_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--operator-writes", type=int, default=0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "store.json"
        fill(store_path, args.telegram, args.email, rng)
        standins = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True, cwd=REPO)  # fmt: skip
        assert standins.stdout is not None and standins.stdin is not None
        at = json.loads(standins.stdout.readline())
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"store: {{path: {store_path}}}\nsources: {{feeds: []}}\nchannels:\n"
            f"  telegram: {{token: '{at['token']}', chat_id: -100, base_url: '{at['telegram']}',"
            " min_interval_seconds: 0, subscriber_rate: 0, chat_interval_seconds: 0}\n"
            f"  email: {{host: 127.0.0.1, port: {at['smtp']}, security: starttls, username: bot, password: s3cret,"
            f" sender: digest@example.org, ca_file: '{at['ca']}', recipients: []}}\n",
            encoding="utf-8",
        )
        size_before = store_path.stat().st_size
        start = time.perf_counter()
        # BENCH_PROFILE=FILE runs the bot under cProfile (for finding where its time goes)
        profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
        cmd = [sys.executable, *profile, "-m", "bot", "--config", str(config), "digest", "--week", str(WEEK)]
        bot = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        operator = operate(store_path, args.operator_writes, bot) if args.operator_writes else None
        stdout, stderr = bot.communicate()
        run = subprocess.CompletedProcess(cmd, bot.returncode, stdout, stderr)
        wall = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the bot only: the stand-ins are still running
        standins.stdin.close()
        counts = json.loads(standins.stdout.readlines()[-1])
        standins.wait()
        if run.returncode != 0:
            sys.exit(f"bot digest failed:\n{run.stdout}\n{run.stderr}")
        cpu = usage.ru_utime + usage.ru_stime
        messages = counts["telegram"] + counts["email"]
        size_week = store_path.stat().st_size
        with Store(store_path) as store, store.batch():
            rows = {r["channel"]: r for r in store.table("roster").all()}
            week = WEEK
            for _ in range(args.weeks - 1):
                week = week.previous()
                freeze_digest(store, digest(week, rng))
                for row in rows.values():
                    store.table("roster").insert({**row, "week": str(week)})
            Roster.prune(store, Week.containing(WEEK.start - timedelta(weeks=KEEP_WEEKS)))
        print(f"readers:               {args.telegram} Telegram, {args.email} email (mixed topics, ko/en/zh)")
        print(f"messages delivered:    {counts['telegram']} Telegram ({counts['chats']} chats), "
              f"{counts['email']} email")  # fmt: skip
        print("summary:               " + " | ".join(line.strip() for line in run.stdout.splitlines()))
        print(f"bot CPU (user+sys):    {cpu:.1f} s = {1000 * cpu / max(messages, 1):.2f} ms a message (goal < 5 ms)")
        print(f"wall:                  {wall:.1f} s (the stand-ins' answers included)")
        if operator is not None:
            with Store(store_path, read_only=True) as store:
                kept = sum(1 for r in store.table("subscribers").all() if r["address"].startswith("operator"))
            print(f"operator writes:       {operator[0]} during the delivery (of {args.operator_writes}), "
                  f"{args.operator_writes - kept} lost; {operator[1] * 1000:.0f} ms median each")  # fmt: skip
        print(f"peak memory (RSS):     {usage.ru_maxrss / 1024:.0f} MB")
        print(f"store:                 {size_before / 1e6:.1f} MB before, {size_week / 1e6:.1f} MB after the week")
        print(f"store after {args.weeks} weeks:  {store_path.stat().st_size / 1e6:.1f} MB (goal < 20 MB)")


if __name__ == "__main__":
    main()
