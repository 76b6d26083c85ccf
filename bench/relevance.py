"""Topic quality of `bot classify` against the charter's labels, and hashtag quality against a curator's tags.

Usage: python bench/relevance.py [--config PATH] [--data DIR] [--errors TOPIC]

Runs `bot classify` over `charter-dev.jsonl` with title + abstract and with titles alone, and prints per-topic
precision / recall / F1 for its `curated`, `week-2023-W20` and `week-2026-W23` sets separately. A (paper, topic)
pair the annotator doubted is left out on both sides. Hashtag precision / recall are against `human_tags` of
`topics-dev.jsonl` and `topics-dev-titles.jsonl` (`_` and `-` count as the same), and the share of the dev weeks'
in-topic papers (what a digest carries) with two tags or more. The classifier is hand-written rules (no learned part),
so there is no training data to hold out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TOPICS = ["llm-efficiency", "diffusion", "mllm", "quantization"]
SETS = ["curated", "week-2023-W20", "week-2026-W23"]


def classify(rows: list[dict[str, object]], config: str) -> list[dict[str, object]]:
    """Run the real CLI over records and read its JSON lines back."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as file:
        file.writelines(json.dumps(row) + "\n" for row in rows)
    cmd = [sys.executable, "-m", "bot", "--config", config, "classify", file.name]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    Path(file.name).unlink()
    return [json.loads(line) for line in out.splitlines()]


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts (0 where undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def topic_report(gold: list[dict[str, object]], pred: list[dict[str, object]], mode: str, errors: str | None) -> None:
    """Per set and topic: P / R / F1 on the pairs the annotator did not doubt."""
    print(f"\n{mode}")
    print(f"  {'set':14} {'topic':15} {'gold':>4} {'TP':>3} {'FP':>3} {'FN':>3} {'P':>6} {'R':>6} {'F1':>6}")
    for name in SETS:
        for topic in TOPICS:
            tp = fp = fn = 0
            for g, p in zip(gold, pred, strict=True):
                if name not in str(g["set"]) or topic in g["doubt"]:  # type: ignore[operator]
                    continue
                truth, said = topic in g["topics"], topic in p["topics"]  # type: ignore[operator]
                tp, fp, fn = tp + (truth and said), fp + (said and not truth), fn + (truth and not said)
                if errors == topic and truth != said:
                    print(f"      {'FN' if truth else 'FP'} {name[:5]} {g['title']!s:.90} {p['scores']}")
            pr, rc, f1 = prf(tp, fp, fn)
            print(f"  {name:14} {topic:15} {tp + fn:4d} {tp:3d} {fp:3d} {fn:3d} {pr:6.3f} {rc:6.3f} {f1:6.3f}")


def tag_report(rows: list[dict[str, object]], config: str) -> None:
    """Hashtag precision and recall against the curator's tags."""
    pred = classify(rows, config)
    tp = fp = fn = 0
    for row, out in zip(rows, pred, strict=True):
        human = {str(t).lower().replace("-", "_") for t in row["human_tags"]}  # type: ignore[attr-defined]
        ours = {str(t).lower().replace("-", "_") for t in out["tags"]}  # type: ignore[attr-defined]
        tp, fp, fn = tp + len(ours & human), fp + len(ours - human), fn + len(human - ours)
    p, r, _ = prf(tp, fp, fn)
    per = (tp + fp) / len(rows) if rows else 0.0
    print(f"  hashtags ({len(rows)} papers): precision {p:.3f} recall {r:.3f} ({tp + fp} emitted, {per:.2f} a paper)")


def tags_per_item(gold: list[dict[str, object]], pred: list[dict[str, object]]) -> None:
    """Per dev week: how many of the papers a digest could carry (in a topic) have two tags or more."""
    for name in SETS:
        items = [p for g, p in zip(gold, pred, strict=True) if g["set"] == name and p["topics"]]
        two = sum(len(p["tags"]) >= 2 for p in items)  # type: ignore[arg-type]
        mean = sum(len(p["tags"]) for p in items) / len(items) if items else 0.0  # type: ignore[arg-type]
        print(f"  tags on {name}'s {len(items)} papers in a topic: {two / len(items):.0%} have 2 or more, "
              f"{mean:.2f} an item")  # fmt: skip


def main() -> None:
    """Parse arguments and print the reports."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="config file (default: the repository's config.yaml)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the labelled files")
    parser.add_argument("--errors", metavar="TOPIC", help="list the misclassified papers of one topic")
    args = parser.parse_args()
    config = args.config or str(Path(__file__).resolve().parents[1] / "config.yaml")
    gold = [json.loads(line) for line in (args.data / "charter-dev.jsonl").read_text(encoding="utf-8").splitlines()]
    records = [{"title": g["title"], "abstract": g["abstract"], "categories": g["categories"]} for g in gold]
    predicted = classify(records, config)
    topic_report(gold, predicted, "title + abstract", args.errors)
    titles = [{"title": g["title"], "categories": g["categories"]} for g in gold]
    topic_report(gold, classify(titles, config), "titles alone", args.errors)
    print()
    for name in ("topics-dev.jsonl", "topics-dev-titles.jsonl"):
        rows = [json.loads(line) for line in (args.data / name).read_text(encoding="utf-8").splitlines()]
        tag_report(rows, config)
    tags_per_item(gold, predicted)


if __name__ == "__main__":
    main()
