"""Defects of the extractive commentary, as an editor reads it, on the on-topic papers of a real week.

Usage: python bench/commentary.py [--data DIR] [--max-chars N] [--set week-2023-W20] [--examples 10] [--off-topic]

Runs `bot.commentary.extractive` over every paper of the set in `charter-dev.jsonl` whose charter topics are
not empty, and prints the share of defective commentaries by kind, with up to N examples of each. With
`--off-topic`, over the set's papers in no topic instead: abstracts the rules were not written from, a check that
they hold on papers not seen (no digest shows these papers, but they are written like the next week's).

- dangling: its first sentence leans on a problem only an unseen sentence named ("we fill this gap", "to
  optimize this trade-off", "such limitations"), or it opens on a secondary contribution ("We also ...");
- opener: it opens on a connective or purpose clause ("Specifically, …", "To this end, …", "To overcome
  these drawbacks, …") or on a word pointing back at a sentence the reader never saw ("This", "These",
  "It", "Such", …); "This paper / work …" and "In this paper …" are fine;
- residue: what a removed link or formula left behind: `$`, a `\\command`, braces, empty brackets, a dangling
  "at" / "from" / "via" ("code is available at ."), a space before punctuation;
- cut: it stops mid-sentence (no closing `.`, `!` or `?`), or ends on "…";
- fragment: a sentence split at an abbreviation or inside brackets: it ends on "et al." / "e.g." / "vs.",
  starts with a lower-case word or a closing bracket, or leaves a bracket or quote unbalanced;
- background: nothing in it is about this paper (no "we" / "our" / "this paper", no passive "is proposed",
  no "the proposed" or experiments, no name the paper gives its own work — in the title, "SpecInfer: ...", or
  in a sentence of the abstract where the authors speak, "we propose Exclusive Batching (EB)"): motivation or
  the field's state, not the work;
- empty: no commentary at all;
- too long: over the character limit.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from bot.commentary import extractive

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
_CONNECTIVE = re.compile(
    r"^(specifically|hence|thus|therefore|however|moreover|furthermore|additionally|in addition|besides|"
    r"consequently|as a result|finally|first(ly)?|second(ly)?|third(ly)?|then|meanwhile|also|in particular|"
    r"in contrast|on the other hand|nevertheless|nonetheless|instead|yet|still|further|accordingly|"
    r"subsequently|in this way|by doing so|in doing so|motivated by|inspired by|"
    r"(based on|given|in light of) (this|these|that|those|such))\b|"
    r"^to \w+",  # a purpose clause: "To overcome these drawbacks, ...", "To this end, ..."
    re.IGNORECASE,
)
_POINTER = re.compile(r"^(this|these|those|it|its|they|their|them|such|both|here|the former|the latter)\b",
                      re.IGNORECASE)  # fmt: skip
_FINE = re.compile(r"^(this|in this) (paper|work|study|article|report|note|survey|thesis)\b", re.IGNORECASE)
_RESIDUE = re.compile(
    r"\$|\\[a-zA-Z]+|[{}]|\(\s*\)|\[\s*\]|\b(at|from|via)\s*([.,;:)]|$)|"
    r"\b(available|released|found|accessible|hosted|provided) (at|from|via|on)\b(?!\s+\S+\.\S)|\s[,.;:](\s|$)"
)
_ABBREVIATION_END = re.compile(r"\b(al|e\.g|i\.e|vs|cf|fig|eq|sec)\.$", re.IGNORECASE)
_PAIRS = ("[]", "“”")
_ROUND = re.compile(r"(?:^|(?<=\s))(?:\d|[ivx]+)\)|[()]")
_OWN = re.compile(
    r"\b(we|our|us|this (paper|work|study|article|report)|(is|are|was|were) (proposed|introduced|presented)|"
    r"the proposed|experiment\w*)\b",
    re.IGNORECASE,
)
KINDS = ("opener", "dangling", "residue", "cut", "fragment", "background", "empty", "too long")
# The bench's own reading (not the product's rule): "this gap", "such a trade-off", "these limitations".
_DANGLING = re.compile(
    r"\b(this|these|such( an?)?|those|that)\s+([\w-]+\s+)?(approach|issue|gap|trade-?off|limitation|challenge|"
    r"problem|question|bottleneck|drawback|shortcoming|difficulty|obstacle|concern|need|dilemma|deficiency|"
    r"weakness|phenomenon|barrier)e?s?\b",
    re.IGNORECASE,
)
_ALSO = re.compile(r"^(we|it|the authors|this paper|this work|our \w+)\s+(\w+\s+)?also\b", re.IGNORECASE)


def method_name(title: str) -> str:
    """The name a title gives its method before a colon ("SpecInfer: ..."), else ""."""
    head = title.split(":", 1)[0].strip() if ":" in title else ""
    return head if head and len(head.split()) <= 3 else ""


_NAME = re.compile(r"\b[\w-]*[A-Z][\w-]*[A-Z0-9][\w-]*\b")  # EB, StreetNVS, GPT-4o: a name, not a word


def own_names(title: str, abstract: str) -> set[str]:
    """The names an abstract gives its own work: in the title, or in a sentence where the authors speak ("we
    propose Exclusive Batching (EB)", "our StreetNVS")."""
    names = set(_NAME.findall(title))
    for sentence in re.split(r"(?<=[.!?])\s+", abstract):
        if _OWN.search(sentence):
            names |= set(_NAME.findall(sentence))
    return names


def unbalanced_round(text: str) -> bool:
    """Whether a round bracket is left open or closes nothing; "1) ... 2) ..." outside brackets is an enumeration,
    "(Task 3)" and "(k + 1)" are brackets."""
    depth = 0
    for token in _ROUND.findall(text):
        if token == "(":
            depth += 1
        elif depth:
            depth -= 1
        elif token == ")":
            return True
    return depth != 0


def defects(text: str, max_chars: int, title: str = "", abstract: str = "") -> list[str]:
    """The kinds of defect a commentary has (empty list: none)."""
    if not text.strip():
        return ["empty"]
    found = []
    if (_CONNECTIVE.match(text) or _POINTER.match(text)) and not _FINE.match(text):
        found.append("opener")
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
    if _DANGLING.search(first) or _ALSO.match(text):
        found.append("dangling")
    if _RESIDUE.search(text):
        found.append("residue")
    if not re.search(r"[.!?][\"')\]]?$", text.rstrip()):
        found.append("cut")
    unbalanced = unbalanced_round(text) or any(text.count(a) != text.count(b) for a, b in _PAIRS)
    name = method_name(title)
    lower_start = re.match(r"[a-z)\]”]", text) and not (name and text.startswith(name))  # "i-Code V2 ..." is a name
    if _ABBREVIATION_END.search(text.rstrip()) or lower_start or unbalanced:
        found.append("fragment")
    named = name and name.lower() in text.lower()
    if not _OWN.search(text) and not named and not (own_names(title, abstract) & set(_NAME.findall(text))):
        found.append("background")
    if len(text) > max_chars:
        found.append("too long")
    return found


def main() -> None:
    """Run the commentary over the set and print the defect rates."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding charter-dev.jsonl")
    parser.add_argument("--max-chars", type=int, default=280, help="commentary.max_chars (default 280)")
    parser.add_argument("--set", default="week-2023-W20", help="the set of charter-dev.jsonl to use")
    parser.add_argument("--examples", type=int, default=10, help="examples to show per kind")
    parser.add_argument("--off-topic", action="store_true", help="use the set's papers in no topic instead")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (args.data / "charter-dev.jsonl").read_text(encoding="utf-8").splitlines()]
    papers = [r for r in rows if args.set in r["set"] and bool(r["topics"]) != args.off_topic]
    by_kind: dict[str, list[tuple[str, str]]] = {kind: [] for kind in KINDS}
    defective = 0
    for paper in papers:
        text = extractive(paper["title"], paper["abstract"], args.max_chars)
        kinds = defects(text, args.max_chars, paper["title"], paper["abstract"])
        defective += bool(kinds)
        for kind in kinds:
            by_kind[kind].append((paper["title"], text))
    print(f"{len(papers)} {'off' if args.off_topic else 'on'}-topic papers of {args.set}, "
          f"commentary.max_chars {args.max_chars}")  # fmt: skip
    print(f"defective: {defective / len(papers):.1%} ({defective})")
    for kind in KINDS:
        print(f"  {kind:10} {len(by_kind[kind]) / len(papers):6.1%} ({len(by_kind[kind])})")
    for kind in KINDS:
        for title, text in by_kind[kind][: args.examples]:
            print(f"\n[{kind}] {title}\n  {text}")


if __name__ == "__main__":
    main()
