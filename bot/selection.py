"""Selection: which classified papers make a week's digest, and in what order.

Inside a topic, papers rank by what a subscriber would want, never by how often a word repeats:

- **centrality** (0–3): the topic named in the title and in the sentence stating the paper's contribution
  (`Paper.centrality`, computed by the classifier);
- **notability** the bot can see: Hugging Face daily papers (featured, upvotes), other curated feeds, an
  arXiv comment naming an accepted venue, a code or project page, a released model / dataset / benchmark,
  work on the large models the readers follow, a named method or system, and a technical report or a released
  family of models.

Each component and the total go into the digest item (`rank`), and `bot digest --explain` prints them.

A section abstains rather than fills: a candidate shows only when its **confidence** in the topic clears
`digest.min_confidence` (`per_topic` is a maximum, not a quota). Confidence is `1 - 0.5 ** (score / threshold)`:
0.5 at the threshold, 0.75 at twice it, 0.875 at three times. On the charter's dev sets the share of charter-true
papers climbs with it (compare `bench/week_quality.py --min-confidence X`); the default bar was chosen there.
A judge's verdict (`bot.judge`), where there is one, replaces the rules' decision and their confidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from bot.classify import Cue
from bot.paper import Paper
from bot.week import Week

CENTRALITY_WEIGHT = 3.0
# Venues an ML researcher watches, named in an arXiv comment ("Accepted at ICML 2023", "NeurIPS 2023 camera-ready").
_VENUE = re.compile(
    r"\b(accepted|to appear|published|camera[- ]ready|oral|spotlight)\b.{0,40}\b(19|20)\d\d\b|"
    r"\b(neurips|nips|icml|iclr|cvpr|iccv|eccv|acl|emnlp|naacl|coling|aaai|ijcai|kdd|siggraph|interspeech|icassp|"
    r"tmlr|jmlr|tpami|colm|mlsys|osdi|sosp|isca|micro|asplos)\b\W{0,3}(19|20)?\d\d",
    re.IGNORECASE,
)
# A named method or system ("SpecInfer: ...", "we present Diff-Pruning", "our model, Preserve Your Own
# Correlation (PYoCo)"): something readers can refer to and build on. A name has two capitals or digits, or is
# capitalised words before their acronym. On W20, papers naming one only in the abstract later drew 18 citing
# files (median, 11 papers), those naming none 7 (40 papers).
_NAME = r"(?:[\w-]*[A-Z][\w-]*[A-Z0-9][\w-]*|(?:[A-Z][\w-]+ ){1,5}\([A-Z][\w-]*[A-Z][\w-]*\))"
_NAMED = re.compile(r"^[\w-]*[A-Z][\w-]*[A-Z0-9][\w-]*:\s")
_NAMED_IN_ABSTRACT = re.compile(
    r"\b(?:[Ww]e (?:propose|present|introduce|develop|build|release)|called|dubbed|named|termed"
    rf"|[Oo]ur (?:model|method|approach|framework|system|algorithm|benchmark|dataset)),?\s+(?:a |an |the )?{_NAME}"
)
# Points per visible signal; see the module docstring.
SIGNALS = {"hf_daily": 1.5, "curated": 1.0, "venue": 1.5, "code": 1.5, "release": 1.0, "large_model": 1.0,
           "named": 0.5, "model_family": 1.0}  # fmt: skip


@dataclass(frozen=True)
class _Signal:
    """A signal's regex (lower case, on lower-cased text) and the literals one of which every match holds.

    Those literals come from the classifier's analysis of cue patterns. Most abstracts hold none of them, and an
    `in` check costs under a microsecond where a scan of the whole abstract costs 40 to 80: a regex that
    starts with a word bound or an alternation gets no fast literal search from the regex engine.
    """

    regex: re.Pattern[str]
    literals: tuple[str, ...]  # empty: some branch has no literal, so the regex always runs

    @classmethod
    def compile(cls, pattern: str) -> _Signal:
        """The signal of a lower-case pattern."""
        return cls(re.compile(pattern), Cue.compile(pattern).literals)

    def found(self, text: str) -> bool:
        """Whether the signal occurs in a lower-cased text."""
        if self.literals and not any(literal in text for literal in self.literals):
            return False
        return self.regex.search(text) is not None


_CODE = _Signal.compile(
    r"github\.com|gitlab\.com|huggingface\.co/|\b(code|project page|models?|weights|demo)\b[^.]{0,50}"
    r"\b(available|released|open[- ]sourced?|public)\b|https?://"
)
_RELEASE = _Signal.compile(
    r"\bwe (publicly )?(release|open-source|open source)\b|"
    r"\bwe (introduce|present|construct|build|collect|curate|create) (a |an |the )?([\w-]+ ){0,3}"
    r"(dataset|benchmark|corpus|suite)\b"
)
# A technical report or a family of released models ("Qwen3-VL Technical Report", "a family of open models"):
# what a lab puts its name to is what readers of 2026 went on to cite.
_MODEL_FAMILY = _Signal.compile(
    r"\btechnical report\b|\b(family|series|suite|collection) of (\w+[- ]){0,3}(models|llms|mllms|vlms|checkpoints)\b|"
    r"\bopen[- ](weights?|weight models?|source models?)\b"
)
_LARGE_MODEL = _Signal.compile(
    r"\b(llama[\w-]*|gpt-?[34][\w-]*|chatgpt|vicuna|palm[\w-]*|opt-\d+b|bloom|falcon|mistral|llava|"
    r"large language models?|llms?|foundation models?|\d+(\.\d+)?b parameters|\d+(\.\d+)?[- ]?billion)\b"
)


@dataclass(frozen=True)
class Rank:
    """Why a paper ranks where it does in one topic: the components and their total, and how sure the topic is."""

    components: dict[str, float]
    confidence: float = 1.0
    judge: str = ""  # the judge's one-line reason, when a judge decided

    @property
    def total(self) -> float:
        """The sum of the components."""
        return round(sum(self.components.values()), 3)

    def as_dict(self) -> dict[str, float | str]:
        """The components, `total` and `confidence` (and `judge`), for the digest item's JSON."""
        judged: dict[str, float | str] = {"judge": self.judge} if self.judge else {}
        return {**self.components, "total": self.total, "confidence": self.confidence, **judged}


