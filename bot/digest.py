"""The Digest: a week's selected papers with their commentary, frozen in the store once published."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.paper import Paper, abs_url, arxiv_key, inert, known_fields, safe_link
from bot.store import Q, Store
from bot.week import Week


@dataclass(frozen=True)
class DigestItem:
    """One paper as the digest shows it: everything a channel renders, nothing it must fetch."""

    key: str
    url: str
    title: str
    authors: tuple[str, ...]
    published: str
    categories: tuple[str, ...]
    topics: tuple[str, ...]
    tags: tuple[str, ...]
    score: float
    commentary: str
    sources: tuple[str, ...]
    upvotes: int = 0
    rank: dict[str, float | str] = field(default_factory=dict)  # why it ranked where it did (see selection)

    def __post_init__(self) -> None:
        # Whatever a feed or an old frozen digest holds, every channel renders inert text and http(s) links.
        link = safe_link(self.url) or (abs_url(self.key) if arxiv_key(self.key) == self.key else None)
        if link is None:
            raise ValueError(f"item {self.key!r} has no http(s) link")
        object.__setattr__(self, "url", link)
        object.__setattr__(self, "title", inert(self.title))
        object.__setattr__(self, "authors", tuple(inert(a) for a in self.authors))
        object.__setattr__(self, "commentary", inert(self.commentary))
        for name in ("sources", "categories", "topics", "tags"):
            object.__setattr__(self, name, tuple(inert(s) for s in getattr(self, name)))

    @classmethod
    def from_paper(cls, paper: Paper, commentary: str) -> DigestItem:
        """An item from a classified paper and its commentary."""
        return cls(
            key=paper.key,
            url=paper.url,
            title=paper.title,
            authors=paper.authors,
            published=paper.published.isoformat(),
            categories=paper.categories,
            topics=paper.topics,
            tags=paper.tags,
            score=round(paper.score, 3),
            commentary=commentary,
            sources=paper.sources,
            upvotes=paper.upvotes,
            rank=paper.rank,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, lists for tuples."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DigestItem:
        """The inverse of `to_dict`."""
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in known_fields(cls, data).items()}
        return cls(**fields)


@dataclass(frozen=True)
class Digest:
    """A week's items in their final order."""

    week: Week
    items: tuple[DigestItem, ...]
    demo: bool = False  # `bot demo --keep`: shown by the archive, notes, status and /last; never delivered

    def to_dict(self) -> dict[str, Any]:
        """The form stored in the `digests` table."""
        return {"week": str(self.week), "items": [item.to_dict() for item in self.items]} | (
            {"demo": True} if self.demo else {})  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Digest:
        """The inverse of `to_dict`."""
        items = tuple(DigestItem.from_dict(i) for i in data["items"])
        return cls(Week.parse(data["week"]), items, bool(data.get("demo")))


def load_digest(store: Store, week: Week) -> Digest | None:
    """The frozen digest of a week, if there is one."""
    row = store.table("digests").get(Q.week == str(week))
    return Digest.from_dict(row) if row else None


def load_digests(store: Store) -> list[Digest]:
    """Every frozen digest in the store, oldest week first."""
    return sorted((Digest.from_dict(row) for row in store.table("digests").all()), key=lambda d: d.week)


def latest_digest(store: Store) -> Digest | None:
    """The newest frozen digest (only that one is built: readers ask for it often)."""
    rows = store.table("digests").all()
    return Digest.from_dict(max(rows, key=lambda row: Week.parse(row["week"]))) if rows else None


def featured_elsewhere(store: Store, week: Week) -> set[str]:
    """Keys of papers featured in any digest other than this week's."""
    return {row["key"] for row in store.table("featured").all() if row["week"] != str(week)}


def freeze_digest(store: Store, digest: Digest) -> None:
    """Store the digest and mark its papers featured, in one file write (replacing an earlier freeze)."""
    week = str(digest.week)
    with store.batch():
        store.table("digests").upsert(digest.to_dict(), Q.week == week)
        store.table("featured").remove(Q.week == week)
        store.table("featured").insert_multiple({"key": i.key, "week": week} for i in digest.items)
