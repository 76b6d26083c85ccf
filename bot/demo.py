"""`bot demo`: a digest of a recorded real arXiv week, served by the loopback arXiv stand-in — no network.

The week's arXiv records (titles, abstracts, categories, dates; 950 papers of 2023-05-15…21) ship with the
package. Everything else is the real path: the arXiv source pages through the stand-in over HTTP, then the
classifier, the ranking and the commentary make the digest. Curated feeds and LLM commentary are off, and
the store is a throwaway one, so the user's own store is neither read nor written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.config import Config
from bot.digest import Digest
from bot.standin import ArxivStandIn, recorded_week, serve
from bot.week import Week

DEMO_WEEK = Week(2023, 20)
RECORDS = Path(__file__).resolve().parent / "data" / "week-2023-W20.jsonl.gz"


def keep(config: Config, digest: Digest) -> None:
    """Freeze the demo digest into the configured store, marked as a demo (never delivered to a channel)."""
    from dataclasses import replace

    from bot import pipeline
    from bot.digest import freeze_digest

    with pipeline.open_store(config) as store:
        freeze_digest(store, replace(digest, demo=True))


def demo_digest(config: Config) -> Digest:
    """The digest of the recorded week under the user's topics, built offline."""
    from bot import pipeline

    standin = ArxivStandIn(entries=recorded_week(RECORDS))
    with serve(standin.handle) as base, tempfile.TemporaryDirectory() as tmp:
        arxiv = config.sources.arxiv.model_copy(update={"api_url": f"{base}/api/query", "delay_seconds": 0})
        offline = config.model_copy(update={
            "sources": config.sources.model_copy(update={"arxiv": arxiv, "feeds": []}),
            "store": config.store.model_copy(update={"path": str(Path(tmp) / "demo.json")}),
            "commentary": config.commentary.model_copy(update={"llm": None}),
            "digest": config.digest.model_copy(update={"notes_dir": str(Path(tmp) / "notes")}),
        })  # fmt: skip
        with pipeline.open_store(offline, read_only=True) as store:
            return pipeline.publish(offline, store, DEMO_WEEK).digest
