"""The only place that runs the steps in order: collect → merge → classify → select → comment → freeze."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.channels import configured_channels
from bot.classify import Classifier
from bot.commentary import extractive
from bot.config import Config
from bot.delivery import ChannelReport, deliver
from bot.digest import Digest, DigestItem, featured_elsewhere, freeze_digest, load_digest
from bot.errors import BotError, ConfigError
from bot.ledger import Ledger
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


@dataclass(frozen=True)
class Publication:
    """A publish run's outcome: the digest and, per channel, what was delivered."""

    digest: Digest
    reports: list[ChannelReport]


def publish(
    config: Config,
    week: Week,
    *,
    language: str | None = None,
    dry_run: bool = False,
    refresh: bool = False,
    force: bool = False,
    only: str | None = None,
    progress: Progress | None = None,
) -> Publication:
    """Build (or reuse the frozen) digest of a week, freeze it, and deliver what the ledger lacks.

    A dry run builds and returns the digest and touches neither the store nor any channel.
    """
    channels = [] if dry_run else configured_channels(config, only)  # config errors before any network work
    if only and not channels and not dry_run:
        raise ConfigError(f"channel {only!r} is not configured under channels ({config.source})")
    with open_store(config, read_only=dry_run) as store:
        ledger = Ledger(store)
        frozen = load_digest(store, week)
        if frozen is not None and refresh and ledger.delivered_anything(str(week)):
            raise BotError(f"the {week} digest was already delivered; --refresh rebuilds only an undelivered digest")
        if frozen is not None and not refresh:
            log.info("digest %s: using the frozen digest (%d items)", week, len(frozen.items))
            digest = frozen
        else:
            digest = build_digest(config, week, collect(config, week, progress), featured_elsewhere(store, week))
            if not dry_run:
                freeze_digest(store, digest)
        if force:
            ledger.forget(str(week), only)
        reports = deliver(ledger, channels, digest, language or config.digest.language, config)
    return Publication(digest, reports)
