"""Topic classification and hashtags: a pure function of (Paper, topic config).

Each topic scores a paper by weighted cues — case-insensitive regular expressions matched on word bounds —
found in the title (worth `title_weight` times more) and the abstract, minus negative cues, plus category
priors. A topic whose `requires` cues are all absent scores 0. The paper belongs to every topic whose score
reaches the threshold, and to every topic that lists one of those in `implied_by` and whose `requires` holds
(one level: quantizing a large model implies llm-efficiency). Hashtags come from the tag vocabulary, in its
order (most specific first).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from operator import itemgetter

import ahocorasick_rs

from bot.commentary import CONTRIBUTION
from bot.config import TopicConfig
from bot.paper import Paper

MAX_TAGS, MIN_TAGS = 4, 2
# arXiv caps abstracts at 1,920 characters; a feed may send anything. Text past these is not read.
MAX_TITLE, MAX_ABSTRACT = 1_000, 5_000
MIN_CHECKED = 3  # shorter literals ("in", "ed") are in every abstract: checking them costs more than it saves
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


@dataclass(frozen=True, eq=False)  # identity equality: branches are set members on the hot path
class Branch:
    """One top-level alternative of a cue, with the literals any match must contain (a cheap pre-check)."""

    source: str  # the branch's regex, compiled when first run: a week's papers never run about half of them
    requirements: tuple[tuple[str, ...], ...]  # each: one of these literals occurs in any match (see _requirements)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The compiled branch."""
        return re.compile(self.source)

    @cached_property
    def key(self) -> tuple[str, ...]:
        """The requirement the pre-check looks up first (empty: the branch has none and always runs)."""
        return _key(list(self.requirements)) if self.requirements else ()

    def spans(self, lowered: str) -> list[tuple[int, int]]:
        """Where the branch occurs, on word bounds, in a lower-cased text."""
        return [m.span() for m in self.regex.finditer(lowered) if not _word_char_before(lowered, m.start())]


@dataclass(frozen=True, eq=False)  # identity equality: cues are dict keys on the hot path
class Cue:
    """One pattern, compiled branch by branch: only the branches whose literals a text holds are run."""

    pattern: str
    branches: tuple[Branch, ...]

    @classmethod
    def compile(cls, pattern: str) -> Cue:
        """Compile each top-level alternative of a cue and find the literals its matches must contain.

        A branch runs on lower-cased text without flags or a leading look-behind: that keeps the regex engine's
        fast literal-prefix scan (about 5x faster on abstracts); the left word bound is checked per match.
        Running only the branches whose every required literal occurs, instead of the whole alternation
        whenever one literal occurs, is what keeps wide cues cheap (about 3x on real abstracts).
        """
        branches = [
            Branch(rf"(?:{_lower_pattern(branch)})(?!\w)", tuple(_requirements(branch)))
            for branch in _alternatives(pattern)
        ]
        return cls(pattern, tuple(branches))

    @property
    def literals(self) -> tuple[str, ...]:
        """The literals the pre-check looks up, per branch; empty when a branch has none (never skipped)."""
        if self.unfiltered:
            return ()
        return tuple(lit for b in self.branches for lit in b.key)

    @cached_property
    def unfiltered(self) -> tuple[Branch, ...]:
        """The branches without a required literal: they run on every text."""
        return tuple(b for b in self.branches if not b.requirements)

    def spans(self, lowered: str, branches: Iterable[Branch] | None = None) -> list[tuple[int, int]]:
        """Where the cue occurs, on word bounds, running the given branches (None: all of them).

        Branches that match the same stretch ("diffusion models" and "latent diffusion") count it once.
        """
        run = self.branches if branches is None else tuple(branches)
        if len(run) == 1:
            return run[0].spans(lowered)
        found = sorted((span for b in run for span in b.spans(lowered)), key=lambda sp: (sp[0], -sp[1]))
        kept: list[tuple[int, int]] = []
        for start, end in found:
            if not kept or start >= kept[-1][1]:
                kept.append((start, end))
        return kept


