"""Curated feeds: RSS / Atom (httpx + feedparser) and the Hugging Face daily papers API.

Fetching is I/O; turning a feed's bytes or JSON into Papers is pure (`papers_from_feed`, `papers_from_hf`).
An item that points at arXiv is keyed by its arXiv id, so it merges with the arXiv paper; any other item is
keyed by its canonical link. A broken feed yields an error string, never an exception: the digest goes out.
"""

from __future__ import annotations

import calendar
import html
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from bot.config import FeedConfig
from bot.paper import Paper, abs_url, arxiv_key, clean_text
from bot.week import Week

log = logging.getLogger(__name__)
_TAGS = re.compile(r"<[^>]+>")
_ARXIV_RSS_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(Abstract:)?\s*", re.IGNORECASE)


@dataclass
class FeedResult:
    """One fetch of one feed: its papers, its conditional-GET validators, or the reason it failed."""

    name: str
    papers: list[Paper] = field(default_factory=list)
    etag: str | None = None
    modified: str | None = None
    error: str | None = None
    not_modified: bool = False


def canonical_link(url: str) -> str:
    """A link without fragment, tracking parameters or trailing slash, host in lower case."""
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not k.lower().startswith(("utm_", "ref"))])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower() or "https", parts.netloc.lower(), path, query, ""))


def html_to_text(text: str) -> str:
    """Plain text from an HTML summary."""
    return clean_text(html.unescape(_TAGS.sub(" ", text)))


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, OSError):  # a date past year 9999 or before the epoch's range
                return None
    return None


def _entry_authors(entry: Any) -> tuple[str, ...]:
    names = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")]
    if len(names) == 1 and "," in names[0]:  # arXiv RSS: one comma-joined dc:creator
        names = names[0].split(",")
    return tuple(names)


def papers_from_feed(parsed: Any, feed: FeedConfig, now: datetime) -> list[Paper]:
    """Papers from a feedparser result (pure)."""
    papers = []
    for entry in parsed.entries[: feed.max_items]:
        link = entry.get("link") or ""
        summary = entry.get("summary", "")
        key = arxiv_key(link) or arxiv_key(entry.get("id", "")) or arxiv_key(summary[:200])
        if key is None and not link:
            continue
        title = clean_text(entry.get("title", ""))
        if not title:
            continue
        papers.append(
            Paper(
                key=key or canonical_link(link),
                title=title,
                authors=_entry_authors(entry),
                abstract=_ARXIV_RSS_PREFIX.sub("", html_to_text(summary)),
                url=abs_url(key) if key else canonical_link(link),
                published=_entry_time(entry) or now,
                categories=tuple(t.get("term", "") for t in entry.get("tags", []) if t.get("term")),
                sources=(feed.name,),
                curated_weight=feed.weight,
            )
        )
    return papers


class _HFAuthor(BaseModel):
    name: str = ""


class _HFPaper(BaseModel):
    id: str
    title: str = ""
    summary: str = ""
    authors: list[_HFAuthor] = []
    upvotes: int = Field(0, ge=0)
    publishedAt: AwareDatetime | None = None


class _HFRow(BaseModel):
    """One entry of the daily papers API, as far as the bot reads it (other fields are ignored)."""

    paper: _HFPaper
    title: str = ""
    publishedAt: AwareDatetime | None = None


def papers_from_hf(data: Any, feed: FeedConfig) -> list[Paper]:
    """Papers from one day of the Hugging Face daily papers API (pure); a malformed entry is skipped with a warning.

    An answer that is not a list of entries is a ValueError (the caller reports the feed as failing).
    """
    if not isinstance(data, list):
        raise ValueError(f"expected a list of daily papers, got {type(data).__name__}")
    papers, skipped = [], 0
    for raw in data[: feed.max_items]:
        try:
            row = _HFRow.model_validate(raw)
            published = (row.paper.publishedAt or row.publishedAt or datetime.now(UTC)).astimezone(UTC)
        except (ValidationError, OverflowError):  # (9999-12-31T23:59:59-14:00 is past the last UTC year)
            skipped += 1
            continue
        key = arxiv_key(row.paper.id)
        if key is None:
            skipped += 1
            continue
        papers.append(
            Paper(
                key=key,
                title=row.paper.title or row.title,
                authors=tuple(a.name for a in row.paper.authors),
                abstract=row.paper.summary,
                url=abs_url(key),
                published=published,
                sources=(feed.name,),
                upvotes=row.paper.upvotes,
                hf_daily=feed.weight,
            )
        )
    if skipped:
        log.warning("feed %s: %d malformed entries skipped", feed.name, skipped)
    return papers


MAX_REDIRECTS = 3


class FeedFetchError(Exception):
    """A feed request went past a bound (time, size, redirects) or to a host it may not reach."""