def confidence(paper: Paper, topic: str, threshold: float) -> float:
    """How sure the rules are that a paper is in a topic, 0..1: 0.5 at the threshold, 0.75 at twice it (pure)."""
    score = paper.scores.get(topic, 0.0)
    if score <= 0 or threshold <= 0:
        return 0.0 if score <= 0 else 1.0
    return round(1.0 - float(0.5 ** (score / threshold)), 3)


def rank(paper: Paper, topic: str, threshold: float = 0.0) -> Rank:
    """A paper's rank inside one of its topics, with its confidence there under `threshold` (pure)."""
    text = f"{paper.title} {paper.abstract}".lower()  # IGNORECASE would cost each regex its fast literal scan
    components = {
        "centrality": CENTRALITY_WEIGHT * paper.centrality.get(topic, 0.0),
        # featured at all counts most; upvotes add slowly, so a viral paper does not drown the rest
        "hf_daily": paper.hf_daily * (SIGNALS["hf_daily"] + 0.5 * math.log1p(paper.upvotes)),
        "curated": SIGNALS["curated"] * paper.curated_weight,
        "venue": SIGNALS["venue"] * bool(_VENUE.search(paper.comment)),
        "code": SIGNALS["code"] * (_CODE.found(paper.comment.lower()) or _CODE.found(text)),
        "release": SIGNALS["release"] * _RELEASE.found(text),
        "large_model": SIGNALS["large_model"] * _LARGE_MODEL.found(text),
        "named": SIGNALS["named"] * bool(_NAMED.match(paper.title) or _NAMED_IN_ABSTRACT.search(paper.abstract)),
        "model_family": SIGNALS["model_family"] * _MODEL_FAMILY.found(text),
    }
    return Rank({name: round(value, 3) for name, value in components.items()}, confidence(paper, topic, threshold))


@dataclass(frozen=True)
class Ranked:
    """One topic's candidates, best first, each with its rank."""

    topic: str
    papers: list[tuple[Paper, Rank]]


