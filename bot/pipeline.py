"""The only place that runs the steps in order: collect → merge → classify → select → comment → freeze."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.classify import Classifier
from bot.commentary import extractive
from bot.config import Config
from bot.digest import Digest, DigestItem, featured_elsewhere, freeze_digest, load_digest
from bot.paper import Paper, merge_all
from bot.selection import select
from bot.sources import arxiv as arxiv_source
from bot.store import Store
from bot.week import Week

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def collect(config: Config, week: Week, progress: Progress | None = None) -> list[Paper]:
    """Every paper the sources know for the week, one per key."""
    return merge_all(arxiv_source.fetch_week(week, config.sources.arxiv, progress))


def build_digest(config: Config, week: Week, papers: list[Paper], featured: set[str]) -> Digest:
    """Classify, select and comment: a pure function of the papers and the configuration."""
    classifier = Classifier(config.topics, config.tags)
    chosen = select(
        (classifier.classify(p) for p in papers),
        week,
        featured,
        topic_order=list(config.topics),
        per_topic=config.digest.per_topic,
        max_items=config.digest.max_items,
    )
    items = [DigestItem.from_paper(p, extractive(p.title, p.abstract, config.commentary.max_chars)) for p in chosen]
    log.info("digest %s: %d of %d papers selected", week, len(items), len(papers))
    return Digest(week, tuple(items))


def open_store(config: Config, *, read_only: bool = False) -> Store:
    """The configured store (enter it to hold the lock)."""
    return Store(config.store.path, lock_timeout=config.store.lock_timeout_seconds, read_only=read_only)


def publish(
    config: Config,
    week: Week,
    *,
    dry_run: bool = False,
    refresh: bool = False,
    progress: Progress | None = None,
) -> Digest:
    """The week's digest: the frozen one if published before, else built now and (unless dry) frozen."""
    with open_store(config, read_only=dry_run) as store:
        frozen = load_digest(store, week)
        if frozen is not None and not refresh:
            log.info("digest %s: using the frozen digest (%d items)", week, len(frozen.items))
            return frozen
        papers = collect(config, week, progress)
        digest = build_digest(config, week, papers, featured_elsewhere(store, week))
        if not dry_run:
            freeze_digest(store, digest)
        return digest
