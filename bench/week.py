"""A big real week through the real command line: requests, CPU, wall time, peak memory, `bot --help` time.

Usage: python bench/week.py [N] [--delay SECONDS] [--data DIR] [--runs R] [--instructions]

Serves N papers (default 5000) built from the real arXiv records of `week-2023-W20.jsonl` (repeated with new
ids) from the loopback arXiv stand-in and runs `bot digest --week 2023-W20 --dry-run --format json` in a
subprocess with the default page size (2000) and no curated feeds. CPU is the child's user+sys time, which
leaves out the mandated waits between requests (they sleep). This machine's CPU figures vary by ±20% from run
to run: `--runs R` runs the digest R times and prints the median and the fastest, and `--instructions` runs it
once more under valgrind's callgrind and prints the instructions it executed, which repeat to within 0.1%.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child_usage() -> tuple[float, int]:
    """CPU seconds (user+sys) and peak RSS in KiB of the children waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=5000, help="papers in the week")
    parser.add_argument("--delay", type=float, default=3.0, help="seconds between arXiv requests (default 3)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="folder of the records")
    parser.add_argument("--runs", type=int, default=1, help="digest runs (the median and the fastest are printed)")
    parser.add_argument("--instructions", action="store_true", help="count the instructions of one run (valgrind)")
    args = parser.parse_args()

    records = args.data / "week-2023-W20.jsonl"
    standin = subprocess.Popen(
        [sys.executable, "-m", "tests.standins", "2023-W20", "--records", str(records), "--papers", str(args.n)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert standin.stdout is not None and standin.stdin is not None
    url = standin.stdout.readline().strip()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"sources:\n  arxiv:\n    api_url: {url}/api/query\n    delay_seconds: {args.delay}\n  feeds: []\n"
            f"store:\n  path: {tmp}/store.json\n"
        )
        cmd = [sys.executable, "-m", "bot", "--config", str(config), "digest", "--week", "2023-W20"]
        cpus, walls = [], []
        for _ in range(args.runs):
            cpu0, _ = child_usage()
            start = time.perf_counter()
            out = subprocess.run([*cmd, "--dry-run", "--format", "json"], capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - start)
            cpus.append(child_usage()[0] - cpu0)
        peak_kib = child_usage()[1]
        instructions = count_instructions([*cmd, "--dry-run", "--format", "json"]) if args.instructions else None
    standin.stdin.close()
    requests = int(standin.stdout.read().strip() or 0)
    standin.wait()
    items = len(json.loads(out.stdout)["items"])

    help_runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, check=True)
        help_runs.append(time.perf_counter() - start)

    print(f"papers in week:      {args.n}")
    print(f"digest items:        {items}")
    print(f"arXiv requests:      {requests // (args.runs + args.instructions)} a run")
    spread = f" (median of {args.runs}; fastest {min(cpus):.2f} s)" if args.runs > 1 else ""
    print(f"CPU (user+sys):      {statistics.median(cpus):.2f} s{spread}")
    print(f"wall:                {statistics.median(walls):.2f} s (includes {args.delay:g} s between requests)")
    print(f"peak memory (RSS):   {peak_kib / 1024:.0f} MB")
    print(f"bot --help (best/5): {min(help_runs):.3f} s")
    if instructions is not None:
        print(f"instructions:        {instructions / 1e9:.2f} G (one run under callgrind)")


def count_instructions(cmd: list[str]) -> int:
    """The instructions one run of the command executes, by valgrind's callgrind (repeatable, unlike seconds)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("--instructions needs valgrind (apt install valgrind)")
    run = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd]
    out = subprocess.run(run, capture_output=True, text=True, check=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    assert found, out.stderr[-500:]
    return int(found.group(1).replace(",", ""))


if __name__ == "__main__":
    main()
