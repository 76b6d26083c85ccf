"""Topic classification and hashtags: a pure function of (Paper, topic config).

Each topic scores a paper by weighted cues — case-insensitive regular expressions matched on word bounds —
found in the title (worth `title_weight` times more) and the abstract, minus negative cues, plus category
priors. A topic whose `requires` cues are all absent scores 0. The paper belongs to every topic whose score
reaches the threshold, and to every topic that lists one of those in `implied_by` and whose `requires` holds
(one level: quantizing a large model implies llm-efficiency). Hashtags come from the tag vocabulary, in its
order (most specific first).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import ahocorasick

from bot.config import TopicConfig
from bot.paper import Paper

MAX_TAGS = 5
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


@dataclass(frozen=True, eq=False)  # identity equality: cues are dict keys on the hot path
class Cue:
    """One compiled pattern, with a literal that any match must contain (a cheap pre-check)."""

    pattern: str
    regex: re.Pattern[str]
    literals: tuple[str, ...]

    @classmethod
    def compile(cls, pattern: str) -> Cue:
        """Compile a cue and find, per top-level alternative, a literal its matches must contain.

        It runs on lower-cased text without flags or a leading look-behind: that keeps the regex engine's
        fast literal-prefix scan (about 5x faster on abstracts); the left word bound is checked per match.
        """
        regex = re.compile(rf"(?:{_lower_pattern(pattern)})(?!\w)")
        literals = tuple(lit for branch in _alternatives(pattern) for lit in _branch_literals(branch))
        # A literal too short to be rare (a space, "a") would let every text through the pre-check.
        return cls(pattern, regex, literals if all(len(lit.strip()) >= 2 for lit in literals) else ())

    def spans(self, lowered: str) -> list[tuple[int, int]]:
        """Where the cue occurs, on word bounds, in a lower-cased text (callers skip texts without its literals)."""
        return [m.span() for m in self.regex.finditer(lowered) if not _word_char_before(lowered, m.start())]


def _word_char_before(text: str, index: int) -> bool:
    return index > 0 and (text[index - 1].isalnum() or text[index - 1] == "_")


def _lower_pattern(pattern: str) -> str:
    """A pattern in lower case, its escapes (`\\d`, `\\S`) left as they are."""
    return re.sub(r"\\.|[^\\]+", lambda m: m.group(0) if m.group(0).startswith("\\") else m.group(0).lower(), pattern)


def _literal(branch: str) -> str:
    """The longest run of plain text that every match of a branch must contain.

    Groups, classes, repetitions, anchors and `\\d`-style escapes are gaps, and so is a character made
    optional by `?` or `*`; an escaped punctuation mark (`\\(`) is the plain character.
    """
    runs, run, i = [], "", 0
    while i < len(branch):
        char, following = branch[i], branch[i + 1 : i + 2]
        if char in "([{":
            i = _closing(branch, i)
            if char == "{":  # x{0,3}: the x may be absent
                run = run[:-1]
            i += branch[i : i + 1] in ("?", "*", "+")
            runs.append(run)
            run = ""
            continue
        if char == "\\" and following and not following.isalnum():
            char, i = following, i + 1
        elif char == "\\" or char in ".^$+":
            i += 2 if char == "\\" else 1
            runs.append(run)
            run = ""
            continue
        elif char in "?*":
            run = run[:-1]
            runs.append(run)
            run = ""
            i += 1
            continue
        run += char
        i += 1
    runs.append(run)
    return max(runs, key=len).lower()


def _branch_literals(branch: str) -> list[str]:
    """Literals one of which every match of a branch contains: its longest plain run, or else the literals
    of a required group's alternatives (`(inference|training) costs?` must contain "inference" or "training").
    """
    literal = _literal(branch)
    if len(literal.strip()) >= 2:
        return [literal]
    i = 0
    while i < len(branch):
        if branch[i] == "\\":
            i += 2
            continue
        if branch[i] == "(":
            end = _closing(branch, i)
            if branch[end : end + 1] not in ("?", "*", "{"):
                inner = branch[i + 1 : end - 1].removeprefix("?:")
                found = [lit for alt in _alternatives(inner) for lit in _branch_literals(alt)]
                if found and all(len(lit.strip()) >= 2 for lit in found):
                    return found
            i = end
            continue
        i += 1
    return [literal]


def _closing(pattern: str, start: int) -> int:
    """The index just after the bracket that closes the one at `start` (nesting and escapes respected)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opener, depth, i = pattern[start], 0, start
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == opener:
            depth += 1
        elif pattern[i] == pairs[opener]:
            depth -= 1
            if not depth:
                return i + 1
        i += 1
    return len(pattern)


def _alternatives(pattern: str) -> list[str]:
    """The top-level `|` branches of a pattern (those inside parentheses stay whole)."""
    branches, depth, start = [], 0, 0
    for i, char in enumerate(pattern):
        if char == "(" and pattern[i - 1 : i] != "\\":
            depth += 1
        elif char == ")" and pattern[i - 1 : i] != "\\":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
    branches.append(pattern[start:])
    return branches


