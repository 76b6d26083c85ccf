"""The picks of a real week against the charter's labels: precision, coverage, off-topic picks, notable papers.

Usage: python bench/week_quality.py [--data DIR] [--config PATH] [--week 2023-W20] [--min-confidence X]
       [--replay FILE]

Serves `week-<WEEK>.jsonl` (real arXiv records) through the tests' loopback arXiv stand-in, runs
`bot digest --week WEEK --dry-run --format json`, and scores the digest with `charter-dev.jsonl`:

- precision: items whose section topic the charter gives them (a doubtful pair counts as right);
- coverage per topic: charter-true items over min(on-topic papers of the week, digest.per_topic);
- filling: the items the selection without a confidence bar would have shown that the bar leaves out, and how
  many of those the charter accepts;
- notable: of each topic's three most-referenced papers in `week-<WEEK>-refs.jsonl` (later attention the bot
  cannot see), how many the digest carries.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
TOPICS = ["llm-efficiency", "diffusion", "mllm", "quantization"]


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """Every JSON line of a file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_digest(
    records: Path,
    week: str,
    config: Path | None,
    digest: dict[str, object] | None = None,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """The JSON digest of the week, served from the records through the loopback arXiv stand-in.

    `digest` overrides keys of the config's `digest` block; `extra` sets other top-level blocks.
    """
    standin = subprocess.Popen(
        [sys.executable, "-m", "tests.standins", week, "--records", str(records)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert standin.stdout is not None and standin.stdin is not None
    url = standin.stdout.readline().strip()
    base = yaml.safe_load((config or REPO / "config.yaml").read_text(encoding="utf-8")) or {}
    with tempfile.TemporaryDirectory() as tmp:
        base.setdefault("sources", {})
        base["sources"]["arxiv"] = {**base["sources"].get("arxiv", {}), "api_url": f"{url}/api/query",
                                    "delay_seconds": 0}  # fmt: skip
        base["sources"]["feeds"] = []  # offline: the notable figure measures what the bot sees without HF
        base["store"] = {"path": f"{tmp}/store.json"}
        base["digest"] = {**base.get("digest", {}), **(digest or {})}
        base.update(extra or {})
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
        cmd = [sys.executable, "-m", "bot", "--config", str(path), "digest", "--week", week, "--dry-run",
               "--format", "json"]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO).stdout
    standin.stdin.close()
    standin.wait()
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    """Run the week and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the data files")
    parser.add_argument("--config", type=Path, help="config file (default: the repository's config.yaml)")
    parser.add_argument("--week", default="2023-W20")
    parser.add_argument("--min-confidence", type=float, help="the confidence bar (default: the config's)")
    args = parser.parse_args()

    labels = {str(r["arxiv_id"]): r for r in read_jsonl(args.data / "charter-dev.jsonl")}
    records = args.data / f"week-{args.week}.jsonl"
    week_ids = {str(r["arxiv_id"]) for r in read_jsonl(records)}
    refs_path = args.data / f"week-{args.week}-refs.jsonl"
    refs = read_jsonl(refs_path) if refs_path.exists() else []
    bar = {} if args.min_confidence is None else {"min_confidence": args.min_confidence}
    digest = run_digest(records, args.week, args.config, bar)
    report(digest, labels, week_ids, refs, args)
    unbarred = run_digest(records, args.week, args.config, {"min_confidence": 0.0})
    kept = {str(i["key"]) for i in digest["items"]}  # type: ignore[attr-defined]
    filled = [i for i in unbarred["items"] if str(i["key"]) not in kept]  # type: ignore[attr-defined]
    accepted = sum(1 for i in filled if i["topics"][0] in labels.get(str(i["key"]), {}).get("topics", []))
    print(
        f"filling: {len(filled)} item(s) under the bar that the selection without one would show; "
        f"the charter accepts {accepted}"
    )
    for item in filled:
        print(f"  under the bar in {item['topics'][0]}: {item['title']} (confidence {item['rank']['confidence']})")


def report(
    digest: dict[str, object],
    labels: dict[str, dict[str, object]],
    week_ids: set[str],
    refs: list[dict[str, object]],
    args: argparse.Namespace,
) -> None:
    """Precision, coverage, off-topic picks and notable papers of one digest."""
    items: list[dict[str, object]] = digest["items"]  # type: ignore[assignment]
    per_topic = (
        (yaml.safe_load((args.config or REPO / "config.yaml").read_text()) or {}).get("digest", {}).get("per_topic", 8)
    )

    right, wrong = 0, []
    carried: dict[str, int] = {t: 0 for t in TOPICS}
    for item in items:
        label = labels.get(str(item["key"]), {"topics": [], "doubt": []})
        section = item["topics"][0]  # type: ignore[index]
        if section in label["topics"] or section in label["doubt"]:  # type: ignore[operator]
            right += 1
            if section in label["topics"]:  # type: ignore[operator]
                carried[section] += 1  # type: ignore[index]
        else:
            wrong.append((section, item["title"], label["topics"]))
    print(f"week {args.week}: {len(week_ids)} papers, {len(items)} items")
    print(f"precision: {right / len(items) if items else 0:.2f} ({right} of {len(items)})")
    coverage_num = coverage_den = 0
    for topic in TOPICS:
        on_topic = sum(1 for i in week_ids if topic in labels.get(i, {}).get("topics", []))  # type: ignore[operator]
        wanted = min(on_topic, per_topic)
        coverage_num += min(carried[topic], wanted)
        coverage_den += wanted
        print(f"  coverage {topic:15} {carried[topic]} / {wanted}  (on-topic papers in the week: {on_topic})")
    print(f"coverage: {coverage_num / coverage_den if coverage_den else 0:.2f}")
    for section, title, topics in wrong:
        print(f"  off-topic in {section}: {title}  (charter: {', '.join(topics) or 'none'})")  # type: ignore[arg-type]

    keys = {str(i["key"]) for i in items}
    found = total = 0
    for topic in TOPICS:
        top = sorted((r for r in refs if topic in r["topics"]), key=lambda r: -int(r["genuine_ref_files"]))[:3]  # type: ignore[operator, call-overload]
        for ref in top:
            total += 1
            hit = str(ref["arxiv_id"]) in keys
            found += hit
            print(f"  notable {topic:15} {'carried' if hit else 'MISSED '} {ref['title']} ({ref['genuine_ref_files']})")
    print(f"notable: {found} of {total}")


if __name__ == "__main__":
    main()
