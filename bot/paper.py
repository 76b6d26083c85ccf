"""The Paper that flows through everything, paper keys, and merging one paper seen by several sources."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

# New-style ids (2305.01115, 0704.0001) and old-style ids (hep-th/9901001, math.GT/0309136), version optional.
_ARXIV_ID = r"(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
_ARXIV_ID_RE = re.compile(rf"^{_ARXIV_ID}$")
_ARXIV_LINK_RE = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/|oai:arXiv\.org:|arXiv:)\s*{_ARXIV_ID}",
    re.IGNORECASE,
)


ARXIV_SOURCE = "arXiv"


def arxiv_key(text: str) -> str | None:
    """The version-less arXiv id in a bare id, an arXiv / HF papers link or an `oai:`/`arXiv:` marker."""
    text = text.strip()
    bare = _ARXIV_ID_RE.match(text)
    if bare:
        return bare.group(1)
    linked = _ARXIV_LINK_RE.search(text)
    return linked.group(1) if linked else None


def abs_url(key: str) -> str:
    """The canonical abstract-page link of an arXiv id."""
    return f"https://arxiv.org/abs/{key}"


# What no store, feed or renderer can carry: lone surrogates (UTF-8 cannot encode them) and non-characters
# (XML refuses U+FFFE / U+FFFF), besides the controls `_INVISIBLE` removes.
_NONCHARACTERS = "".join(f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0, 0x110000, 0x10000))
_UNSTORABLE = re.compile(f"[\\ud800-\\udfff\\ufdd0-\\ufdef{_NONCHARACTERS}]")


def clean_text(text: str) -> str:
    """Collapse every run of whitespace, newlines included, into one space, and drop what cannot be stored or
    rendered (lone surrogates, non-characters, controls, bidi and zero-width characters)."""
    # Most titles, names and abstracts are clean already: a space is the only character both whitespace and
    # printable, so these checks (in C) spare splitting 5,000 abstracts into words and joining them again.
    # Surrogates, non-characters and controls are not printable, so they always take the slow path.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    spaced = " ".join(text.split())  # whitespace controls (\x1c, \x85) become spaces before controls go
    if spaced.isprintable():  # most abstracts: only newlines or double spaces sent them down this path
        return spaced
    return " ".join(_INVISIBLE.sub("", _UNSTORABLE.sub("", spaced)).split())


# Terminal escape sequences, control characters, bidi overrides and zero-width characters: a hostile feed
# uses them to rewrite a terminal, reorder a line or hide text; none belongs in a title or a commentary.
_INVISIBLE = re.compile(
    "\x1b\\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_LINK_SAFE = ":/?#[]@!$&'()*+,;=%~"  # what stays as it is in a link; anything else is percent-encoded


def inert(text: str) -> str:
    """Text without terminal escapes, control characters (newlines and tabs kept), bidi or zero-width ones, lone
    surrogates or non-characters."""
    return text if text.isprintable() else _INVISIBLE.sub("", _UNSTORABLE.sub("", text))


def safe_link(url: str) -> str | None:
    """An http(s) link to a host, with characters that could break out of markup percent-encoded; else None.

    `javascript:`, `data:` and the like are never links; `<`, `>`, `|`, quotes and spaces cannot end a Slack,
    HTML or Markdown link early.
    """
    url = inert(url).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(parts._replace(scheme=parts.scheme.lower()).geturl(), safe=_LINK_SAFE)


_TEXT_FIELDS = ("key", "title", "abstract", "url", "comment")
_TEXT_TUPLES = ("authors", "categories", "sources", "tags")
_TRAILING_PERIOD = re.compile(r"(?<![.\s])\.$")
MAX_COUNT = 10**9  # upvotes and the like are clamped here


@dataclass(frozen=True)
class Paper:
    """One paper: built by a source, enriched by classification; never does I/O."""

    key: str
    title: str
    authors: tuple[str, ...]
    abstract: str
    url: str
    published: datetime
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    upvotes: int = 0
    hf_daily: float = 0.0  # the Hugging Face daily papers feed's weight when that feed featured the paper
    curated_weight: float = 0.0  # the summed weights of the other curated feeds that mention the paper
    comment: str = ""  # the arXiv comment and journal reference: venues, pages, code links
    topics: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict, compare=False)
    score: float = 0.0
    centrality: dict[str, float] = field(default_factory=dict, compare=False)  # topic → 0..1, see classify
    rank: dict[str, float | str] = field(default_factory=dict, compare=False)  # ranking components, see selection
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The one boundary for a paper's text and numbers: whatever a feed, the arXiv API, a notes file or an
        # older store handed over, a Paper holds only what every store write and renderer can carry.
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            clean = clean_text(value)
            if name == "title":
                clean = _TRAILING_PERIOD.sub("", clean)  # "... for Video Diffusion Models." is no sentence
            if clean is not value:
                object.__setattr__(self, name, clean)
        for name in _TEXT_TUPLES:
            values = getattr(self, name)
            clean_values = tuple(filter(None, map(clean_text, values)))
            if clean_values != values:
                object.__setattr__(self, name, clean_values)
        if not 0 <= self.upvotes <= MAX_COUNT:  # JSON stores hold 64-bit integers; a feed may claim 10**30
            object.__setattr__(self, "upvotes", min(max(int(self.upvotes), 0), MAX_COUNT))

    @property
    def is_arxiv(self) -> bool:
        """Whether the key is an arXiv id (otherwise it is the item's canonical link)."""
        return _ARXIV_ID_RE.match(self.key) is not None


def paper_to_dict(paper: Paper) -> dict[str, Any]:
    """A JSON-ready form of a paper (for the candidates table)."""
    data = asdict(paper)
    data["published"] = paper.published.isoformat()
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def known_fields(cls: type, row: dict[str, Any]) -> dict[str, Any]:
    """The row's fields the dataclass `cls` has: a row a newer version wrote may hold more (kept in the store,
    ignored here)."""
    names = _field_names(cls)
    return {k: v for k, v in row.items() if k in names}


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclass_fields(cls))


def paper_from_dict(data: dict[str, Any]) -> Paper:
    """The inverse of `paper_to_dict`."""
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in known_fields(Paper, data).items()}
    fields["published"] = datetime.fromisoformat(data["published"])
    return Paper(**fields)


def merge(first: Paper, second: Paper) -> Paper:
    """One Paper from two sightings of the same key: arXiv metadata wins, every source is remembered."""
    from_api = second.sources[:1] == (ARXIV_SOURCE,) and first.sources[:1] != (ARXIV_SOURCE,)
    main, other = (second, first) if from_api else (first, second)
    sources = tuple(dict.fromkeys(main.sources + other.sources))
    return replace(
        main,
        abstract=main.abstract or other.abstract,
        authors=main.authors or other.authors,
        categories=main.categories or other.categories,
        comment=main.comment or other.comment,
        sources=sources,
        upvotes=max(main.upvotes, other.upvotes),
        hf_daily=max(main.hf_daily, other.hf_daily),
        curated_weight=main.curated_weight + other.curated_weight,
        # An arXiv paper's week is that of its first version, whoever mentions it later.
        published=main.published if main.sources[:1] == (ARXIV_SOURCE,) else min(main.published, other.published),
    )


def merge_all(papers: Iterable[Paper]) -> list[Paper]:
    """Merge papers by key, keeping first-seen order."""
    merged: dict[str, Paper] = {}
    for paper in papers:
        merged[paper.key] = merge(merged[paper.key], paper) if paper.key in merged else paper
    return list(merged.values())