@dataclass(frozen=True)
class Hit:
    """One reason for a score: a cue found in a place, and the points it gave."""

    topic: str
    kind: str  # cue | negative | category | requires
    pattern: str
    where: str  # title | abstract | categories
    points: float


@dataclass(frozen=True)
class _Text:
    """A paper's title and abstract in lower case, with the cues whose literals each contains (found once)."""

    title: str
    abstract: str
    title_cues: frozenset[Cue]
    abstract_cues: frozenset[Cue]

    @classmethod
    def of(cls, paper: Paper, literals: Any) -> _Text:
        title, abstract = paper.title.lower(), paper.abstract.lower()
        return cls(title, abstract, _cues_in(title, literals), _cues_in(abstract, literals))

    def spans(self, cue: Cue, where: str) -> list[tuple[int, int]]:
        text, candidates = (self.title, self.title_cues) if where == "title" else (self.abstract, self.abstract_cues)
        if cue.literals and cue not in candidates:
            return []
        return cue.spans(text)

    def mentions(self, cue: Cue) -> bool:
        """Whether the cue occurs in the title or the abstract."""
        return bool(self.spans(cue, "title") or self.spans(cue, "abstract"))

    def names(self, cue: Cue) -> bool:
        """Whether the paper is about what the cue names: in the title, or three times in the abstract."""
        return bool(self.spans(cue, "title")) or len(self.spans(cue, "abstract")) >= 3

    def may_match(self, cues: frozenset[Cue] | None) -> bool:
        """Whether any cue of a group can match (None: some cue has no literal, so it always may)."""
        return cues is None or not (self.title_cues.isdisjoint(cues) and self.abstract_cues.isdisjoint(cues))

    def strongest(self, cues: Mapping[Cue, float], where: str) -> dict[Cue, int]:
        """Mentions per cue, each stretch of text counted once, for the strongest cue that covers it."""
        text, candidates = (self.title, self.title_cues) if where == "title" else (self.abstract, self.abstract_cues)
        found = [(w, span, c) for c, w in cues.items() if not c.literals or c in candidates for span in c.spans(text)]
        taken: list[tuple[int, int]] = []
        counts: dict[Cue, int] = {}
        for _, (start, end), cue in sorted(found, key=lambda f: (-f[0], f[1])):
            if all(end <= s or start >= e for s, e in taken):
                taken.append((start, end))
                counts[cue] = counts.get(cue, 0) + 1
        return counts


def _cues_in(text: str, literals: Any) -> frozenset[Cue]:
    """The cues one of whose literals occurs in the text: only those can match it.

    `literals` is an Aho-Corasick automaton whose values are the cues sharing a literal: one pass over the
    text finds every literal, where testing each of ~200 literals with `in` cost about 6x more.
    """
    return frozenset(cue for _, cues in literals.iter(text) for cue in cues)


def _group(cues: Iterable[Cue]) -> frozenset[Cue] | None:
    """A group of cues to test at once, or None when one of them has no literal (the group cannot be skipped)."""
    group = frozenset(cues)
    return group if all(c.literals for c in group) else None


class _Topic:
    def __init__(self, name: str, config: TopicConfig) -> None:
        self.name = name
        self.config = config
        self.cues = {Cue.compile(p): w for p, w in config.cues.items()}
        self.negative = {Cue.compile(p): w for p, w in config.negative.items()}
        self.requires = [Cue.compile(p) for p in config.requires]
        self.group = _group([*self.cues, *self.negative, *self.requires])
        # A title names its topic once; an abstract's repeated mentions mark what it is about, while one
        # passing mention counts little.
        self.factors = {"title": (config.title_weight, 1),
                        "abstract": (config.abstract_weight, config.abstract_max_mentions)}  # fmt: skip

    def hits(self, text: _Text, categories: tuple[str, ...]) -> list[Hit]:
        present = text.may_match(self.group)
        if self.requires and not (present and any(text.mentions(c) for c in self.requires)):
            return [Hit(self.name, "requires", "|".join(self.config.requires), "title+abstract", 0.0)]
        hits: list[Hit] = []
        # Overlapping cues ("text-to-image diffusion models") count once, for the strongest.
        for kind, cues, sign in (("cue", self.cues, 1.0), ("negative", self.negative, -1.0)) if present else ():
            for where, (factor, cap) in self.factors.items():
                for cue, mentions in text.strongest(cues, where).items():
                    points = sign * cues[cue] * factor * min(mentions, cap)
                    hits.append(Hit(self.name, kind, cue.pattern, where, points))
        for category, weight in self.config.categories.items():
            if category in categories:
                hits.append(Hit(self.name, "category", category, "categories", weight))
        return hits

    def centrality(self, text: _Text, hits: list[Hit]) -> float:
        """How central the topic is to the paper, 0..1, whatever the number of mentions.

        Two thirds for naming the topic in the title (its cue points there against the threshold), one third
        for a topic cue in a sentence where the authors state their contribution ("we propose ...").
        """
        title = sum(h.points for h in hits if h.topic == self.name and h.kind == "cue" and h.where == "title")
        in_title = min(1.0, max(0.0, title) / self.config.threshold) if self.config.threshold > 0 else 1.0
        claims = _claim_spans(text.abstract)
        in_claim = any(
            start < end_claim and end > start_claim
            for cue in self.cues
            for start, end in text.spans(cue, "abstract")
            for start_claim, end_claim in claims
        )
        return round(2 / 3 * in_title + 1 / 3 * in_claim, 3)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAIM = re.compile(
    r"\b(we|our (\w+ )?(method|approach|model|framework|system|work|results?)|this (paper|work|study|article))\b"
)


