"""The only place that runs the steps in order: collect → merge → classify → select → comment → freeze."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot import curated
from bot.channels import configured_channels
from bot.classify import Classifier
from bot.commentary import extractive
from bot.config import Config
from bot.delivery import ChannelReport, deliver
from bot.digest import Digest, DigestItem, featured_elsewhere, freeze_digest, load_digest
from bot.errors import ArxivOutageError, BotError, ConfigError
from bot.ledger import Ledger
from bot.paper import Paper, merge_all
from bot.selection import select
from bot.sources import arxiv as arxiv_source
from bot.store import Store
from bot.week import Week

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def collect(config: Config, store: Store, week: Week, progress: Progress | None = None) -> list[Paper]:
    """Every paper the sources know for the week, one per key, each remembering all its sources.

    Feeds are refreshed first (and recorded, unless the store is read-only). A curated item naming an arXiv
    paper the week's query did not return is looked up by id and kept only if its first version is in the week.
    """
    papers = arxiv_source.fetch_week(week, config.sources.arxiv, progress)
    if not config.sources.feeds:
        return merge_all(papers)
    results = curated.fetch_all(config, store, week)
    if not store.read_only:
        curated.record(store, results, datetime.now(UTC))
    mentions = merge_all(curated.candidates(store) + [p for r in results for p in r.papers])
    known = {p.key for p in papers}
    missing = [p.key for p in mentions if p.is_arxiv and p.key not in known]
    if missing:
        try:
            papers += [p for p in arxiv_source.fetch_ids(missing, config.sources.arxiv) if week.contains(p.published)]
        except ArxivOutageError as error:
            log.warning("could not look up %d curated arXiv ids: %s", len(missing), error)
    found = {p.key for p in papers}
    return merge_all(papers + [p for p in mentions if p.key in found or not p.is_arxiv])


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


@dataclass(frozen=True)
class Publication:
    """A publish run's outcome: the digest and, per channel, what was delivered."""

    digest: Digest
    reports: list[ChannelReport]


def publish(
    config: Config,
    store: Store,
    week: Week,
    *,
    language: str | None = None,
    refresh: bool = False,
    force: bool = False,
    only: str | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Publication:
    """Build (or reuse the frozen) digest of a week, freeze it, and deliver what the ledger lacks.

    On a read-only store (a dry run) the digest is built and returned; nothing is written or sent.
    """
    channels = [] if store.read_only else configured_channels(config, only)  # config errors before network work
    if only and not channels and not store.read_only:
        raise ConfigError(f"channel {only!r} is not configured under channels ({config.source})")
    ledger = Ledger(store)
    frozen = load_digest(store, week)
    if frozen is not None and refresh and ledger.delivered_anything(str(week)):
        raise BotError(f"the {week} digest was already delivered; --refresh rebuilds only an undelivered digest")
    if frozen is not None and not refresh:
        log.info("digest %s: using the frozen digest (%d items)", week, len(frozen.items))
        digest = frozen
    else:
        digest = build_digest(config, week, collect(config, store, week, progress), featured_elsewhere(store, week))
        if not store.read_only:
            freeze_digest(store, digest)
    if force:
        ledger.forget(str(week), only)
    reports = deliver(ledger, channels, digest, language or config.digest.language, config, should_stop)
    return Publication(digest, reports)