def _word_char_before(text: str, index: int) -> bool:
    return index > 0 and (text[index - 1].isalnum() or text[index - 1] == "_")


def _lower_pattern(pattern: str) -> str:
    """A pattern in lower case, its escapes (`\\d`, `\\S`) left as they are."""
    lowered = re.sub(
        r"\\.|[^\\]+", lambda m: m.group(0) if m.group(0).startswith("\\") else m.group(0).lower(), pattern
    )
    return re.sub(r"\(\?p(?=[<=])", "(?P", lowered)  # a named group keeps its capital P


_NAMED_GROUP = re.compile(r"^\?P<\w+>")  # "(?P<kind>...)": the group's name is no text it matches


def _requirements(branch: str) -> list[tuple[str, ...]]:
    """What every match of a branch contains: a list of requirements, each a tuple of literals one of which occurs.

    A plain run of text is a requirement of one literal; a group that must match (no `?`, `*` or `{m,n}` after
    it) is one whose literals are its alternatives' (`(inference|training) costs?` needs "inference" or
    "training", and " cost"). A small class of plain characters extends the run before it (`int[248]` needs
    "int2", "int4" or "int8"); other classes, repetitions, anchors and `\\d`-style escapes are gaps, and so is a
    character made optional by `?` or `*`; an escaped punctuation mark (`\\(`) is the plain character. Literals
    shorter than two characters are too common to help and are left out.
    """
    requirements: list[tuple[str, ...]] = []
    run, i = "", 0

    def flush() -> None:
        if len(run.strip()) >= 2:
            requirements.append((run.lower(),))

    while i < len(branch):
        char, following = branch[i], branch[i + 1 : i + 2]
        if char in "([{":
            end = _closing(branch, i)
            quantifier = branch[end : end + 1]
            if char == "{":  # x{0,3}: the x may be absent
                run = run[:-1]
            elif (
                char == "["
                and quantifier not in ("?", "*", "{")
                and len(run.strip()) >= 2
                and (chars := _class_chars(branch[i + 1 : end - 1]))
            ):  # int[248]: "int2", "int4" or "int8", far rarer than "int"
                requirements.append(tuple(dict.fromkeys(run.lower() + c for c in chars)))
                run = ""
            elif char == "(" and quantifier not in ("?", "*", "{"):
                flush()
                run = ""
                body = _NAMED_GROUP.sub("", branch[i + 1 : end - 1]).removeprefix("?:")
                # a look-around ("(?<!vq-)") or an inline flag matches no text of its own: a gap, never a literal
                alternatives = [] if body.startswith("?") else [_requirements(alt) for alt in _alternatives(body)]
                if alternatives and all(alternatives):
                    keys = [lit for alt in alternatives for lit in _key(alt)]
                    requirements.append(tuple(dict.fromkeys(keys)))
            flush()
            run = ""
            i = end + (quantifier in ("?", "*", "+"))
            continue
        if char == "\\" and following and not following.isalnum():
            char, i = following, i + 1
        elif char == "\\" or char in ".^$+":
            i += 2 if char == "\\" else 1
            flush()
            run = ""
            continue
        elif char in "?*":
            run = run[:-1]
            flush()
            run = ""
            i += 1
            continue
        run += char
        i += 1
    flush()
    return requirements


def _class_chars(body: str) -> str:
    """The characters of a small class of plain characters (`248`, `- `), lower-cased; "" for any other class."""
    plain = len(body) <= 4 and "\\" not in body and not body.startswith("^") and "-" not in body[1:-1]
    return body.lower() if plain else ""


