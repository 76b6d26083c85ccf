"""Curated items kept between digests (`candidates` table) and each feed's fetch state (`feeds` table).

The daily collect job stores what the feeds offer; a publish reads what fits its week. Items are pruned once
no digest can use them, so the store stays small.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot import USER_AGENT
from bot.config import Config
from bot.paper import Paper, paper_from_dict, paper_to_dict
from bot.sources.feeds import FeedResult, fetch_hf_daily, fetch_rss
from bot.store import Q, Store
from bot.week import Week

log = logging.getLogger(__name__)
KEEP = timedelta(weeks=5)
LOUD_AFTER = 3  # consecutive failures before a feed's trouble is an error, not a warning


def fetch_all(config: Config, store: Store, week: Week) -> list[FeedResult]:
    """Fetch every configured feed once, conditionally (ETag / Last-Modified kept in the store)."""
    return fetch(config, week, {row["name"]: row for row in store.table("feeds").all()})


def fetch(config: Config, week: Week, states: dict[str, dict[str, Any]] | None = None) -> list[FeedResult]:
    """Fetch every configured feed (unconditionally without `states`); HF daily papers for each day of the week."""
    results = []
    # Each read waits at most the feed's timeout; `bounded_get` bounds the whole request and its redirects.
    timeout = max((feed.timeout_seconds for feed in config.sources.feeds), default=30.0)
    with httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}) as client:
        for feed in config.sources.feeds:
            state = (states or {}).get(feed.name, {})
            try:
                if feed.kind == "hf_daily":
                    results.append(fetch_hf_daily(client, feed, week))
                else:
                    results.append(fetch_rss(client, feed, state.get("etag"), state.get("modified")))
            except Exception as error:  # each feed fails alone, whatever it sent: the digest goes out
                log.exception("feed %s: unexpected failure", feed.name)
                results.append(FeedResult(feed.name, error=f"unexpected {type(error).__name__}: {error}"))
    return results


def record(store: Store, results: list[FeedResult], now: datetime) -> list[str]:
    """Store new candidates and feed states, drop stale candidates: one file write.

    Returns the feeds that have just failed LOUD_AFTER times in a row (to alert once, not on every run).
    """
    states = {row["name"]: row for row in store.table("feeds").all()}
    newly_loud = []
    with store.batch():
        for result in results:
            failures = states.get(result.name, {}).get("failures", 0) + 1 if result.error else 0
            if result.error:
                level = logging.ERROR if failures >= LOUD_AFTER else logging.WARNING
                log.log(level, "feed %s skipped (%d failure(s) in a row): %s", result.name, failures, result.error)
                if failures == LOUD_AFTER:
                    newly_loud.append(result.name)
            else:
                log.info(
                    "feed %s: %d items%s", result.name, len(result.papers), " (not modified)" * result.not_modified
                )
            previous = states.get(result.name, {})
            state = {"name": result.name, "failures": failures, "error": result.error or "",
                     "etag": result.etag if not result.error else previous.get("etag"),
                     "modified": result.modified if not result.error else previous.get("modified")}  # fmt: skip
            store.table("feeds").upsert(state, Q.name == result.name)
            for paper in result.papers:
                row = {"key": paper.key, "feed": result.name, "seen": now.isoformat(), "paper": paper_to_dict(paper)}
                store.table("candidates").upsert(row, (Q.key == paper.key) & (Q.feed == result.name))
        cutoff = (now - KEEP).isoformat()
        store.table("candidates").remove((Q.seen < cutoff) & Q.paper.published.test(lambda p: p < cutoff))
    return newly_loud


def failing_feeds(store: Store) -> list[dict[str, Any]]:
    """Feeds whose last fetch failed, with their failure counts."""
    return [row for row in store.table("feeds").all() if row.get("failures")]


def candidates(store: Store) -> list[Paper]:
    """Every stored curated item."""
    return [paper_from_dict(row["paper"]) for row in store.table("candidates").all()]
