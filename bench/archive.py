"""Ten years of digests through `bot archive build`: build time, site size and file count.

Usage: python bench/archive.py [WEEKS] [--items N] [--no-search]

Freezes WEEKS (default 520) digests of N items (default 30; realistic lengths: a 280-character commentary,
six authors, two or three hashtags out of 60, one of the four topics) into a fresh store, then runs the real
command line `bot archive build` in a subprocess and prints wall time, CPU time, peak memory, the site's size
and file count (with and without the Pagefind index). Goals: 520 weeks in under 30 s, the site under 50 MB.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.digest import Digest, DigestItem, freeze_digest
from bot.store import Store
from bot.week import Week

TOPICS = ["llm-efficiency", "diffusion", "mllm", "quantization"]
TAGS = [f"tag{i}" for i in range(60)]
WORDS = ["model", "diffusion", "token", "cache", "attention", "sparse", "quantized", "vision", "language", "scaling"]


def digests(weeks: int, items: int, rng: random.Random) -> list[Digest]:
    """Synthetic digests, one per ISO week counting back from 2023-W20."""
    out, week, n = [], Week.parse("2023-W20"), 0
    for _ in range(weeks):
        chosen = []
        for _ in range(items):
            n += 1
            title = " ".join(rng.choice(WORDS).capitalize() for _ in range(10))
            key = f"{2000 + n // 100000}.{n % 100000:05d}"
            authors = tuple(f"Author{rng.randrange(10000)} Surname{rng.randrange(10000)}" for _ in range(6))
            chosen.append(DigestItem(
                key=key, url=f"https://arxiv.org/abs/{key}", title=title, authors=authors,
                published=week.start.isoformat(), categories=("cs.LG",), topics=(rng.choice(TOPICS),),
                tags=tuple(rng.sample(TAGS, rng.choice((2, 3)))), score=5.0,
                commentary=" ".join(rng.choice(WORDS) for _ in range(40))[:280], sources=("arXiv",),
            ))  # fmt: skip
        out.append(Digest(week, tuple(chosen)))
        week = week.previous()
    return out


def main() -> None:
    """Build the store, run the build, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weeks", type=int, nargs="?", default=520)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--no-search", action="store_true", help="skip the Pagefind index")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "store.json") as store, store.batch():
            for digest in digests(args.weeks, args.items, random.Random(7)):
                freeze_digest(store, digest)
        config = Path(tmp) / "config.yaml"
        config.write_text(f"store:\n  path: {tmp}/store.json\n", encoding="utf-8")
        site = Path(tmp) / "site"
        cmd = [sys.executable, "-m", "bot", "-q", "--config", str(config), "archive", "build", str(site)]
        cmd += ["--no-search"] if args.no_search else []
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        files = [f for f in site.rglob("*") if f.is_file()]
        index = [f for f in files if "pagefind" in f.parts]
        size, index_size = sum(f.stat().st_size for f in files), sum(f.stat().st_size for f in index)
        print(f"weeks / items:       {args.weeks} / {args.weeks * args.items}")
        print(f"store:               {(Path(tmp) / 'store.json').stat().st_size / 1e6:.1f} MB")
        print(f"build wall:          {wall:.1f} s (goal < 30 s)")
        print(f"build CPU:           {usage.ru_utime + usage.ru_stime:.1f} s (bot and Pagefind)")
        print(f"peak memory (RSS):   {usage.ru_maxrss / 1024:.0f} MB (largest child)")
        print(f"site:                {size / 1e6:.1f} MB in {len(files)} files (goal < 50 MB)")
        print(f"  of which search:   {index_size / 1e6:.1f} MB in {len(index)} files")


if __name__ == "__main__":
    main()
