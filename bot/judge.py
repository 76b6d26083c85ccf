"""An optional LLM judge of the topics' written descriptions (`selection.judge`).

The rules find candidates with a recall-oriented floor (a topic score of at least `floor` × its threshold);
the best `per_topic` candidates of each topic (default 3 × `digest.per_topic`) are judged against the topic's
`description`, `batch_size` papers a request and at most `max_requests` requests a week, through the one
OpenAI-compatible client (`bot.llm`). A verdict replaces the rules' decision for that paper and topic, and its
one-line reason goes into the item's `rank.judge`. Verdicts are cached in the store per paper, topic,
description and model, so a rerun or a later week never asks again. A timeout, an HTTP error, a refusal or an
answer that is not the asked-for JSON leaves the rules' decision for the papers concerned, and is counted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.classify import Classifier
from bot.commentary import safe_line
from bot.config import Config, JudgeConfig
from bot.paper import Paper
from bot.render import environment
from bot.selection import rank
from bot.store import Q, Store
from bot.week import Week

log = logging.getLogger(__name__)
SYSTEM = "You are an expert ML researcher who decides, strictly by a written topic definition, what a digest shows."
MAX_ABSTRACT = 1_500  # characters of an abstract the judge reads: enough to see the contribution, at a bounded cost


@dataclass(frozen=True)
class Verdict:
    """The judge's decision on one paper for one topic, and its one-line reason."""

    accept: bool
    reason: str


@dataclass
class JudgeReport:
    """What judging a week cost and where it fell back to the rules."""

    requests: int = 0
    tokens: int = 0
    judged: int = 0
    cached: int = 0
    fell_back: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """The run's one summary line."""
        line = (f"judge: {self.requests} request(s), {self.tokens} token(s), {self.judged + self.cached} verdict(s) "
                f"({self.cached} cached)")  # fmt: skip
        falls = sum(self.fell_back.values())
        if falls:
            why = ", ".join(f"{n} {reason}" for reason, n in self.fell_back.most_common())
            line += f"; {falls} fell back to the rules ({why})"
        return line


@dataclass(frozen=True)
class Judged:
    """A week's verdicts by paper key and topic, and each judged paper as the floor's rules scored it."""

    verdicts: Mapping[str, Mapping[str, Verdict]]
    floor: Mapping[str, Paper]

    def apply(self, paper: Paper) -> Paper:
        """The paper with its topics as the verdicts say; topics nobody judged keep the rules' decision (pure)."""
        mine = self.verdicts.get(paper.key)
        if not mine:
            return paper
        floor = self.floor.get(paper.key, paper)
        scores = {**floor.scores, **paper.scores}
        centrality = {**floor.centrality, **paper.centrality}
        topics = [t for t in paper.topics if t not in mine] + [t for t, v in mine.items() if v.accept]
        topics.sort(key=lambda t: -scores.get(t, 0.0))
        best = max((scores.get(t, 0.0) for t in topics), default=0.0)
        return replace(paper, topics=tuple(topics), scores=scores, centrality=centrality, score=best)

    def accepted(self) -> dict[tuple[str, str], str]:
        """The reason of every (paper key, topic) the judge accepted."""
        return {(key, topic): v.reason for key, mine in self.verdicts.items() for topic, v in mine.items() if v.accept}


NOBODY = Judged({}, {})


def floor_classifier(config: Config, judge: JudgeConfig) -> Classifier:
    """The rules with every threshold lowered to the floor: the candidates the judge may see."""
    topics = {name: topic.model_copy(update={"threshold": topic.threshold * judge.floor})
              for name, topic in config.topics.items()}  # fmt: skip
    return Classifier(topics, config.tags)


def candidates(
    papers: Iterable[Paper], config: Config, judge: JudgeConfig, week: Week, featured: set[str]
) -> dict[str, list[Paper]]:
    """Per topic with a description, the best candidates over the floor, by rank then score (pure)."""
    per_topic = judge.per_topic or 3 * config.digest.per_topic
    found: dict[str, list[tuple[float, float, str, Paper]]] = {}
    for paper in papers:
        if not week.contains(paper.published) or paper.key in featured:
            continue
        for topic in paper.topics:
            if config.topics[topic].description:
                entry = -rank(paper, topic).total, -paper.scores.get(topic, 0.0), paper.key, paper
                found.setdefault(topic, []).append(entry)
    return {topic: [entry[3] for entry in sorted(rows)[:per_topic]] for topic, rows in found.items()}