def _key(requirements: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The requirement that likely rules out most texts: the one whose shortest literal is longest."""
    return max(requirements, key=lambda req: (min(len(lit) for lit in req), -len(req)))


def _closing(pattern: str, start: int) -> int:
    """The index just after the bracket that closes the one at `start` (nesting, classes and escapes respected)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opener, depth, i = pattern[start], 0, start
    if opener == "[":  # a class does not nest, and a "]" first in it is a plain character
        i = start + 1 + (pattern[start + 1 : start + 2] == "^")
        i += pattern[i : i + 1] == "]"
        while i < len(pattern) and pattern[i] != "]":
            i += 2 if pattern[i] == "\\" else 1
        return min(i + 1, len(pattern))
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "[":
            i = _closing(pattern, i)
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
    """The top-level `|` branches of a pattern (those inside parentheses or a class stay whole)."""
    branches, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "[":
            i = _closing(pattern, i) - 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    branches.append(pattern[start:])
    return branches


@dataclass(frozen=True)
class Hit:
    """One reason for a score: a cue found in a place, and the points it gave."""

    topic: str
    kind: str  # cue | negative | category | requires
    pattern: str
    where: str  # title | abstract | abstract+contribution (claim_mentions counted) | categories
    points: float


@dataclass(frozen=True)
class _Text:
    """A paper's title and abstract in lower case, with each cue's branches whose literals occur (found once)."""

    title: str
    abstract: str
    title_found: dict[Cue, list[Branch]]
    abstract_found: dict[Cue, list[Branch]]
    # (cue, where) → spans: a topic's score, its gate and its centrality look at the same cues
    found_spans: dict[tuple[Cue, str], list[tuple[int, int]]] = field(default_factory=dict)

    @classmethod
    def of(cls, paper: Paper, literals: _Literals) -> _Text:
        title, abstract = paper.title[:MAX_TITLE].lower(), paper.abstract[:MAX_ABSTRACT].lower()
        return cls(title, abstract, literals.found(title), literals.found(abstract))

    def spans(self, cue: Cue, where: str) -> list[tuple[int, int]]:
        if (cached := self.found_spans.get((cue, where))) is not None:
            return cached
        text, found = (self.title, self.title_found) if where == "title" else (self.abstract, self.abstract_found)
        branches = found.get(cue, [])
        if cue.unfiltered:
            branches = [*branches, *cue.unfiltered]
        spans = self.found_spans[cue, where] = cue.spans(text, branches) if branches else []
        return spans

    @cached_property
    def claims(self) -> list[tuple[int, int]]:
        """Where the abstract's sentences in which the authors speak are ("we ...", "this paper"; found once)."""
        return _sentence_spans(self.abstract, _CLAIM)

    @cached_property
    def contributions(self) -> list[tuple[int, int]]:
        """Where the abstract's sentences stating the contribution are ("we propose ...", "we build ...")."""
        return _sentence_spans(self.abstract, CONTRIBUTION)

    def mentions(self, cue: Cue) -> bool:
        """Whether the cue occurs in the title or the abstract."""
        return bool(self.spans(cue, "title") or self.spans(cue, "abstract"))

    def may_match(self, cues: frozenset[Cue] | None) -> bool:
        """Whether any cue of a group can match (None: some cue has a branch without literal, so it always may)."""
        return cues is None or not (cues.isdisjoint(self.title_found) and cues.isdisjoint(self.abstract_found))

    def strongest(self, cues: Mapping[Cue, float], where: str) -> dict[Cue, int]:
        """Mentions per cue, each stretch of text counted once, for the strongest cue that covers it."""
        present = self.title_found if where == "title" else self.abstract_found
        found = [(w, span, c) for c, w in cues.items() if c in present or c.unfiltered for span in self.spans(c, where)]
        starts: list[int] = []  # the stretches taken, sorted and disjoint: an overlap test is two neighbours
        ends: list[int] = []
        counts: dict[Cue, int] = {}
        for _, (start, end), cue in sorted(found, key=lambda f: (-f[0], f[1])):
            i = bisect.bisect_right(starts, start)
            if (i and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
                continue
            starts.insert(i, start)
            ends.insert(i, end)
            counts[cue] = counts.get(cue, 0) + 1
        return counts


class _Literals:
    """The pre-check: which branches of which cues a text can match, from the literals their matches need.

    An Aho-Corasick automaton over every required literal finds them all in one pass (testing each of ~600
    with `in` cost about 6x more); a branch is a candidate when its key requirement's literal is among them
    and so is one literal of each of its other requirements. The automaton is ahocorasick-rs's DFA over UTF-8
    bytes: on a week's abstracts it runs in half the instructions of pyahocorasick's (0.42 G against 0.84 G).
    """

    def __init__(self, cues: Iterable[Cue]) -> None:
        numbers: dict[str, int] = {}
        # per literal number: the branches keyed by it, each with its other requirements (literal numbers)
        self.keyed: list[list[tuple[Cue, Branch, tuple[frozenset[int], ...]]]] = []
        for cue in cues:
            for branch in cue.branches:
                checked = [
                    r
                    for r in branch.requirements
                    if r == branch.key or min(len(lit.strip()) for lit in r) >= MIN_CHECKED
                ]
                for literal in (lit for req in checked for lit in req):
                    if literal not in numbers:
                        numbers[literal] = len(numbers)
                        self.keyed.append([])
                others = tuple(frozenset(numbers[lit] for lit in r) for r in checked if r != branch.key)
                for literal in branch.key:
                    self.keyed[numbers[literal]].append((cue, branch, others))
        # numbers[literal] is the literal's index in the automaton's patterns (dicts keep insertion order).
        self.automaton = ahocorasick_rs.BytesAhoCorasick(
            [literal.encode() for literal in numbers], implementation=ahocorasick_rs.Implementation.DFA
        )

    def found(self, text: str) -> dict[Cue, list[Branch]]:
        """Per cue, its branches whose every requirement has a literal in the text: only those can match it."""
        # every occurrence, overlapping ones too: a literal inside a longer one counts ("lms" in "llms")
        seen = set(map(itemgetter(0), self.automaton.find_matches_as_indexes(text.encode(), overlapping=True)))
        found: dict[Cue, list[Branch]] = {}
        for number in seen:
            for cue, branch, others in self.keyed[number]:
                for requirement in others:  # a loop, not all(<generator>): this runs ~20 times per text
                    if seen.isdisjoint(requirement):
                        break
                else:
                    branches = found.setdefault(cue, [])
                    if branch not in branches:
                        branches.append(branch)
        return found


def _group(cues: Iterable[Cue]) -> frozenset[Cue] | None:
    """A group of cues to test at once, or None when one of them has a branch without literal (never skipped)."""
    group = frozenset(cues)
    return None if any(c.unfiltered for c in group) else group


class _Topic:
    def __init__(self, name: str, config: TopicConfig) -> None:
        self.name = name
        self.config = config
        self.cues = {Cue.compile(p): w for p, w in config.cues.items()}
        # A plain phrase in the title makes the topic whole; two in the abstract do (default weights).
        phrase_weight = config.threshold / config.title_weight if config.title_weight > 0 else config.threshold
        self.cues.update((Cue.compile(phrase_pattern(p)), phrase_weight) for p in config.phrases)
        self.negative = {Cue.compile(p): w for p, w in config.negative.items()}
        self.requires = [Cue.compile(p) for p in config.requires]
        self.group = _group([*self.cues, *self.negative, *self.requires])
        self.requires_group = _group(self.requires)
        self.always = {c: w for c, w in self.cues.items() if c.unfiltered}  # cues the pre-check cannot rule out
        # A title names its topic once; an abstract's repeated mentions mark what it is about, while one
        # passing mention counts little.
        self.factors = {"title": (config.title_weight, 1),
                        "abstract": (config.abstract_weight, config.abstract_max_mentions)}  # fmt: skip

    def gate(self, text: _Text) -> bool:
        """Whether the paper has the context the topic `requires` (always, when it requires nothing)."""
        return not self.requires or (
            text.may_match(self.requires_group) and any(text.mentions(c) for c in self.requires)
        )

    def may_reach(self, text: _Text, categories: tuple[str, ...]) -> bool:
        """Whether the topic may still reach its threshold, by bounds that tighten as they cost more.

        1. The `requires` context must be present (`gate`).
        2. A positive cue found counts once in the title and, in the abstract, no more often than the literals
           of its found branches' keys occur (its matches do not overlap and each holds one): a passing "model"
           or "bit" does not count three times.
        3. The cues' regexes run, heaviest first, each replacing its bound by what it scores alone (overlaps
           and negative cues only lower a score), until the topic is out of reach. Their spans are kept, so a
           topic still in reach is scored without running them again.
        """
        if not self.gate(text):
            return False
        (title_factor, _), (abstract_factor, cap) = self.factors["title"], self.factors["abstract"]
        parts: list[tuple[float, Cue, str, float, int]] = []  # bound, cue, where, points a mention, mentions
        for cue, weight in self.cues.items():
            if weight <= 0:
                continue
            if cue.unfiltered or cue in text.title_found:
                parts.append((weight * title_factor, cue, "title", weight * title_factor, 1))
            branches = text.abstract_found.get(cue, [])
            if cue.unfiltered or branches:
                found = sum(text.abstract.count(k) for b in branches for k in b.key) + self.config.claim_mentions
                most = cap if cue.unfiltered else min(cap, found)
                parts.append((weight * abstract_factor * most, cue, "abstract", weight * abstract_factor, cap))
        bound = sum(part[0] for part in parts) + sum(w for c, w in self.config.categories.items() if c in categories)
        for upper, cue, where, points, limit in sorted(parts, key=lambda part: -part[0]):
            if bound < self.config.threshold:
                return False
            claimed = self.config.claim_mentions if where == "abstract" else 0  # at most: a bound, not the score
            bound -= upper - points * min(len(text.spans(cue, where)) + claimed, limit)
        return bound >= self.config.threshold

    def reach(self) -> tuple[float, dict[Cue, float], dict[Cue, float]]:
        """The most the topic can score before the pre-check: from cues it cannot rule out, then per cue found
        in the title and in the abstract (category priors aside)."""
        (title_factor, _), (abstract_factor, cap) = self.factors["title"], self.factors["abstract"]
        always = sum(max(0.0, weight) for weight in self.always.values()) * (title_factor + abstract_factor * cap)
        title = {cue: max(0.0, weight) * title_factor for cue, weight in self.cues.items()}
        abstract = {cue: max(0.0, weight) * abstract_factor * cap for cue, weight in self.cues.items()}
        return always, title, abstract

    def hits(self, text: _Text, categories: tuple[str, ...]) -> list[Hit]:
        if not self.gate(text):
            return [Hit(self.name, "requires", "|".join(self.config.requires), "title+abstract", 0.0)]
        present = text.may_match(self.group)
        hits: list[Hit] = []
        # Overlapping cues ("text-to-image diffusion models") count once, for the strongest.
        for kind, cues, sign in (("cue", self.cues, 1.0), ("negative", self.negative, -1.0)) if present else ():
            for where, (factor, cap) in self.factors.items():
                claiming = sign > 0 and where == "abstract" and self.config.claim_mentions > 0
                for cue, mentions in text.strongest(cues, where).items():
                    place = where
                    if claiming and _said_in(text, text.spans(cue, "abstract"), text.contributions):
                        mentions, place = mentions + self.config.claim_mentions, "abstract+contribution"
                    points = sign * cues[cue] * factor * min(mentions, cap)
                    hits.append(Hit(self.name, kind, cue.pattern, place, points))
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
        in_claim = any(_said_in(text, text.spans(cue, "abstract"), text.claims) for cue in self.cues)
        return round(2 / 3 * in_title + 1 / 3 * in_claim, 3)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAIM = re.compile(
    r"\b(we|our (\w+ )?(method|approach|model|framework|system|work|results?)|this (paper|work|study|article))\b"
)

# "unlike diffusion models", "faster than diffusion": a family named to set the work apart from it
_CONTRASTED = re.compile(
    r"\b(unlike|instead of|rather than|without|than|versus|vs|compared (to|with)|outperform\w*|replac\w+|beyond)"
    r"(\W+\w+){0,2}\W*$"
)


def _sentence_spans(abstract: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Where the sentences the pattern finds something in are, in a lower-cased abstract."""
    spans, start = [], 0
    for boundary in [*(m.start() for m in _SENTENCE_END.finditer(abstract)), len(abstract)]:
        if pattern.search(abstract, start, boundary):
            spans.append((start, boundary))
        start = boundary
    return spans


class Classifier:
    """Topics, scores and hashtags for papers under one topic and tag configuration."""

    def __init__(self, topics: Mapping[str, TopicConfig], tags: Mapping[str, list[str]]) -> None:
        self.topics = [_Topic(name, config) for name, config in topics.items()]
        self.tags = [(tag, [Cue.compile(p) for p in patterns]) for tag, patterns in tags.items()]
        self.tag_group = _group(cue for _, cues in self.tags for cue in cues)
        # An upper bound of each topic's score from the cues the pre-check finds (see `_reachable`).
        self.reach_always: dict[_Topic, float] = {}
        self.reach_title: dict[Cue, tuple[_Topic, float]] = {}
        self.reach_abstract: dict[Cue, tuple[_Topic, float]] = {}
        for topic in self.topics:
            always, title, abstract = topic.reach()
            self.reach_always[topic] = always
            self.reach_title.update((cue, (topic, points)) for cue, points in title.items())
            self.reach_abstract.update((cue, (topic, points)) for cue, points in abstract.items())
        # Two pre-checks: selection scores every paper of the week but tags only the chosen few.
        self.literals = _Literals(c for t in self.topics for c in [*t.cues, *t.negative, *t.requires])
        self.tag_literals = _Literals(c for _, cues in self.tags for c in cues)

    def explain(self, paper: Paper) -> list[Hit]:
        """Every cue, negative cue, category prior and unmet requirement that shaped the scores."""
        return self._hits(_Text.of(paper, self.literals), paper.categories)

    def _hits(self, text: _Text, categories: tuple[str, ...]) -> list[Hit]:
        return [hit for topic in self.topics for hit in topic.hits(text, categories)]

    def classify(self, paper: Paper) -> Paper:
        """The paper with its topics (best first), per-topic scores, overall score and hashtags."""
        return self.tag(self._score(paper, _Text.of(paper, self.literals), exact=True))

    def score(self, paper: Paper) -> Paper:
        """Topics and overall score only: selection needs no hashtags for the papers it drops.

        A topic whose cues cannot reach its threshold is not scored (it is left out of `scores`).
        """
        return self._score(paper, _Text.of(paper, self.literals), exact=False)

    def tag(self, paper: Paper) -> Paper:
        """Hashtags for a scored paper."""
        return self._tag(paper, _Text.of(paper, self.tag_literals))

    def _score(self, paper: Paper, text: _Text, *, exact: bool) -> Paper:
        scored = self.topics if exact else self._reachable(text, paper.categories)
        if not scored and not (paper.topics or paper.scores or paper.score or paper.centrality):
            return paper  # off every topic, as it came: most of a week's papers
        hits = [hit for topic in scored for hit in topic.hits(text, paper.categories)]
        passed = [t for t in scored if _total(hits, t.name) >= t.config.threshold]
        # An implied topic still needs its own context: a quantized CNN is not LLM efficiency.
        gated = {h.topic for h in hits if h.kind == "requires"}
        names = {t.name for t in passed}
        implied = [t for t in self.topics if t not in passed and names & set(t.config.implied_by)]
        implied = [t for t in implied if (t.name not in gated if t in scored else t.gate(text))]
        # One the bounds left out is scored now: its score and centrality do not depend on the bounds.
        late = [t for t in implied if t not in scored]
        hits += [hit for t in late for hit in t.hits(text, paper.categories)]
        scores = {t.name: _total(hits, t.name) for t in [*scored, *late]}
        # ... and no strong evidence against it: a data-free quantizer for a segmentation CNN is not LLM work.
        passed += [t for t in implied if scores[t.name] > -t.config.threshold]
        passed.sort(key=lambda t: -scores.get(t.name, 0.0))
        best = max((scores.get(t.name, 0.0) for t in passed), default=0.0)
        centrality = {t.name: t.centrality(text, hits) for t in passed}
        return replace(paper, topics=tuple(t.name for t in passed), scores=scores, score=best, centrality=centrality)

    def _reachable(self, text: _Text, categories: tuple[str, ...]) -> list[_Topic]:
        """The topics whose found cues could reach the threshold: upper bounds, the cheapest first.

        Most papers of a week are off-topic; this spares them most regexes of every topic. The first bound
        counts every cue found in the abstract at its most mentions, with no regex run; a topic it lets through
        is bounded again, tighter and dearer (`_Topic.may_reach`).
        """
        bound = dict(self.reach_always)
        for found, reach in ((text.title_found, self.reach_title), (text.abstract_found, self.reach_abstract)):
            for cue in found:
                if (entry := reach.get(cue)) is not None:
                    bound[entry[0]] += entry[1]
        for topic in self.topics:
            bound[topic] += sum(max(0.0, w) for c, w in topic.config.categories.items() if c in categories)
        return [t for t in self.topics if bound[t] >= t.config.threshold and t.may_reach(text, categories)]

    def _tag(self, paper: Paper, text: _Text) -> Paper:
        words = {t.name: t.config.tags for t in self.topics}
        return replace(paper, tags=self._tags(text, [words.get(name, []) for name in paper.topics]))

    def _tags(self, text: _Text, words: list[list[str]]) -> tuple[str, ...]:
        # A tag names what a paper is: its pattern in the title, in a sentence stating the contribution, or three
        # times in the abstract; a word mentioned once in passing does not.
        found: list[str] = []
        mentioned: list[str] = []
        if text.may_match(self.tag_group):
            for tag, cues in self.tags:
                spans = [span for cue in cues for span in text.spans(cue, "abstract")]
                titled = any(text.spans(cue, "title") for cue in cues)
                if titled or len(spans) >= 3 or _said_in(text, spans, text.contributions):
                    found.append(tag)
                elif spans:
                    mentioned.append(tag)
        tags = normalize_tags(found)
        # An item of a topic gets at least two: the topic's first word, a tag its abstract mentions once, then
        # the topic's other words (the most specific first, the topic's own words only when nothing else fits).
        for filler in ([w[0] for w in words if w], mentioned, [x for w in words for x in w[1:]]):
            if len(tags) >= MIN_TAGS or not words:  # (off every topic: no digest shows it, no filling)
                break
            tags = normalize_tags([*tags, *filler[: MIN_TAGS - len(tags)]])
        return tuple(tags[:MAX_TAGS])


def _said_in(text: _Text, spans: list[tuple[int, int]], sentences: list[tuple[int, int]]) -> bool:
    """Whether a match lies in one of the abstract's sentences, not set apart ("unlike diffusion models"): what
    the contribution names counts for topics and tags alike."""
    return any(
        _within(span, sentences) and not _CONTRASTED.search(text.abstract, max(0, span[0] - 40), span[0])
        for span in spans
    )


def _within(span: tuple[int, int], areas: list[tuple[int, int]]) -> bool:
    """Whether a match overlaps any of the areas (sentences: a match rarely crosses their end)."""
    return any(span[0] < end and span[1] > start for start, end in areas)


def phrase_pattern(phrase: str) -> str:
    """A plain phrase as a cue: its words literally, any run of spaces or hyphens between them."""
    return r"[- ]+".join(re.escape(word) for word in re.split(r"[\s-]+", phrase.strip().lower()) if word)


def _total(hits: list[Hit], topic: str) -> float:
    return round(float(sum(h.points for h in hits if h.topic == topic)), 3)


def normalize_tags(tags: list[str]) -> list[str]:
    """Lower-case hashtag words without `#`, deduplicated, invalid ones dropped."""
    cleaned = (t.strip().lstrip("#").lower().replace(" ", "_") for t in tags)
    return list(dict.fromkeys(t for t in cleaned if _TAG_RE.match(t)))