def _claim_spans(abstract: str) -> list[tuple[int, int]]:
    """Where the sentences that state the paper's own contribution are, in a lower-cased abstract."""
    spans, start = [], 0
    for boundary in [*(m.start() for m in _SENTENCE_END.finditer(abstract)), len(abstract)]:
        if _CLAIM.search(abstract, start, boundary):
            spans.append((start, boundary))
        start = boundary
    return spans


class Classifier:
    """Topics, scores and hashtags for papers under one topic and tag configuration."""

    def __init__(self, topics: Mapping[str, TopicConfig], tags: Mapping[str, list[str]]) -> None:
        self.topics = [_Topic(name, config) for name, config in topics.items()]
        self.tags = [(tag, [Cue.compile(p) for p in patterns]) for tag, patterns in tags.items()]
        self.tag_group = _group(cue for _, cues in self.tags for cue in cues)
        everything = [c for t in self.topics for c in [*t.cues, *t.negative, *t.requires]]
        everything += [c for _, cues in self.tags for c in cues]
        index: dict[str, list[Cue]] = {}
        for cue in everything:
            for literal in cue.literals:
                index.setdefault(literal, []).append(cue)
        self.literals = ahocorasick.Automaton()
        for literal, cues in index.items():
            self.literals.add_word(literal, tuple(cues))
        self.literals.make_automaton()

    def explain(self, paper: Paper) -> list[Hit]:
        """Every cue, negative cue, category prior and unmet requirement that shaped the scores."""
        return self._hits(_Text.of(paper, self.literals), paper.categories)

    def _hits(self, text: _Text, categories: tuple[str, ...]) -> list[Hit]:
        return [hit for topic in self.topics for hit in topic.hits(text, categories)]

    def classify(self, paper: Paper) -> Paper:
        """The paper with its topics (best first), per-topic scores, overall score and hashtags."""
        text = _Text.of(paper, self.literals)
        return self._tag(self._score(paper, text), text)

    def score(self, paper: Paper) -> Paper:
        """Topics, scores and overall score only: selection needs no hashtags for the papers it drops."""
        return self._score(paper, _Text.of(paper, self.literals))

    def tag(self, paper: Paper) -> Paper:
        """Hashtags for a scored paper."""
        return self._tag(paper, _Text.of(paper, self.literals))

    def _score(self, paper: Paper, text: _Text) -> Paper:
        hits = self._hits(text, paper.categories)
        scores = {t.name: round(float(sum(h.points for h in hits if h.topic == t.name)), 3) for t in self.topics}
        passed = [t for t in self.topics if scores[t.name] >= t.config.threshold]
        # An implied topic still needs its own context: a quantized CNN is not LLM efficiency.
        gated = {h.topic for h in hits if h.kind == "requires"}
        names = {t.name for t in passed}
        passed += [t for t in self.topics
                   if t not in passed and t.name not in gated and names & set(t.config.implied_by)]  # fmt: skip
        passed.sort(key=lambda t: -scores[t.name])
        best = max((scores[t.name] for t in passed), default=0.0)
        centrality = {t.name: t.centrality(text, hits) for t in passed}
        return replace(paper, topics=tuple(t.name for t in passed), scores=scores, score=best, centrality=centrality)

    def _tag(self, paper: Paper, text: _Text) -> Paper:
        by_name = {t.name: t.config.tag for t in self.topics}
        fallback = [tag for name in paper.topics if (tag := by_name.get(name))]
        return replace(paper, tags=self._tags(text, fallback))

    def _tags(self, text: _Text, fallback: list[str]) -> tuple[str, ...]:
        # A tag names what a paper is: its pattern in the title, or three times in the abstract.
        found = []
        if text.may_match(self.tag_group):
            found = [tag for tag, cues in self.tags if any(text.names(c) for c in cues)]
        return tuple(normalize_tags(found or fallback[:1]))[:MAX_TAGS]


def normalize_tags(tags: list[str]) -> list[str]:
    """Lower-case hashtag words without `#`, deduplicated, invalid ones dropped."""
    cleaned = (t.strip().lstrip("#").lower().replace(" ", "_") for t in tags)
    return list(dict.fromkeys(t for t in cleaned if _TAG_RE.match(t)))
