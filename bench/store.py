"""The store after a year of service: file size, open time and the time of one ledger write.

Usage: python bench/store.py [WEEKS]   (default 52)

Each week: a frozen 30-item digest, its featured rows, and a sent ledger row for every part on Telegram,
Slack and two email recipients — written through the same calls the bot makes.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bot.digest import Digest, freeze_digest
from bot.ledger import SENT, Ledger
from bot.store import Store
from bot.week import Week

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.parts import realistic_digest


def main() -> None:
    """Fill a store week by week and print its figures."""
    weeks = int(sys.argv[1]) if len(sys.argv) > 1 else 52
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.json"
        week = Week.parse("2023-W01")
        writes: list[float] = []
        with Store(path) as store:
            ledger = Ledger(store)
            for number in range(weeks):
                base = realistic_digest(30)
                items = tuple(replace(item, key=f"{number:04d}.{n:05d}") for n, item in enumerate(base.items))
                digest = Digest(week, items)
                freeze_digest(store, digest)
                for channel, parts in (("telegram", 6), ("slack", 3), ("email", 2)):
                    for part in range(parts):
                        start = time.perf_counter()
                        ledger.record(channel, str(week), str(part), "0" * 16, SENT, remote_id=str(part))
                        writes.append(time.perf_counter() - start)
                week = Week.containing(week.end)
        start = time.perf_counter()
        with Store(path, read_only=True) as store:
            store.table("digests").all()
        opened = time.perf_counter() - start
        size = path.stat().st_size
    print(f"weeks:                 {weeks}")
    print(f"store size:            {size / 1024:.0f} KiB ({size / weeks / 1024:.1f} KiB a week)")
    print(f"open + read:           {opened * 1000:.0f} ms")
    median, worst = sorted(writes)[len(writes) // 2] * 1000, max(writes) * 1000
    print(f"one ledger write:      {median:.1f} ms median, {worst:.1f} ms max")


if __name__ == "__main__":
    main()
