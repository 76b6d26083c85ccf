"""`bot check` and `bot status`: what an operator asks before and after deploying."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial

from bot.config import Config
from bot.errors import BotError

Check = tuple[str, bool, str]


def run_checks(config: Config, *, network: bool = True) -> Iterator[Check]:
    """Each check as (name, passed, detail); network checks post nothing."""
    from bot.channels import configured_channels

    yield "config", True, config.source
    channels = []
    for name in ("telegram", "slack", "email"):
        if getattr(config.channels, name) is None:
            continue
        try:
            channels += configured_channels(config, name)
            yield f"{name} settings", True, "environment variables resolved"
        except BotError as error:
            yield f"{name} settings", False, str(error)
    if not network:
        return
    yield _check("arxiv", lambda: _arxiv(config))
    for feed in config.sources.feeds:
        yield _check(f"feed {feed.name}", partial(_feed, config, feed.name))
    for channel in channels:
        yield _check(channel.name, channel.check)
        channel.close()


def _check(name: str, probe: Callable[[], str]) -> Check:
    try:
        return name, True, probe()
    except BotError as error:
        return name, False, str(error)


def _arxiv(config: Config) -> str:
    from bot.sources.arxiv import probe

    return probe(config.sources.arxiv)


def _feed(config: Config, name: str) -> str:
    import httpx

    from bot.sources.feeds import USER_AGENT, fetch_hf_daily, fetch_rss
    from bot.week import Week

    feed = next(f for f in config.sources.feeds if f.name == name)
    with httpx.Client(timeout=config.sources.arxiv.timeout_seconds, follow_redirects=True,
                      headers={"User-Agent": USER_AGENT}) as client:  # fmt: skip
        week = Week.last_finished()
        result = fetch_hf_daily(client, feed, week) if feed.kind == "hf_daily" else fetch_rss(client, feed, None, None)
    if result.error:
        raise BotError(result.error)
    return f"{len(result.papers)} items"


def status_lines(config: Config, weeks: int) -> Iterator[str]:
    """Recent digests with per-channel ledger counts, failing feeds, and the next runs."""
    from bot import curated
    from bot.ledger import Ledger
    from bot.pipeline import open_store
    from bot.service import next_runs

    with open_store(config, read_only=True) as store:
        rows = sorted(store.table("digests").all(), key=lambda r: r["week"], reverse=True)[:weeks]
        ledger = Ledger(store)
        yield f"store {store.path} ({store.size_bytes()} bytes)"
        if not rows:
            yield "no digest published yet"
        for row in rows:
            counts: dict[str, Counter[str]] = {}
            for (channel, _), entry in ledger.rows(row["week"]).items():
                counts.setdefault(channel, Counter())[entry["status"]] += 1
            state = "; ".join(
                f"{ch} " + ", ".join(f"{n} {s}" for s, n in sorted(c.items())) for ch, c in counts.items()
            )
            yield f"{row['week']}: {len(row['items'])} items" + (f" — {state}" if state else " — not delivered")
        for feed in curated.failing_feeds(store):
            yield f"feed {feed['name']}: failing ({feed['failures']} in a row): {feed['error']}"
    for name, when in next_runs(config, datetime.now(UTC)).items():
        yield f"next {name}: {when.isoformat()}"
