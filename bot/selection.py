"""Selection: which classified papers make a week's digest, and in what order."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from bot.paper import Paper
from bot.week import Week


def rank(paper: Paper) -> float:
    """Topic score plus the curated signals: each feed mention and the community's upvotes."""
    return paper.score + 2.0 * paper.curated_weight + math.log1p(paper.upvotes)


def select(
    papers: Iterable[Paper],
    week: Week,
    featured: set[str],
    *,
    topic_order: Sequence[str],
    per_topic: int,
    max_items: int,
) -> list[Paper]:
    """Papers of the week on a tracked topic, not featured before, capped per topic and in all.

    Each paper counts for its best topic. The result is ordered by topic (config order), then rank.
    """
    buckets: dict[str, list[Paper]] = {topic: [] for topic in topic_order}
    for paper in papers:
        if paper.topics and week.contains(paper.published) and paper.key not in featured:
            buckets.setdefault(paper.topics[0], []).append(paper)
    capped = [p for bucket in buckets.values() for p in sorted(bucket, key=rank, reverse=True)[:per_topic]]
    chosen = {p.key for p in sorted(capped, key=rank, reverse=True)[:max_items]}
    return in_digest_order([p for p in capped if p.key in chosen], list(buckets))


def in_digest_order(papers: Iterable[Paper], topic_order: Sequence[str]) -> list[Paper]:
    """By topic (config order; papers with no topic last), then rank."""
    order = {topic: i for i, topic in enumerate(topic_order)}

    def position(paper: Paper) -> tuple[int, float, str]:
        topic = paper.topics[0] if paper.topics else ""
        return order.get(topic, len(order)), -rank(paper), paper.key

    return sorted(papers, key=position)
