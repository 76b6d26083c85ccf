"""Topic and hashtag quality of `bot classify` against a human curator's labels.

Usage: python bench/relevance.py [--config PATH] [--data DIR] [--errors TOPIC]

Runs `bot classify` on topics-dev.jsonl (title + abstract) and topics-dev-titles.jsonl (titles only) and
prints per topic precision / recall / F1, and hashtag precision / recall against `human_tags`
(`_` and `-` count as the same).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {"title+abstract": "topics-dev.jsonl", "title only": "topics-dev-titles.jsonl"}


def classify(path: Path, config: str | None) -> list[dict[str, object]]:
    """Run the real CLI over a file and read its JSON lines back."""
    cmd = [sys.executable, "-m", "bot", *(["--config", config] if config else []), "classify", str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts (0 where undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def norm(tag: str) -> str:
    """Hashtags compare with `_` and `-` as one."""
    return tag.lower().replace("-", "_")


def report(name: str, rows: list[dict[str, object]], topics: list[str], errors: str | None) -> None:
    """Print one file's figures."""
    print(f"\n{name}: {len(rows)} papers")
    print(f"  {'topic':16} {'gold':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for topic in topics:
        gold = [topic in r["gold_topics"] for r in rows]  # type: ignore[operator]
        pred = [topic in r["topics"] for r in rows]  # type: ignore[operator]
        tp = sum(g and p for g, p in zip(gold, pred, strict=True))
        fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
        fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
        p, r, f = prf(tp, fp, fn)
        print(f"  {topic:16} {sum(gold):5d} {p:6.3f} {r:6.3f} {f:6.3f}")
        if errors == topic:
            for row, g, pr in zip(rows, gold, pred, strict=True):
                if g != pr:
                    print(f"    {'FN' if g else 'FP'} {row['title']!s:.100} {row['scores']}")
    tp = fp = fn = 0
    for row in rows:
        human = {norm(t) for t in row["human_tags"]}  # type: ignore[attr-defined]
        ours = {norm(t) for t in row["tags"]}  # type: ignore[attr-defined]
        tp, fp, fn = tp + len(ours & human), fp + len(ours - human), fn + len(human - ours)
    p, r, _ = prf(tp, fp, fn)
    print(f"  hashtags: precision {p:.3f} recall {r:.3f} ({tp + fp} emitted)")


def main() -> None:
    """Parse arguments and print both reports."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="config file (default: the repository's config.yaml)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the labelled files")
    parser.add_argument("--errors", metavar="TOPIC", help="list the misclassified papers of one topic")
    args = parser.parse_args()
    config = args.config or str(Path(__file__).resolve().parents[1] / "config.yaml")
    topics = ["llm-efficiency", "diffusion", "mllm", "quantization"]
    for name, filename in FILES.items():
        report(name, classify(args.data / filename, config), topics, args.errors)


if __name__ == "__main__":
    main()