def ranked_topics(
    papers: Iterable[Paper],
    week: Week,
    featured: set[str],
    thresholds: Mapping[str, float],
    accepted: Mapping[tuple[str, str], str] | None = None,
) -> list[Ranked]:
    """The week's candidates per topic (in the order of `thresholds`), ranked; each paper counts for its best
    topic (its first). A (key, topic) the judge accepted has confidence 1 and the judge's reason."""
    accepted = accepted or {}
    buckets: dict[str, list[Paper]] = {topic: [] for topic in thresholds}
    for paper in papers:
        if paper.topics and week.contains(paper.published) and paper.key not in featured:
            buckets.setdefault(paper.topics[0], []).append(paper)
    ranked = []
    for topic, bucket in buckets.items():
        scored = [(p, _judged(rank(p, topic, thresholds.get(topic, 0.0)), accepted.get((p.key, topic))))
                  for p in bucket]  # fmt: skip
        # Ties go to the stronger topic score, then the key: a stable, reproducible order.
        scored.sort(key=lambda pr: (-pr[1].total, -pr[0].score, pr[0].key))
        ranked.append(Ranked(topic, scored))
    return ranked


def _judged(why: Rank, reason: str | None) -> Rank:
    return why if reason is None else replace(why, confidence=1.0, judge=reason or "accepted")


def shown(topic: Ranked, min_confidence: float) -> list[tuple[Paper, Rank]]:
    """A topic's candidates that clear the confidence bar, best first: the section abstains below it."""
    return [(paper, why) for paper, why in topic.papers if why.confidence >= min_confidence]


def select(ranked: Sequence[Ranked], *, per_topic: int, max_items: int, min_confidence: float = 0.0) -> list[Paper]:
    """The best `per_topic` of each topic that clear `min_confidence`, `max_items` in all, each with its rank there.

    No item is there to fill a count: a topic with two sure papers shows two. The result is ordered by topic
    (the order of `ranked`), then rank.
    """
    capped = [
        replace(paper, rank=r.as_dict()) for topic in ranked for paper, r in shown(topic, min_confidence)[:per_topic]
    ]
    chosen = {p.key for p in sorted(capped, key=_total, reverse=True)[:max_items]}
    return in_digest_order([p for p in capped if p.key in chosen], [topic.topic for topic in ranked])


def _total(paper: Paper) -> float:
    return float(paper.rank.get("total", 0.0))


def in_digest_order(papers: Iterable[Paper], topic_order: Sequence[str]) -> list[Paper]:
    """By topic (config order; papers with no topic last), then rank."""
    order = {topic: i for i, topic in enumerate(topic_order)}

    def position(paper: Paper) -> tuple[int, float, float, str]:
        topic = paper.topics[0] if paper.topics else ""
        return order.get(topic, len(order)), -_total(paper), -paper.score, paper.key

    return sorted(papers, key=position)


def explain(
    ranked: Sequence[Ranked], chosen: set[str], per_topic: int, min_confidence: float = 0.0, runners_up: int = 3
) -> str:
    """Per topic: each candidate up to the cap with its confidence and rank components, where the confidence bar
    cut, then the first runners-up (pure).

    `+` marks the papers in the digest (the overall `max_items` cap may leave out some within `per_topic`).
    """
    lines = []
    for topic in ranked:
        sure = len(shown(topic, min_confidence))
        lines.append(f"{topic.topic}: {len(topic.papers)} candidate(s), {sure} clear the confidence bar "
                     f"{min_confidence:g}, {per_topic} at most")  # fmt: skip
        cut = False
        for position, (paper, why) in enumerate(topic.papers[: per_topic + runners_up], start=1):
            if why.confidence < min_confidence and not cut:
                lines.append(f"  --- confidence bar {min_confidence:g}: the section abstains below ---")
                cut = True
            elif position == per_topic + 1:
                lines.append("  runners-up:")
            parts = " ".join(f"{name}={value:g}" for name, value in why.components.items() if value)
            mark = "+" if paper.key in chosen else " "
            lines.append(f" {mark}{position:3d}. {why.total:6.2f}  {paper.title} [{paper.key}]")
            lines.append(f"         confidence={why.confidence:g} score={paper.score:g} {parts}")
            if why.judge:
                lines.append(f"         judge: {why.judge}")
    return "\n".join(lines) + "\n"
