"""The LLM judge on a dev week, offline: export its requests, or replay answers and score the digest.

Usage:
  python bench/judge.py --week 2026-W23 --export FILE    every request the judge would send, one JSON line each:
                                                          {"id", "system", "prompt"}
  python bench/judge.py --week 2026-W23 --replay FILE    the digest with the judge's answers read from FILE
                                                          ({"id", "content"} lines), scored like week_quality.py
  python bench/judge.py --week 2026-W23 --replay charter  answers from the charter's own labels: the ceiling a
                                                          perfect judge would reach (a plumbing check, not a model)

Anyone with a model answers the exported prompts (keep `id`), then replays them: no network is needed here.
The run goes through the real `bot digest` with `selection.judge` pointed at a loopback chat stand-in.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.week_quality import DEFAULT_DATA, read_jsonl, report, run_digest
from bot.judge import SYSTEM
from tests.standins import ChatStandIn, request_id, serve


def charter_answers(labels: dict[str, dict[str, object]]) -> ChatStandIn:
    """A stand-in that answers every request from the charter's labels (doubtful pairs: not in)."""

    def answer(prompt: str) -> str:
        topic = re.search(r'^Topic "([^"]+)"', prompt, re.MULTILINE)
        ids = re.findall(r"^Paper id: (\S+)$", prompt, re.MULTILINE)
        name = topic.group(1) if topic else ""
        rows = [{"id": i, "in": name in labels.get(i, {}).get("topics", []), "reason": "charter label"} for i in ids]  # type: ignore[operator]
        return json.dumps({"verdicts": rows})

    return ChatStandIn(answer=answer)


def main() -> None:
    """Export the judge's requests for a week, or replay answers and print the digest's figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the data files")
    parser.add_argument("--config", type=Path, help="config file (default: the repository's config.yaml)")
    parser.add_argument("--week", default="2026-W23")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--export", type=Path, metavar="FILE")
    what.add_argument("--replay", metavar="FILE|charter")
    args = parser.parse_args()

    labels = {str(r["arxiv_id"]): r for r in read_jsonl(args.data / "charter-dev.jsonl")}
    records = args.data / f"week-{args.week}.jsonl"
    if args.export:
        standin = ChatStandIn(answer=lambda prompt: '{"verdicts": []}')  # "not answered": the rules decide
    elif args.replay == "charter":
        standin = charter_answers(labels)
    else:
        replies = {str(r["id"]): str(r["content"]) for r in read_jsonl(Path(args.replay))}
        standin = ChatStandIn(replies=replies)
    with serve(standin.handle) as base:
        judge = {"base_url": f"{base}/v1", "model": "replay", "timeout_seconds": 60}
        digest = run_digest(records, args.week, args.config, extra={"selection": {"judge": judge}})
    if args.export:
        with args.export.open("w", encoding="utf-8") as out:
            for prompt in standin.prompts:
                out.write(json.dumps({"id": request_id(prompt), "system": SYSTEM, "prompt": prompt}) + "\n")
        print(f"{len(standin.prompts)} request(s) written to {args.export}")
        return
    print(f"requests: {len(standin.prompts)} (unanswered ones fell back to the rules)")
    week_ids = {str(r["arxiv_id"]) for r in read_jsonl(records)}
    refs_path = args.data / f"week-{args.week}-refs.jsonl"
    report(digest, labels, week_ids, read_jsonl(refs_path) if refs_path.exists() else [], args)


if __name__ == "__main__":
    main()
