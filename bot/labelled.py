"""Papers from JSON records (`bot classify` input and labelled evaluation files)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.errors import BotError
from bot.paper import Paper, abs_url, arxiv_key


def paper_from_record(record: dict[str, Any], where: str) -> Paper:
    """A Paper from `{title, abstract?, categories?, arxiv_id?}`; `where` names the record in errors."""
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise BotError(f"{where}: a record needs a non-empty string 'title'")
    abstract = record.get("abstract") or ""
    categories = record.get("categories") or []
    if not isinstance(abstract, str) or not isinstance(categories, list):
        raise BotError(f"{where}: 'abstract' must be a string and 'categories' a list")
    key = arxiv_key(str(record.get("arxiv_id") or record.get("key") or "")) or where
    return Paper(
        key=key,
        title=title,
        authors=(),
        abstract=abstract,
        url=abs_url(key),
        published=datetime.now(UTC),
        categories=tuple(str(c) for c in categories),
    )