@dataclass
class Fetched:
    """A bounded GET's outcome."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str


def bounded_get(client: httpx.Client, feed: FeedConfig, url: str, headers: dict[str, str] | None = None,
                params: dict[str, str] | None = None) -> Fetched:  # fmt: skip
    """GET within the feed's bounds: `timeout_seconds` for the whole request (read as a stream, so a server
    sending a byte at a time cannot hold it), `max_bytes` of body, and at most 3 redirects, each to http(s) on
    a public address — or a private / loopback one only when the feed's own URL is such (a LAN feed).
    """
    deadline = time.monotonic() + feed.timeout_seconds
    own_host_is_private = _private(urlsplit(feed.url).hostname or "")
    for _ in range(MAX_REDIRECTS + 1):
        with _stream(client, url, headers, params) as response:
            if response.is_redirect and "location" in response.headers:  # (a 304 has no location)
                target = urljoin(url, response.headers.get("location", ""))
                parts = urlsplit(target)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise FeedFetchError(f"redirect to {target[:100]!r} refused: not an http(s) link")
                if not own_host_is_private and not _public(parts.hostname):
                    raise FeedFetchError(f"redirect to {parts.hostname} refused: not a public address")
                url, params = target, None
                continue
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > feed.max_bytes:
                    raise FeedFetchError(f"more than {feed.max_bytes} bytes (sources.feeds max_bytes)")
                if time.monotonic() > deadline:
                    raise FeedFetchError(f"took longer than {feed.timeout_seconds:g} s (timeout_seconds)")
            return Fetched(response.status_code, response.headers, bytes(body), str(response.url))
    raise FeedFetchError(f"more than {MAX_REDIRECTS} redirects")


@contextmanager
def _stream(client: httpx.Client, url: str, headers: dict[str, str] | None,
            params: dict[str, str] | None) -> Iterator[httpx.Response]:  # fmt: skip
    try:
        with client.stream("GET", url, headers=headers, params=params, follow_redirects=False) as response:
            yield response
    except httpx.InvalidURL as error:  # httpx reads a redirect's Location even when it follows none
        raise FeedFetchError(f"redirect refused: not an http(s) link ({error})") from None


def _addresses(host: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses of a host name (an IP literal is its own); empty when it does not resolve."""
    try:
        return {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        try:
            return {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in socket.getaddrinfo(host, None)}
        except (OSError, ValueError):
            return set()


def _public(host: str) -> bool:
    """Whether a host resolves, and only to public addresses."""
    addresses = _addresses(host)
    return bool(addresses) and all(address.is_global for address in addresses)


def _private(host: str) -> bool:
    """Whether a host resolves to a loopback or private address (a feed on the operator's own network)."""
    return any(not address.is_global for address in _addresses(host))


# A character reference to a surrogate or past U+10FFFF makes feedparser's loose parser raise
# (UnicodeEncodeError), losing the whole feed for one character: it becomes U+FFFD, which clean_text keeps.
_CHARREF = re.compile(rb"&#([xX][0-9a-fA-F]+|[0-9]+);")


def _storable_charref(match: re.Match[bytes]) -> bytes:
    number = match.group(1)[:12]  # (a longer number is past U+10FFFF anyway)
    code = int(number[1:], 16) if number[:1] in b"xX" else int(number)
    return match.group(0) if code < 0xD800 or 0xDFFF < code <= 0x10FFFF else b"&#xFFFD;"


def parse_feed(content: bytes, content_type: str, url: str) -> Any:
    """feedparser's result for a feed's bytes, references to characters no text can hold replaced by U+FFFD."""
    import feedparser

    return feedparser.parse(
        _CHARREF.sub(_storable_charref, content),
        response_headers={"content-type": content_type, "content-location": url},
    )


def problem(error: Exception, url: str) -> str:
    """A failed fetch in the operator's words (not httpx's class names)."""
    host = urlsplit(url).hostname or url
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect to {host} ({error}): is the address right and the network up?"
    if isinstance(error, httpx.TimeoutException):
        return f"{host} did not answer in time"
    if isinstance(error, FeedFetchError | ValueError):
        return str(error)
    return f"{host}: {type(error).__name__}: {error}"


def fetch_rss(client: httpx.Client, feed: FeedConfig, etag: str | None, modified: str | None) -> FeedResult:
    """One conditional GET of an RSS / Atom feed."""
    headers = {"If-None-Match": etag} if etag else {}
    if modified:
        headers["If-Modified-Since"] = modified
    try:
        response = bounded_get(client, feed, feed.url, headers=headers)
    except (httpx.HTTPError, FeedFetchError) as error:
        return FeedResult(feed.name, error=problem(error, feed.url))
    if response.status_code == 304:
        return FeedResult(feed.name, etag=etag, modified=modified, not_modified=True)
    if response.status_code != 200:
        return FeedResult(feed.name, error=f"HTTP {response.status_code}")
    try:
        parsed = parse_feed(response.content, response.headers.get("content-type", ""), response.url)
    except Exception as error:  # feedparser's loose parser can raise on input it cannot decode
        return FeedResult(feed.name, error=f"malformed feed: {type(error).__name__}: {error}")
    if not parsed.version and not parsed.entries:
        return FeedResult(feed.name, error="not a feed (HTML or unknown format)")
    if parsed.bozo and not parsed.entries:
        return FeedResult(feed.name, error=f"malformed feed: {parsed.get('bozo_exception')}")
    if parsed.bozo:
        log.warning("feed %s: malformed XML, %d entries recovered", feed.name, len(parsed.entries))
    return FeedResult(
        feed.name,
        papers=papers_from_feed(parsed, feed, datetime.now(UTC)),
        etag=response.headers.get("etag"),
        modified=response.headers.get("last-modified"),
    )


def fetch_hf_daily(client: httpx.Client, feed: FeedConfig, week: Week) -> FeedResult:
    """The daily papers of each day of the week (so past weeks can be backfilled)."""
    result = FeedResult(feed.name)
    for day in week.days():
        try:
            response = bounded_get(client, feed, feed.url, params={"date": day.isoformat()})
            if response.status_code != 200:
                raise FeedFetchError(f"HTTP {response.status_code}")
            result.papers += papers_from_hf(json.loads(response.content), feed)
        except (httpx.HTTPError, FeedFetchError, ValueError) as error:
            return FeedResult(feed.name, error=f"{day}: {problem(error, feed.url)}")
    return result