def prompt(topic: str, description: str, papers: Sequence[Paper]) -> str:
    """The user message judging a batch of papers for one topic (from templates/judge_prompt.j2)."""
    shown = [{"id": p.key, "title": p.title, "abstract": p.abstract[:MAX_ABSTRACT]} for p in papers]
    return environment().get_template("judge_prompt.j2").render(topic=topic, description=description.strip(),
                                                                papers=shown)  # fmt: skip


def cache_id(paper: Paper, topic: str, description: str, model: str) -> str:
    """The cache identity of one verdict."""
    return hashlib.sha256("\x1f".join([paper.key, topic, description, model]).encode()).hexdigest()


def parse_verdicts(content: object, keys: Sequence[str]) -> tuple[dict[str, Verdict], str]:
    """The verdicts an answer gives for the asked keys, or none and why the answer is unusable."""
    if not isinstance(content, str):
        return {}, "unparseable"
    text = content.strip()
    if text.startswith("```"):  # models wrap JSON in a code fence though asked not to
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return {}, "refused" if not text.startswith(("{", "[")) else "unparseable"
    rows = data.get("verdicts") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        return {}, "unparseable"
    verdicts = {}
    for row in rows:
        if isinstance(row, dict) and str(row.get("id")) in keys and isinstance(row.get("in"), bool):
            verdicts[str(row["id"])] = Verdict(row["in"], safe_line(str(row.get("reason") or ""))[:200])
    return verdicts, ""


def judge_week(
    config: Config, judge: JudgeConfig, store: Store, week: Week, papers: Sequence[Paper], featured: set[str]
) -> tuple[Judged, JudgeReport]:
    """Judge the week's best candidates per topic (cached verdicts first); log and return the report."""
    from bot.llm import complete_all  # httpx loads only for a judge

    rules = floor_classifier(config, judge)
    floor = [rules.score(p) for p in papers]
    chosen = candidates(floor, config, judge, week, featured)
    table = store.table("judgements")
    cached = {row["id"]: row for row in table.all()}
    report = JudgeReport()
    verdicts: dict[str, dict[str, Verdict]] = {}
    asks: dict[str, tuple[str, list[Paper]]] = {}  # request id -> topic, batch
    ids: dict[tuple[str, str], str] = {}  # (paper key, topic) -> the verdict's cache id
    for topic, group in chosen.items():
        description = config.topics[topic].description
        fresh = []
        for paper in group:
            ids[paper.key, topic] = cache_id(paper, topic, description, judge.model)
            row = cached.get(ids[paper.key, topic])
            if row is not None:
                verdicts.setdefault(paper.key, {})[topic] = Verdict(bool(row["accept"]), str(row["reason"]))
                report.cached += 1
            else:
                fresh.append(paper)
        for start in range(0, len(fresh), judge.batch_size):
            if len(asks) == judge.max_requests:
                report.fell_back["over the request cap"] += len(fresh) - start
                break
            asks[f"{topic}:{start}"] = topic, fresh[start : start + judge.batch_size]
    prompts = {rid: prompt(topic, config.topics[topic].description, batch) for rid, (topic, batch) in asks.items()}
    rows = []
    for rid, answer in complete_all(judge, SYSTEM, prompts).items():
        topic, batch = asks[rid]
        report.requests += 1
        if isinstance(answer, BaseException):
            report.fell_back[f"failed ({type(answer).__name__})"] += len(batch)
            continue
        report.tokens += answer.tokens
        given, problem = parse_verdicts(answer.content, [p.key for p in batch])
        for paper in batch:
            verdict = given.get(paper.key)
            if verdict is None:
                report.fell_back[problem or "not answered"] += 1
                continue
            report.judged += 1
            verdicts.setdefault(paper.key, {})[topic] = verdict
            rows.append({"id": ids[paper.key, topic], "key": paper.key, "topic": topic, "accept": verdict.accept,
                         "reason": verdict.reason})  # fmt: skip
    if rows and not store.read_only:
        with store.batch():
            for row in rows:
                table.upsert(row, Q.id == row["id"])
    (log.warning if report.fell_back else log.info)(report.summary())
    judged_keys = set(verdicts)
    return Judged(verdicts, {p.key: p for p in floor if p.key in judged_keys}), report
